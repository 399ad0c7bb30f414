"""Mail the server writes itself (auto-replies, invitations): to a local recipient through
delivery (their rules apply), elsewhere through the queue, DKIM-signed for the sender's
domain. The caller gives the finished message bytes."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from groupware.errors import GroupwareError
from groupware.services.core.addresses import domain_of
from groupware.services.transport.dkimkeys import DkimKeys
from groupware.services.transport.provenance import generated
from groupware.services.transport.queue import OutboundQueue

if TYPE_CHECKING:
    from groupware.services.delivery.local import LocalDelivery

log = logging.getLogger(__name__)


def send_generated(
    delivery: LocalDelivery,
    queue: OutboundQueue,
    dkim: DkimKeys,
    spool_dir: Path,
    *,
    author: str,
    recipient: str,
    data: bytes,
    mail_from: str = "",
) -> bool:
    """Send `data` from `author` (a local user, the From: of `data`, whose domain signs) to
    `recipient`; False when the recipient cannot be reached (an unknown local address)."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=spool_dir, prefix="generated-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            target = delivery.resolve(recipient)
        except GroupwareError as error:
            log.info("generated mail to <%s> dropped: %s", recipient, error)
            return False
        outside = [target.address]
        if target.hosted:
            report = delivery.deliver(path, [target], mail_from, generated(author))
            outside = [forward.target for forward in report.forwards]
        if outside:
            signature = dkim.signature(data, domain_of(author))
            if signature:
                path.write_bytes(signature + data)
            queue.enqueue(path, mail_from, outside)
        return True
    finally:
        path.unlink(missing_ok=True)
