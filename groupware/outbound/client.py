"""One SMTP transaction to one remote host with aiosmtplib: STARTTLS when offered, and
a reply per recipient, so the queue can record each recipient's fate.

TLS here is opportunistic (RFC 3207 without verification, as most MTAs do); MTA-STS and
DANE are not applied yet.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiosmtplib


class ConnectionFailed(Exception):
    """No SMTP conversation with the host: every recipient is retried later."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str


async def send(
    host: str,
    port: int,
    *,
    helo: str,
    mail_from: str,
    recipients: list[str],
    data: bytes,
    timeout: float,
) -> dict[str, Reply]:
    """The reply to each recipient (the DATA reply for those RCPT accepted)."""
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        timeout=timeout,
        local_hostname=helo,
        start_tls=False,
        use_tls=False,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as error:
        raise ConnectionFailed(f"{host}:{port}: {error}") from None
    try:
        return await _transaction(client, mail_from, recipients, data)
    except aiosmtplib.SMTPServerDisconnected as error:
        raise ConnectionFailed(f"{host}:{port}: {error}") from None
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def _transaction(
    client: aiosmtplib.SMTP, mail_from: str, recipients: list[str], data: bytes
) -> dict[str, Reply]:
    await client.ehlo()
    if client.supports_extension("starttls"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # opportunistic: better than clear text
        await client.starttls(tls_context=context)
        await client.ehlo()
    try:
        await client.mail(mail_from)
    except aiosmtplib.SMTPResponseException as refused:
        return {r: Reply(refused.code, refused.message) for r in recipients}
    replies: dict[str, Reply] = {}
    accepted: list[str] = []
    for recipient in recipients:
        try:
            await client.rcpt(recipient)
            accepted.append(recipient)
        except aiosmtplib.SMTPResponseException as refused:
            replies[recipient] = Reply(refused.code, refused.message)
    if accepted:
        try:
            response = await client.data(data)
            outcome = Reply(response.code, response.message)
        except aiosmtplib.SMTPResponseException as refused:
            outcome = Reply(refused.code, refused.message)
        replies.update({r: outcome for r in accepted})
    return replies
