"""aiosmtpd hooks turned into service calls: who may send, to whom, and storing DATA.

One handler serves one listener kind ("mx", "submission"); the policy differences
between them are the few `self.kind` tests below. Replies come from statuses.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

from groupware.blocking import Blocking
from groupware.errors import GroupwareError, TryLater
from groupware.protocols.smtp import statuses
from groupware.services import Services, provenance
from groupware.services.addresses import domain_of, normalize_address
from groupware.services.auth import Login
from groupware.services.delivery import DeliveryReport, Forward, MailboxDisabled, Resolved
from groupware.services.mailauth import AuthVerdict, PublicSuffixList, verify_inbound
from groupware.services.provenance import Provenance
from groupware.services.srs import SrsRefused, is_srs
from groupware.services.submission import AuthorNotOwned, AuthorUnreadable

log = logging.getLogger(__name__)

# aiosmtpd hands MAIL FROM:<> over as "<>" and needs envelope.mail_from truthy for RCPT.
NULL_SENDER = "<>"


def has_bare_line_ending(content: bytes) -> bool:
    """RFC 5321 §2.3.8: lines end in CRLF; a bare CR or LF is how SMTP smuggling (2023)
    slips a second message past a filter, so such messages are refused outright."""
    pairs = content.count(b"\r\n")
    return content.count(b"\r") != pairs or content.count(b"\n") != pairs


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
        self._suffixes: PublicSuffixList | Literal[False] | None = None  # loaded once

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
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or b""
        if has_bare_line_ending(content):
            return statuses.BARE_LINE_ENDING
        if not envelope.resolved:
            return statuses.NO_RECIPIENTS
        queue_id = secrets.token_hex(6)
        received = self._received(session, envelope, queue_id)
        try:
            # One trip to the pool: checks, then storing (each hop costs thread hand-offs).
            report = await self.blocking.call(self._accept, session, envelope, content, received)
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

    def _store(
        self, data: bytes, envelope: Any, recipients: list[Resolved], origin: Provenance
    ) -> DeliveryReport:
        """Spool to disk; deliver locally and queue the rest (each durable before this
        returns); remove the spool file."""
        self.spool.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.spool, prefix="smtp-")
        path = Path(name)
        mail_from = reverse_path(envelope)
        dsn = {"envid": envelope.dsn_envid, "headers_only": envelope.dsn_ret_headers}
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            local = [r for r in recipients if r.hosted]
            report = self.services.delivery.deliver(path, local, mail_from, origin)
            remote = [r.address for r in recipients if not r.hosted]
            if remote:  # only for authenticated clients: relaying is refused at RCPT
                self._sign(path, origin.signers)
                self.services.queue.enqueue(path, mail_from, remote, notify=envelope.notify, **dsn)
            self._forward(path, data, mail_from, report.forwards, envelope.notify, dsn, origin)
            if report.over_quota and (report.accepted or remote):
                # RFC 5321 §6.1: taken for some recipients, so the full mailboxes are
                # reported to the sender rather than refused to the client (a retry would
                # duplicate the copies already stored).
                self.services.bounces.report(
                    mail_from,
                    data,
                    [(user, self.hostname, statuses.MAILBOX_FULL) for user in report.over_quota],
                    envid=envelope.dsn_envid,
                    headers_only=envelope.dsn_ret_headers,
                )
                report = dataclasses.replace(report, over_quota=(), too_big=())
            return report
        finally:
            path.unlink(missing_ok=True)

    def _forward(
        self,
        path: Path,
        data: bytes,
        mail_from: str,
        forwards: tuple[Forward, ...],
        notify: dict[str, str],
        dsn: dict[str, Any],
        origin: Provenance,
    ) -> None:
        """Queue forwarded copies with an SRS sender of the forwarding address's domain, so
        SPF passes at the destination and bounces come back (delivery.resolve reverses it).
        Each copy names its forwarders in Delivered-To, which rules read to stop loops,
        and is DKIM-signed as `Provenance.forward_signers` says."""
        groups: dict[str, list[Forward]] = {}
        for forward in forwards:
            sender = self.services.srs.forward_sender(mail_from, domain_of(forward.recipient))
            groups.setdefault(sender, []).append(forward)
        for sender, group in groups.items():
            forwarders = dict.fromkeys(f.recipient for f in group)
            marks = "".join(f"Delivered-To: {r}\r\n" for r in forwarders)
            path.write_bytes(marks.encode() + data)
            domain = domain_of(sender) if sender else ""
            self._sign(path, origin.forward_signers(domain, self._suffixes or None))
            # RFC 3461 §6.2: a forwarded copy keeps the NOTIFY of the address it came to.
            kept = {f.target: notify[f.recipient] for f in group if f.recipient in notify}
            targets = [f.target for f in group]
            self.services.queue.enqueue(path, sender, targets, notify=kept, **dsn)

    def _accept(
        self, session: Any, envelope: Any, content: bytes, received: bytes
    ) -> DeliveryReport | None:
        """Establish who the message is from, then store it (None: refused by DMARC).

        Every authenticated client (the MX takes no logins) must name only addresses it
        owns in From: and Sender:, as in MAIL FROM; mail from outside gets SPF, DKIM and
        DMARC verdicts, recorded in Authentication-Results. What either proves travels
        with the message as its Provenance.
        """
        if session.authenticated:
            login: Login = session.auth_data
            authors = self.services.submission.check_authors(login.principal, content)
            origin = provenance.submitted(reverse_path(envelope), authors)
        else:
            verdict = self._verify(session, envelope, content)
            if verdict.reject:
                return None
            content = strip_own_results(content, self.hostname)
            received = verdict.authentication_results_header() + received
            origin = provenance.from_outside(verdict, content, self.services.delivery.hosts)
        return self._store(received + content, envelope, list(envelope.resolved), origin)

    def _verify(self, session: Any, envelope: Any, content: bytes) -> AuthVerdict:
        """SPF, DKIM and DMARC of mail from outside (RFC 7208, 6376, 7489)."""
        if self._suffixes is None:
            self._suffixes = PublicSuffixList.load() or False
        return verify_inbound(
            content,
            client_ip=session.peer[0] if session.peer else "",
            helo=session.host_name or "",
            mail_from=reverse_path(envelope),
            resolver=self.services.resolver,
            hostname=self.hostname,
            suffixes=self._suffixes or None,
        )

    def _sign(self, path: Path, domains: tuple[str, ...]) -> None:
        """DKIM-sign mail leaving for other domains with the keys of `domains` we hold
        (the From: domains: DMARC aligns with From:, not with the envelope)."""
        if not domains:
            return
        data = path.read_bytes()
        header = self.services.dkim.signatures(data, domains)
        if header:
            path.write_bytes(header + data)

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


def reverse_path(envelope: Any) -> str:
    """The envelope sender, "" for the null reverse-path (a bounce, RFC 5321 §4.5.5)."""
    mail_from: str = envelope.mail_from or ""
    return "" if mail_from == NULL_SENDER else mail_from


def strip_own_results(content: bytes, hostname: str) -> bytes:
    """Drop Authentication-Results fields claiming to be ours (RFC 8601 §5): only we
    may vouch for checks done here."""
    end = content.find(b"\r\n\r\n")
    head, body = (content[: end + 2], content[end + 2 :]) if end >= 0 else (content, b"")
    fields = re.split(rb"\r\n(?![ \t])", head)
    mine = re.compile(
        rb"^authentication-results:\s*" + re.escape(hostname.encode()) + rb"\b", re.IGNORECASE
    )
    kept = [f for f in fields if not mine.match(f)]
    return b"\r\n".join(kept) + body if kept != fields else content


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-:\[\]_]", "?", text)[:255]
