"""Where a message is sent, decided in one place: the only code that hands mail to local
delivery or to the outbound queue.

Every sender comes here: SMTP with what it accepted (`route`), bounces (`bounce`), and
the mail the server writes itself, vacation replies and invitations (`send_generated`).
For each message the router

- stores it for the hosted recipients (LocalDelivery, which sends nothing itself), sends
  the vacation replies delivery wrote and tells its listeners (scheduling reads iMIP)
  what was stored for whom;
- queues it for the others, DKIM-signed for the author domains its provenance vouches
  for (DMARC aligns with From:, not with the envelope);
- queues each forwarded copy (aliases, rules) with an SRS sender of the forwarding
  address's domain, so SPF passes at the destination and bounces come back, with a
  Delivered-To naming each forwarder (rules read it to stop loops).

Everything queued or stored is durable before `route` returns. A message goes from file
to file; it is read whole into memory only to be signed, one copy at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from groupware import spool
from groupware.errors import GroupwareError
from groupware.services.core.addresses import domain_of
from groupware.services.delivery.local import DeliveryReport, Forward, LocalDelivery, Resolved
from groupware.services.delivery.srs import Srs
from groupware.services.transport.dkimkeys import DkimKeys
from groupware.services.transport.mailauth import system_suffixes
from groupware.services.transport.provenance import Provenance, generated
from groupware.services.transport.queue import OutboundQueue

log = logging.getLogger(__name__)

# Told of each message stored for local users: its spool file, their addresses, and whose
# word it carries.
Listener = Callable[[Path, list[str], Provenance], None]


@dataclass(frozen=True)
class Dsn:
    """What the sender asked of delivery status notifications (RFC 3461): NOTIFY by
    recipient address, ENVID, RET=HDRS."""

    notify: dict[str, str] = field(default_factory=dict)
    envid: str | None = None
    headers_only: bool = False

    def enqueue(self, queue: OutboundQueue, path: Path, sender: str, targets: list[str]) -> None:
        queue.enqueue(
            path,
            sender,
            targets,
            notify=self.notify,
            envid=self.envid,
            headers_only=self.headers_only,
        )


class MailRouter:
    def __init__(
        self,
        local: LocalDelivery,
        queue: OutboundQueue,
        dkim: DkimKeys,
        srs: Srs,
        spool_folder: Path,
    ) -> None:
        self._local = local
        self._queue = queue
        self._dkim = dkim
        self._srs = srs
        self._spool = spool_folder
        self.on_delivered: list[Listener] = []

    @property
    def spool_folder(self) -> Path:
        """Where messages wait as files while they are sent (emptied at start-up)."""
        return self._spool

    def route(
        self,
        path: Path,
        recipients: list[Resolved],
        mail_from: str = "",
        origin: Provenance | None = None,
        dsn: Dsn | None = None,
    ) -> DeliveryReport:
        """Send the message at `path` (which stays as it is) from the envelope sender
        `mail_from` ("" for a bounce) to `recipients`; `origin` says whose word it
        carries (None: nobody's), `dsn` what the sender asked of status reports."""
        origin = origin or Provenance()
        dsn = dsn or Dsn()
        report = self._local.deliver(path, [r for r in recipients if r.hosted], mail_from)
        replied = []
        for reply in report.replies:  # remembered as sent: they go out now, first
            try:
                self.send_generated(reply.author, reply.recipient, reply.data)
                replied.append(reply.author)
            except Exception:  # the message is stored already; a reply is a courtesy
                log.exception("auto-reply of %s to <%s> failed", reply.author, reply.recipient)
        if report.stored_for:
            for listener in self.on_delivered:
                try:
                    listener(path, list(report.stored_for), origin)
                except Exception:  # the message is stored; a failed follow-up is logged
                    log.exception("delivery listener failed")
        remote = [r.address for r in recipients if not r.hosted]
        if remote:
            self._enqueue(path, b"", origin.signers, mail_from, remote, dsn)
        self._forward(path, mail_from, report.forwards, dsn, origin)
        return replace(report, replied=tuple(replied))

    def send_generated(self, author: str, recipient: str, data: bytes, mail_from: str = "") -> bool:
        """Send `data`, written by the server for `author` (a local user, its From:, whose
        domain signs), to `recipient`; False when the recipient cannot be reached (an
        unknown local address). A local recipient's rules apply as to any mail."""
        return self._send_written("generated-", recipient, data, mail_from, generated(author))

    def bounce(self, sender: str, report: bytes) -> None:
        """Send a delivery status notification to `sender` with the null sender (a bounce
        is never bounced); dropped, with a warning, when `sender` is a local address that
        does not exist."""
        if not self._send_written("dsn-", sender, report, "", Provenance()):
            log.warning("bounce to <%s> dropped: no such local recipient", sender)

    def _send_written(
        self, prefix: str, recipient: str, data: bytes, mail_from: str, origin: Provenance
    ) -> bool:
        path, out = spool.create(self._spool, prefix)
        try:
            with out:
                out.write(data)
            try:
                target = self._local.resolve(recipient)
            except GroupwareError as error:
                log.info("mail to <%s> dropped: %s", recipient, error)
                return False
            self.route(path, [target], mail_from, origin)
            return True
        finally:
            path.unlink(missing_ok=True)

    def _forward(
        self,
        path: Path,
        mail_from: str,
        forwards: tuple[Forward, ...],
        dsn: Dsn,
        origin: Provenance,
    ) -> None:
        """Queue forwarded copies with an SRS sender of the forwarding address's domain
        (delivery.resolve reverses it), named in Delivered-To and DKIM-signed as
        `Provenance.forward_signers` says."""
        groups: dict[str, list[Forward]] = {}
        for forward in forwards:
            sender = self._srs.forward_sender(mail_from, domain_of(forward.recipient))
            groups.setdefault(sender, []).append(forward)
        for sender, group in groups.items():
            forwarders = dict.fromkeys(f.recipient for f in group)
            marks = "".join(f"Delivered-To: {r}\r\n" for r in forwarders).encode()
            domain = domain_of(sender) if sender else ""
            signers = origin.forward_signers(domain, system_suffixes())
            # RFC 3461 §6.2: a forwarded copy keeps the NOTIFY of the address it came to.
            kept = {f.target: dsn.notify[f.recipient] for f in group if f.recipient in dsn.notify}
            copy_dsn = replace(dsn, notify=kept)
            self._enqueue(path, marks, signers, sender, [f.target for f in group], copy_dsn)

    def _enqueue(
        self,
        path: Path,
        marks: bytes,
        signers: tuple[str, ...],
        sender: str,
        targets: list[str],
        dsn: Dsn,
    ) -> None:
        """Queue the message at `path` with `marks` on top, DKIM-signed for the domains
        `signers` we hold keys of; `path` itself stays as it is, for the next copy."""
        if not marks and not signers:
            dsn.enqueue(self._queue, path, sender, targets)
            return
        copy = spool.copy_with(self._spool, marks, path)
        try:
            if signers:
                data = copy.read_bytes()
                header = self._dkim.signatures(data, signers)
                del data  # before the copy below: one message in memory at a time
                if header:
                    spool.prepend(copy, header)
            dsn.enqueue(self._queue, copy, sender, targets)
        finally:
            copy.unlink(missing_ok=True)
