"""aiosmtpd hooks turned into service calls: who may send, to whom, and handing the
spooled DATA over to accept.py.

One handler serves one listener kind ("mx", "submission"); the policy differences
between them are the few `self.kind` tests below. Replies come from statuses.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from groupware.blocking import Blocking
from groupware.errors import GroupwareError, TryLater
from groupware.protocols.smtp import statuses
from groupware.protocols.smtp.accept import NULL_SENDER, Acceptance
from groupware.services import Services
from groupware.services.auth.login import Login
from groupware.services.core.addresses import normalize_address
from groupware.services.delivery.local import MailboxDisabled, Resolved
from groupware.services.delivery.srs import SrsRefused, is_srs
from groupware.services.transport.submission import AuthorNotOwned, AuthorUnreadable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_recipients: int = 100
    max_message_bytes: int = 50 * 1024 * 1024


class SMTPHandler:
    def __init__(
        self,
        kind: str,
        hostname: str,
        services: Services,
        blocking: Blocking,
        spool: Path,
        limits: Limits,
    ) -> None:
        self.kind = kind
        self.hostname = hostname
        self.services = services
        self.blocking = blocking
        self.spool = spool
        self.limits = limits
        self.acceptance = Acceptance(hostname, services, spool)

    # RFC 5321 §4.1.1.1 EHLO; RFC 2920 PIPELINING, RFC 2034 ENHANCEDSTATUSCODES
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        extras = ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-DSN"]
        offered = [r for r in responses[1:] if not (self.kind == "mx" and r.startswith("250-AUTH"))]
        return [responses[0], *extras, *offered]

    # RFC 5321 §4.1.1.2 MAIL
    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        login: Login | None = session.auth_data if session.authenticated else None
        if self.kind == "submission" and login is None:
            return statuses.AUTH_REQUIRED
        if address and address != NULL_SENDER:
            try:
                normalize_address(address)
            except GroupwareError:
                return statuses.BAD_SENDER
        if login is not None and not await self._may_send_as(login, address):
            return statuses.SENDER_NOT_OWNED
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        envelope.resolved = []
        envelope.notify = {}
        # RFC 3461 §4.3-4.4 (deviation: aiosmtpd upper-cases the options, so ENVID's
        # case is not kept).
        envelope.dsn_ret_headers = _option(options, "RET") == "HDRS"
        envelope.dsn_envid = _option(options, "ENVID")
        return statuses.OK_SENDER

    async def _may_send_as(self, login: Login, address: str) -> bool:
        """An authenticated sender uses an address it owns (never the null sender)."""
        if not address or address == NULL_SENDER:
            return False
        allowed: bool = await self.blocking.call(
            self.services.submission.may_send_as, login.principal, address
        )
        return allowed

    # RFC 5321 §4.1.1.3 RCPT
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            return statuses.TOO_MANY_RECIPIENTS
        peer = session.peer[0] if session.peer else ""
        try:
            resolved, full = await self.blocking.call(self._recipient, address, peer)
        except SrsRefused as refused:
            await asyncio.sleep(refused.retry_after)  # the throttle's back-off, off the loop
            return statuses.SRS_REFUSED
        except TryLater:
            return statuses.SRS_THROTTLED
        except MailboxDisabled:
            return statuses.MAILBOX_DISABLED
        except GroupwareError as error:
            return statuses.reply_for(error)
        if not resolved.hosted and not session.authenticated:
            return statuses.RELAY_DENIED
        if full and len(full) == len(resolved.local) and not resolved.external:
            return statuses.MAILBOX_FULL
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        notify = _option(options, "NOTIFY")
        if notify is not None:  # RFC 3461 §4.1: NEVER, or some of SUCCESS,FAILURE,DELAY
            envelope.notify[resolved.address] = notify
        envelope.resolved.append(resolved)
        return statuses.OK_RECIPIENT

    def _recipient(self, address: str, peer_ip: str) -> tuple[Resolved, list[str]]:
        """Where the address leads, and which of its users' mailboxes are full (one hop).

        A bad SRS address of ours counts against the client address (on a throttle key of
        its own, so logins are never locked by it), and a client locked out gets TryLater
        for SRS addresses: guessing a hash that relays to
        the guesser's own address stays out of reach. Other recipients are not held back,
        so a mail server whose late bounces found expired addresses still delivers mail.
        """
        srs = self.services.srs
        if is_srs(address):
            srs.check_client(peer_ip)
        try:
            resolved = self.services.delivery.resolve(address)
        except SrsRefused as refused:
            raise SrsRefused(str(refused), srs.count_refusal(peer_ip)) from None
        return resolved, self.services.delivery.full_mailboxes(resolved)

    # RFC 5321 §4.1.1.4 DATA
    async def handle_DATA(self, server: Any, session: Any, envelope: Any, spooled: Path) -> str:
        """Accept the message GroupwareSMTP.smtp_DATA spooled (a file it removes once this
        returns), off the loop."""
        if not envelope.resolved:
            return statuses.NO_RECIPIENTS
        queue_id = secrets.token_hex(6)
        received = self._received(session, envelope, queue_id)
        try:
            # One trip to the pool: checks, then storing (each hop costs thread hand-offs).
            report = await self.blocking.call(
                self.acceptance.accept, session, envelope, spooled, received
            )
        except AuthorNotOwned:
            return statuses.AUTHOR_NOT_OWNED
        except AuthorUnreadable:
            return statuses.AUTHOR_UNREADABLE
        except GroupwareError as error:
            log.warning("delivery %s failed: %s", queue_id, error)
            return statuses.reply_for(error)
        except Exception:
            log.exception("delivery %s failed", queue_id)
            return statuses.LOCAL_ERROR
        if report is None:
            return statuses.DMARC_REJECT
        if report.over_quota and not report.accepted:
            if set(report.too_big) == set(report.over_quota):
                return statuses.TOO_BIG_FOR_MAILBOX  # deleting mail would not make room
            return statuses.MAILBOX_FULL
        log.info(
            "message %s from <%s> delivered to %d mailbox(es)",
            queue_id,
            envelope.mail_from,
            len(report.delivered),
        )
        return f"250 2.0.0 OK: queued as {queue_id}"

    def _received(self, session: Any, envelope: Any, queue_id: str) -> bytes:
        """RFC 5321 §4.4 trace header (and RFC 3848 protocol names)."""
        peer = session.peer[0] if session.peer else "unknown"
        helo = _clean(session.host_name or "unknown")
        protocol = "ESMTP"
        if session.ssl is not None:
            protocol += "S"
        if session.authenticated:
            protocol += "A"
        recipient = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
        return (
            f"Received: from {helo} ([{peer}])\r\n\tby {self.hostname} (groupware) with "
            f"{protocol} id {queue_id}{recipient};\r\n\t{format_datetime(datetime.now(UTC))}\r\n"
        ).encode()


def _option(options: list[str], name: str) -> str | None:
    """The value of NAME=value among MAIL/RCPT options (already upper-cased)."""
    for option in options:
        key, _, value = option.partition("=")
        if key.upper() == name:
            return value
    return None


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-:\[\]_]", "?", text)[:255]
