"""The audit log: who did what, when, from where, and how it ended.

Admin actions are recorded in the same transaction as the change they describe, so
the log never claims a change that was rolled back nor misses one that was committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupware.model.audit import AuditEntry
from groupware.services.core import access
from groupware.services.core.access import Principal
from groupware.store import Database


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    outcome: str
    target: str
    domain: str | None
    service: str
    peer_ip: str
    detail: str


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    *,
    outcome: str = "ok",
    target: str = "",
    domain: str | None = None,
    detail: str = "",
    service: str = "",
    peer_ip: str = "",
) -> None:
    """Add one entry to the caller's transaction."""
    if isinstance(actor, Principal):
        service = service or actor.service
        peer_ip = peer_ip or actor.peer_ip
        actor = actor.address
    session.add(
        AuditEntry(
            actor=actor[:320],
            action=action,
            outcome=outcome,
            target=target[:320],
            domain=domain,
            service=service[:16],
            peer_ip=peer_ip[:64],
            detail=detail[:2000],
        )
    )


class Audit:
    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, actor: Principal | str, action: str, **fields: str | None) -> None:
        """Record in a transaction of its own (refusals, whose change was rolled back)."""
        with self._db.write() as session:
            record(session, actor, action, **fields)  # type: ignore[arg-type]

    def entries(
        self,
        viewer: Principal,
        *,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 200,
    ) -> list[AuditRecord]:
        """Newest first, only the domains the viewer may read the audit of.

        A viewer with no audit.read anywhere sees only entries about themself.
        """
        domains = access.domains_with(viewer, "audit.read")
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(limit, 1000))
        if domains is not None:
            own = (AuditEntry.actor == viewer.address) | (AuditEntry.target == viewer.address)
            query = (
                query.where(own | AuditEntry.domain.in_(domains)) if domains else query.where(own)
            )
        if actor:
            query = query.where(AuditEntry.actor == actor.lower())
        if action:
            query = query.where(AuditEntry.action == action)
        with self._db.read() as session:
            return [
                AuditRecord(
                    e.at,
                    e.actor,
                    e.action,
                    e.outcome,
                    e.target,
                    e.domain,
                    e.service,
                    e.peer_ip,
                    e.detail,
                )
                for e in session.scalars(query)
            ]
