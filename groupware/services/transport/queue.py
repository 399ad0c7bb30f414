"""The outbound queue: durable enqueue, claiming due recipients, recording results with
back-off, and finding what must bounce. The worker in outbound/ drives it.

Per-recipient state: queued → sent, or → failed (permanent, or expired). A message whose
recipients are all final and reported is removed, and its blob collected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from groupware.config import OutboundConfig
from groupware.errors import NotFound
from groupware.model.base import utcnow
from groupware.model.mail import Blob
from groupware.model.queue import OutboundMessage, OutboundRecipient
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of
from groupware.store import Database
from groupware.store.blobs import BlobStore

QUEUE = Resource("queue", "outbound")
CLAIM_SECONDS = 600  # a claimed recipient is due again if its worker vanished


@dataclass(frozen=True)
class Job:
    """One message to one domain: what a worker delivers in one SMTP transaction."""

    message_id: int
    blob_id: str
    mail_from: str
    domain: str
    recipients: tuple[tuple[int, str], ...]  # (recipient id, address)


@dataclass(frozen=True)
class AttemptResult:
    """What one delivery attempt did for one recipient (the outbound worker reports it)."""

    recipient_id: int
    code: int  # SMTP reply code; 0 for a connection failure
    reply: str
    host: str = ""


@dataclass(frozen=True)
class QueuedRecipient:
    id: int
    address: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_reply: str


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    mail_from: str
    created_at: datetime
    expires_at: datetime
    size: int
    recipients: tuple[QueuedRecipient, ...]


@dataclass(frozen=True)
class Bounce:
    """Failed recipients of one message, to be reported to its sender (RFC 3464)."""

    message_id: int
    blob_id: str
    mail_from: str
    envid: str | None
    headers_only: bool
    failures: tuple[tuple[str, str, str], ...]  # (address, remote host, last reply)


class OutboundQueue:
    def __init__(self, database: Database, blobs: BlobStore, config: OutboundConfig) -> None:
        self._db = database
        self._blobs = blobs
        self.config = config

    def enqueue(
        self,
        spool: Path,
        mail_from: str,
        recipients: list[str],
        *,
        envid: str | None = None,
        headers_only: bool = False,
        notify: dict[str, str] | None = None,
    ) -> int:
        """Store the message durably for `recipients`; returns the queue id. `notify` is
        RFC 3461 NOTIFY per recipient ("NEVER" or e.g. "FAILURE,DELAY")."""
        notify = notify or {}
        now = utcnow()
        with self._blobs.stored(spool) as blob, self._db.write() as session:
            blob.record(session)
            message = OutboundMessage(
                blob_id=blob.id,
                mail_from=mail_from,
                envid=envid,
                ret_headers_only=headers_only,
                created_at=now,
                expires_at=now + timedelta(seconds=self.config.retry_for),
            )
            session.add(message)
            session.flush()
            session.add_all(
                OutboundRecipient(
                    message_id=message.id,
                    address=r,
                    domain=domain_of(r),
                    next_attempt_at=now,
                    notify=notify.get(r, "")[:40],
                )
                for r in sorted(set(recipients))
            )
            return message.id

    def claim_due(self, limit: int = 50) -> list[Job]:
        """Due recipients grouped by message and domain, pushed ahead so no other worker
        takes them meanwhile (and due again if this one dies)."""
        now = utcnow()
        with self._db.write() as session:
            rows = session.execute(
                select(
                    OutboundRecipient.id,
                    OutboundRecipient.address,
                    OutboundRecipient.domain,
                    OutboundMessage.id,
                    OutboundMessage.blob_id,
                    OutboundMessage.mail_from,
                )
                .join(OutboundMessage, OutboundMessage.id == OutboundRecipient.message_id)
                .where(
                    OutboundRecipient.state == "queued", OutboundRecipient.next_attempt_at <= now
                )
                .order_by(OutboundRecipient.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboundRecipient)
            ).all()
            ids = [r[0] for r in rows]
            if ids:
                session.execute(
                    update(OutboundRecipient)
                    .where(OutboundRecipient.id.in_(ids))
                    .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                )
        jobs: dict[tuple[int, str], list[tuple[int, str]]] = {}
        meta: dict[int, tuple[str, str]] = {}
        for rid, address, domain, mid, blob_id, mail_from in rows:
            jobs.setdefault((mid, domain), []).append((rid, address))
            meta[mid] = (blob_id, mail_from)
        return [
            Job(mid, meta[mid][0], meta[mid][1], domain, tuple(rcpts))
            for (mid, domain), rcpts in jobs.items()
        ]

    def record(self, outcomes: list[AttemptResult]) -> None:
        """Sent on 2xx; failed on 5xx or once expired; otherwise retried with back-off."""
        now = utcnow()
        with self._db.write() as session:
            for outcome in outcomes:
                row = session.get(OutboundRecipient, outcome.recipient_id)
                if row is None or row.state != "queued":
                    continue
                message = session.get(OutboundMessage, row.message_id)
                row.attempts += 1
                row.last_attempt_at = now
                row.last_reply = outcome.reply[:1000]
                row.remote_host = outcome.host[:255]
                if 200 <= outcome.code < 300:
                    row.state = "sent"
                elif 500 <= outcome.code < 600 or (message and now >= message.expires_at):
                    row.state = "failed"
                else:
                    row.next_attempt_at = now + timedelta(seconds=self._delay(row.attempts))

    def _delay(self, attempts: int) -> int:
        return int(
            min(self.config.max_retry_interval, self.config.first_retry * 2 ** max(0, attempts - 1))
        )

    def bounces_due(self) -> list[Bounce]:
        """Failed recipients not yet reported, by message (never for a bounce: no sender)."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    OutboundMessage.id,
                    OutboundMessage.blob_id,
                    OutboundMessage.mail_from,
                    OutboundMessage.envid,
                    OutboundMessage.ret_headers_only,
                    OutboundRecipient.address,
                    OutboundRecipient.remote_host,
                    OutboundRecipient.last_reply,
                )
                .join(OutboundRecipient, OutboundRecipient.message_id == OutboundMessage.id)
                .where(
                    OutboundRecipient.state == "failed",
                    OutboundRecipient.reported.is_(False),
                    # RFC 3461 §4.1: a failure is reported unless NOTIFY leaves it out
                    (OutboundRecipient.notify == "") | OutboundRecipient.notify.contains("FAILURE"),
                )
                .order_by(OutboundMessage.id)
            ).all()
        bounces: dict[int, Bounce] = {}
        for mid, blob_id, mail_from, envid, hdrs, address, host, reply in rows:
            found = bounces.get(mid) or Bounce(mid, blob_id, mail_from, envid, hdrs, ())
            bounces[mid] = dataclasses.replace(
                found, failures=(*found.failures, (address, host, reply))
            )
        return list(bounces.values())

    def mark_reported(self, message_id: int) -> None:
        with self._db.write() as session:
            session.execute(
                update(OutboundRecipient)
                .where(
                    OutboundRecipient.message_id == message_id, OutboundRecipient.state == "failed"
                )
                .values(reported=True)
            )

    @staticmethod
    def _settle_unreported(session: Session) -> None:
        """Failures whose sender asked for no report count as reported."""
        session.execute(
            update(OutboundRecipient)
            .where(
                OutboundRecipient.state == "failed",
                OutboundRecipient.notify != "",
                ~OutboundRecipient.notify.contains("FAILURE"),
            )
            .values(reported=True)
        )

    def sweep(self) -> int:
        """Remove messages whose recipients are all done; collect their blobs."""
        with self._db.write() as session:
            self._settle_unreported(session)
            open_ids = select(OutboundRecipient.message_id).where(
                (OutboundRecipient.state == "queued")
                | ((OutboundRecipient.state == "failed") & OutboundRecipient.reported.is_(False))
            )
            done = session.execute(
                select(OutboundMessage.id, OutboundMessage.blob_id).where(
                    OutboundMessage.id.not_in(open_ids)
                )
            ).all()
            if done:
                session.execute(
                    delete(OutboundMessage).where(OutboundMessage.id.in_([d[0] for d in done]))
                )
        if done:
            self._blobs.collect(self._db, {d[1] for d in done})
        return len(done)

    def read_message(self, blob_id: str) -> bytes:
        with self._db.read() as session, self._blobs.open(session, blob_id) as handle:
            return handle.read()

    # -- administration (groupware queue …) ----------------------------------------------

    def list_all(self, actor: Principal) -> list[QueuedMessage]:
        access.require(actor, "queue.manage", QUEUE)
        with self._db.read() as session:
            messages = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
            return [self._describe(session, m) for m in messages]

    def show(self, actor: Principal, message_id: int) -> QueuedMessage:
        access.require(actor, "queue.manage", QUEUE)
        with self._db.read() as session:
            message = session.get(OutboundMessage, message_id)
            if message is None:
                raise NotFound(f"no queued message {message_id}")
            return self._describe(session, message)

    def retry(self, actor: Principal, message_id: int) -> None:
        self.show(actor, message_id)
        with self._db.write() as session:
            session.execute(
                update(OutboundRecipient)
                .where(
                    OutboundRecipient.message_id == message_id, OutboundRecipient.state == "queued"
                )
                .values(next_attempt_at=utcnow())
            )

    def delete(self, actor: Principal, message_id: int) -> None:
        """Drop a message from the queue without a bounce (an administrator's decision)."""
        access.require(actor, "queue.manage", QUEUE)
        with self._db.write() as session:
            message = session.get(OutboundMessage, message_id)
            if message is None:
                raise NotFound(f"no queued message {message_id}")
            blob_id = message.blob_id
            session.delete(message)
        self._blobs.collect(self._db, {blob_id})

    @staticmethod
    def _describe(session: Session, message: OutboundMessage) -> QueuedMessage:
        size = session.scalar(select(Blob.size).where(Blob.id == message.blob_id)) or 0
        rows = session.scalars(
            select(OutboundRecipient)
            .where(OutboundRecipient.message_id == message.id)
            .order_by(OutboundRecipient.address)
        )
        return QueuedMessage(
            message.id,
            message.mail_from,
            message.created_at,
            message.expires_at,
            size,
            tuple(
                QueuedRecipient(
                    r.id, r.address, r.state, r.attempts, r.next_attempt_at, r.last_reply
                )
                for r in rows
            ),
        )
