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
from datetime import timedelta

from sqlalchemy import delete, func, select

from groupware.errors import AlreadyExists, InvalidInput, NotFound
from groupware.model.base import utcnow
from groupware.model.directory import AppPassword, DeviceTicket, User
from groupware.services.auth.credentials import Credentials
from groupware.services.auth.login import Auth
from groupware.services.core import audit
from groupware.services.core.access import Principal
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


class DeviceTickets:
    def __init__(self, database: Database, auth: Auth, credentials: Credentials) -> None:
        self._db = database
        self._auth = auth
        self._credentials = credentials

    def needs_password(self, actor: Principal) -> bool:
        """With TOTP on, apps take only app passwords: a profile must bring one."""
        with self._db.read() as session:
            user = session.get(User, actor.user_id)
            return user is not None and user.totp_secret is not None

    def issue(self, actor: Principal, device: str, with_password: bool) -> str:
        """A new one-time link secret for `actor`'s own profile, named after `device`."""
        device = " ".join(device.split())
        if not device or len(device) > 100:
            raise InvalidInput("Name the device (1 to 100 characters), e.g. Alice's iPhone.")
        if actor.user_id is None:
            raise InvalidInput("only a user has devices")
        with_password = with_password or self.needs_password(actor)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        with self._db.write() as session:
            session.execute(delete(DeviceTicket).where(DeviceTicket.expires_at <= now))
            if with_password:
                taken = session.scalar(
                    select(func.count())
                    .select_from(AppPassword)
                    .where(AppPassword.user_id == actor.user_id, AppPassword.name == device)
                )
                if taken:
                    raise AlreadyExists(
                        f"An app password named {device!r} exists: revoke it or name the device "
                        "differently."
                    )
            open_tickets = session.scalar(
                select(func.count())
                .select_from(DeviceTicket)
                .where(DeviceTicket.user_id == actor.user_id)
            )
            if (open_tickets or 0) >= MAX_OPEN_TICKETS:
                raise InvalidInput(
                    f"{MAX_OPEN_TICKETS} profile links are open: use one or wait "
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

    def redeem(self, secret: str) -> Redeemed:
        """Use a link once: NotFound when unknown, used or expired (all alike)."""
        gone = NotFound("This profile link was used already or has expired.")
        if not secret or len(secret) > 100:
            raise gone
        with self._db.write() as session:
            ticket = session.scalar(
                select(DeviceTicket).where(DeviceTicket.secret_hash == _hash(secret))
            )
            if ticket is None:
                raise gone
            user_id, device, with_password = ticket.user_id, ticket.device, ticket.with_password
            expired = ticket.expires_at <= utcnow()
            # Deleted by id with its count checked: of two uses at once, one wins.
            removed = session.execute(delete(DeviceTicket).where(DeviceTicket.id == ticket.id))
            if expired or removed.rowcount != 1:  # type: ignore[attr-defined]
                raise gone
        principal = self._auth.principal(user_id)
        if principal is None:  # disabled since
            raise gone
        password = self._app_password(principal, device) if with_password else None
        return Redeemed(principal, device, password)

    def _app_password(self, principal: Principal, device: str) -> str:
        for name in [device] + [f"{device} ({n})" for n in range(2, 10)]:
            try:
                return self._credentials.add_app_password(principal, principal.address, name)[1]
            except AlreadyExists:
                continue
        raise InvalidInput(f"Too many app passwords named {device!r}: revoke some first.")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
