"""What becomes of a message once DATA has it in a spool file: who it is from (the author
check of submission, or SPF, DKIM and DMARC for mail from outside), and the copy with the
trace fields on top that goes to the router (services/delivery/route.py), which stores,
queues, forwards and signs it.

Runs in the services' thread pool (SMTPHandler.handle_DATA calls `Acceptance.accept`).
The message goes from file to file; it is read whole into memory only where a library
needs its bytes (DKIM verification), one at a time.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Any

from groupware import spool
from groupware.protocols.smtp import statuses
from groupware.services import Services
from groupware.services.auth.login import Login
from groupware.services.delivery.local import DeliveryReport, Resolved
from groupware.services.delivery.route import Dsn
from groupware.services.transport import provenance
from groupware.services.transport.mailauth import AuthVerdict, system_suffixes, verify_inbound
from groupware.services.transport.provenance import Provenance

log = logging.getLogger(__name__)

# aiosmtpd hands MAIL FROM:<> over as "<>" and needs envelope.mail_from truthy for RCPT.
NULL_SENDER = "<>"


class Acceptance:
    def __init__(self, hostname: str, services: Services, spool_folder: Path) -> None:
        self.hostname = hostname
        self.services = services
        self.spool = spool_folder

    def accept(
        self, session: Any, envelope: Any, raw: Path, received: bytes
    ) -> DeliveryReport | None:
        """Establish who the message at `raw` is from, then store it with `received` (and
        our Authentication-Results) on top (None: refused by DMARC).

        Every authenticated client (the MX takes no logins) must name only addresses it
        owns in From: and Sender:, as in MAIL FROM; mail from outside gets SPF, DKIM and
        DMARC verdicts, recorded in Authentication-Results. What either proves travels
        with the message as its Provenance. `raw` stays as it is (its owner removes it);
        the stored copy is made beside it and removed here.
        """
        with raw.open("rb") as source:
            head = spool.read_head(source)
            if session.authenticated:
                login: Login = session.auth_data
                authors = self.services.submission.check_authors(login.principal, head)
                origin = provenance.submitted(reverse_path(envelope), authors)
                prefix = received + head
            else:
                source.seek(0)
                verdict = self._verify(session, envelope, source.read())
                if verdict.reject:
                    return None
                prefix = b"".join(
                    (
                        verdict.authentication_results_header(),
                        received,
                        strip_own_results(head, self.hostname),
                    )
                )
                origin = provenance.from_outside(verdict, head, self.services.delivery.hosts)
            stored, out = spool.create(self.spool)
            try:
                with out:
                    spool.write_copy(out, prefix, source, len(head))
                return self._store(stored, envelope, list(envelope.resolved), origin)
            finally:
                stored.unlink(missing_ok=True)

    def _verify(self, session: Any, envelope: Any, content: bytes) -> AuthVerdict:
        """SPF, DKIM and DMARC of mail from outside (RFC 7208, 6376, 7489)."""
        return verify_inbound(
            content,
            client_ip=session.peer[0] if session.peer else "",
            helo=session.host_name or "",
            mail_from=reverse_path(envelope),
            resolver=self.services.resolver,
            hostname=self.hostname,
            suffixes=system_suffixes(),
        )

    def _store(
        self, path: Path, envelope: Any, recipients: list[Resolved], origin: Provenance
    ) -> DeliveryReport:
        """Route the message (stored and queued, each durable before this returns)."""
        mail_from = reverse_path(envelope)
        dsn = Dsn(envelope.notify, envelope.dsn_envid, envelope.dsn_ret_headers)
        report = self.services.router.route(path, recipients, mail_from, origin, dsn)
        if report.over_quota and (report.accepted or any(not r.hosted for r in recipients)):
            # RFC 5321 §6.1: taken for some recipients, so the full mailboxes are
            # reported to the sender rather than refused to the client (a retry would
            # duplicate the copies already stored, so a failed report is only logged).
            try:
                self.services.bounces.report(
                    mail_from,
                    path.read_bytes(),
                    [(user, self.hostname, statuses.MAILBOX_FULL) for user in report.over_quota],
                    envid=dsn.envid,
                    headers_only=dsn.headers_only,
                )
            except Exception:
                log.exception("report of full mailboxes to <%s> failed", mail_from)
            report = dataclasses.replace(report, over_quota=(), too_big=())
        return report


def reverse_path(envelope: Any) -> str:
    """The envelope sender, "" for the null reverse-path (a bounce, RFC 5321 §4.5.5)."""
    mail_from: str = envelope.mail_from or ""
    return "" if mail_from == NULL_SENDER else mail_from


def strip_own_results(head: bytes, hostname: str) -> bytes:
    """Drop Authentication-Results fields claiming to be ours from a header section (RFC
    8601 §5): only we may vouch for checks done here."""
    end = head.find(b"\r\n\r\n")
    fields_part, rest = (head[: end + 2], head[end + 2 :]) if end >= 0 else (head, b"")
    fields = re.split(rb"\r\n(?![ \t])", fields_part)
    mine = re.compile(
        rb"^authentication-results:\s*" + re.escape(hostname.encode()) + rb"\b", re.IGNORECASE
    )
    kept = [f for f in fields if not mine.match(f)]
    return b"\r\n".join(kept) + rest if kept != fields else head
