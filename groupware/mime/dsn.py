"""Delivery status notifications (RFC 3464 multipart/report) for mail that could not be
delivered: a text part, the machine-readable status, and the original (or its headers).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def status_code(reply: str) -> str:
    """The RFC 3463 status of an SMTP reply, or a generic one from its class."""
    found = STATUS.search(reply)
    if found:
        return ".".join(found.groups())
    return "5.0.0" if reply.startswith("5") else "4.4.1"  # 4.4.1: no answer from host


def compose_dsn(
    *,
    reporting_mta: str,
    sender: str,
    original: bytes,
    failures: list[tuple[str, str, str]],
    envid: str | None = None,
    headers_only: bool = False,
    now: datetime | None = None,
) -> bytes:
    """The report for `failures` [(recipient, remote host, last reply)] to `sender`.

    Sent with the null reverse path by the caller, so it is never bounced itself.
    """
    now = now or datetime.now(UTC)
    boundary = f"=_report_{secrets.token_hex(12)}"
    header_end = original.find(b"\r\n\r\n")
    original_headers = original[: header_end + 2] if header_end >= 0 else original
    text = (
        f"This is the mail system at {reporting_mta}.\r\n\r\n"
        "Your message could not be delivered to the following recipients:\r\n\r\n"
        + "".join(
            f"  <{rcpt}>: {_one_line(reply) or 'no answer'}\r\n" for rcpt, _host, reply in failures
        )
    )
    fields = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid:
        fields.append(f"Original-Envelope-Id: {_one_line(envid)}")
    fields.append(f"Arrival-Date: {format_datetime(now)}")
    per_recipient = []
    for rcpt, host, reply in failures:
        lines = [
            f"Final-Recipient: rfc822; {rcpt}",
            "Action: failed",
            f"Status: {status_code(reply)}",
        ]
        if host:
            lines.append(f"Remote-MTA: dns; {host}")
        if reply:
            lines.append(f"Diagnostic-Code: smtp; {_one_line(reply)}")
        per_recipient.append("\r\n".join(lines))
    status = "\r\n".join(fields) + "\r\n\r\n" + "\r\n\r\n".join(per_recipient) + "\r\n"
    returned_type = "text/rfc822-headers" if headers_only else "message/rfc822"
    returned = original_headers if headers_only else original
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
        f"To: <{sender}>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: <{secrets.token_hex(12)}@{reporting_mta}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\n'
        "\r\n"
    )
    parts = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status}\r\n"
        f"--{boundary}\r\nContent-Type: {returned_type}\r\n\r\n"
    )
    return head.encode() + parts.encode() + returned + f"\r\n--{boundary}--\r\n".encode()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:900]
