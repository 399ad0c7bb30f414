"""Sending a delivery status notification (RFC 3464) back to a sender: into a local
mailbox when we host the sender, else through the queue with the null sender.

Used by the outbound worker (remote failures) and SMTP (local mailboxes full); the report
bytes come from mime/dsn.py. Never a bounce for a bounce (RFC 5321 §4.5.5).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from groupware.errors import GroupwareError
from groupware.mime.dsn import compose_dsn
from groupware.services.delivery.local import LocalDelivery
from groupware.services.transport.queue import OutboundQueue

log = logging.getLogger(__name__)


class Bounces:
    def __init__(
        self, delivery: LocalDelivery, queue: OutboundQueue, hostname: str, spool: Path
    ) -> None:
        self._delivery = delivery
        self._queue = queue
        self.hostname = hostname
        self.spool = spool

    def report(
        self,
        sender: str,
        original: bytes,
        failures: list[tuple[str, str, str]],
        *,
        envid: str | None = None,
        headers_only: bool = False,
    ) -> None:
        """Tell `sender` that `failures` [(recipient, remote host, reply)] failed."""
        if not sender:
            return  # the null sender: a bounce is never bounced
        report = compose_dsn(
            reporting_mta=self.hostname,
            sender=sender,
            original=original,
            failures=failures,
            envid=envid,
            headers_only=headers_only,
        )
        self._send(sender, report)

    def _send(self, sender: str, report: bytes) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.spool, prefix="dsn-", delete=False) as handle:
            handle.write(report)
            path = Path(handle.name)
        try:
            try:
                recipient = self._delivery.resolve(sender)
            except GroupwareError:
                log.warning("bounce to <%s> dropped: no such local recipient", sender)
                return
            if recipient.hosted:
                # A forwarded message's bounce: its SRS sender leads on to the original.
                delivered = self._delivery.deliver(path, [recipient])
                onward = [forward.target for forward in delivered.forwards]
                if onward:
                    self._queue.enqueue(path, "", onward)
            else:
                self._queue.enqueue(path, "", [sender])
        finally:
            path.unlink(missing_ok=True)
