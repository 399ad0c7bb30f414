"""One-time links to a device's configuration profile: the Devices page's QR code opens
one on a phone that is not signed in to the portal.

The link's secret is the only credential; it is kept as a SHA-256, works once and for
TICKET_MINUTES. When the profile is to carry an app password (asked for, or forced by
TOTP: the account password would not work in the apps), the app password is made at the
moment the link is used and exists only in that one download.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput, NotFound
from groupware.model.base import utcnow
from groupware.model.directory import AppPassword, DeviceTicket, User
from groupware.services.auth.credentials import (
    MAX_APP_PASSWORDS,
    check_app_password_name,
    insert_app_password,
)
from groupware.services.core import audit
from groupware.services.core.access import Principal, load_principal
from groupware.services.core.addresses import domain_of
from groupware.store import Database

TICKET_MINUTES = 15
MAX_OPEN_TICKETS = 5  # per account; older ones must be used or expire first


@dataclass(frozen=True)
class Redeemed:
    """A used ticket: whose profile, for which device, and its new app password if any."""

    principal: Principal
    device: str
    password: str | None


@dataclass(frozen=True)
class OpenLink:
    """A link made and not used yet, as the Devices page lists it (to cancel it)."""

    id: int
    device: str
    with_password: bool
    expires_at: datetime


class DeviceTickets:
    def __init__(self, database: Database) -> None:
        self._db = database

    def needs_password(self, actor: Principal) -> bool:
        """With TOTP on, apps take only app passwords: a profile must bring one."""
        with self._db.read() as session:
            user = session.get(User, actor.user_id)
            return user is not None and user.totp_secret is not None

    def issue(self, actor: Principal, device: str, with_password: bool) -> str:
        """A new one-time link secret for `actor`'s own profile, named after `device`.
        What could stop the app password being made when the link is used (its name,
        the account's limit) is checked now, so that a link never dies for nothing."""
        device = check_app_password_name(" ".join(device.split()))
        if actor.user_id is None:
            raise InvalidInput("only a user has devices")
        with_password = with_password or self.needs_password(actor)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        with self._db.write() as session:
            session.execute(delete(DeviceTicket).where(DeviceTicket.expires_at <= now))
            if with_password:
                names = session.scalars(
                    select(AppPassword.name).where(AppPassword.user_id == actor.user_id)
                ).all()
                if device in names:
                    raise AlreadyExists(
                        f"An app password named {device!r} exists: revoke it or name the "
                        "device differently."
                    )
                if len(names) >= MAX_APP_PASSWORDS:
                    raise InvalidInput(f"At most {MAX_APP_PASSWORDS} app passwords: revoke one.")
            open_links = session.scalar(
                select(func.count())
                .select_from(DeviceTicket)
                .where(DeviceTicket.user_id == actor.user_id)
            )
            if (open_links or 0) >= MAX_OPEN_TICKETS:
                raise InvalidInput(
                    f"{MAX_OPEN_TICKETS} profile links are open: use or cancel one, or wait "
                    f"{TICKET_MINUTES} minutes."
                )
            session.add(
                DeviceTicket(
                    user_id=actor.user_id,
                    secret_hash=_hash(secret),
                    device=device,
                    with_password=with_password,
                    expires_at=now + timedelta(minutes=TICKET_MINUTES),
                )
            )
            audit.record(
                session,
                actor,
                "device.link",
                target=actor.address,
                domain=domain_of(actor.address),
                detail=device + (" (with app password)" if with_password else ""),
            )
        return secret

    def open_links(self, actor: Principal) -> list[OpenLink]:
        with self._db.read() as session:
            rows = session.scalars(
                select(DeviceTicket)
                .where(DeviceTicket.user_id == actor.user_id, DeviceTicket.expires_at > utcnow())
                .order_by(DeviceTicket.id)
            )
            return [OpenLink(r.id, r.device, r.with_password, r.expires_at) for r in rows]

    def cancel(self, actor: Principal, link_id: int) -> None:
        """End one of the actor's own open links (anyone else's is "not found")."""
        with self._db.write() as session:
            gone = session.execute(
                delete(DeviceTicket).where(
                    DeviceTicket.id == link_id, DeviceTicket.user_id == actor.user_id
                )
            )
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("no such profile link")

    def redeem(self, secret: str) -> Redeemed:
        """Use a link once: NotFound when unknown, used or expired (all alike). The link
        is used up and its app password made in one transaction: both or neither."""
        gone = NotFound("This profile link was used already or has expired.")
        if not secret or len(secret) > 100:
            raise gone
        with self._db.write() as session:
            ticket = session.scalar(
                select(DeviceTicket).where(DeviceTicket.secret_hash == _hash(secret))
            )
            if ticket is None or ticket.expires_at <= utcnow():
                raise gone
            user_id, device, with_password = ticket.user_id, ticket.device, ticket.with_password
            # Deleted by id with its count checked: of two uses at once, one wins.
            removed = session.execute(delete(DeviceTicket).where(DeviceTicket.id == ticket.id))
            principal = load_principal(session, user_id)
            if removed.rowcount != 1 or principal is None:  # type: ignore[attr-defined]
                raise gone  # used meanwhile, or the account was disabled
            password = None
            if with_password:
                password = _new_app_password(session, principal, device)
        return Redeemed(principal, device, password)


def _new_app_password(session: Session, principal: Principal, device: str) -> str:
    """An app password named after the device ("iPhone (2)" if one was made meanwhile)."""
    for name in [device] + [f"{device} ({n})" for n in range(2, 10)]:
        try:
            return insert_app_password(
                session, principal, principal.user_id or 0, principal.address, name
            )[1]
        except AlreadyExists:
            continue
    raise InvalidInput(f"Too many app passwords named {device!r}: revoke some first.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
