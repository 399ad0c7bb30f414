"""A user's second secrets: app passwords for mail and DAV clients, and TOTP for the web.

App passwords are shown once and kept only as a SHA-256; a TOTP secret is stored only
after the user proves, with a code, that their authenticator holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput, NotFound
from groupware.model.base import utcnow
from groupware.model.directory import AppPassword
from groupware.services.auth.login import app_password_hash
from groupware.services.auth.totp import matching_step
from groupware.services.core import audit
from groupware.services.core.access import Principal
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.directory.accounts import managed_user
from groupware.services.directory.passwords import generate_app_password
from groupware.store import Database

MAX_APP_PASSWORDS = 50


def check_app_password_name(name: str) -> str:
    """The name as kept (spaces trimmed); InvalidInput unless 1 to 100 printable characters."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput("an app password needs a name of 1 to 100 characters")
    return name


def insert_app_password(
    session: Session, actor: Principal, user_id: int, address: str, name: str
) -> tuple[AppPasswordInfo, str]:
    """Add one in the caller's transaction (which has checked the actor may): the secret
    is returned once. AlreadyExists for a name in use, InvalidInput past the limit."""
    existing = session.scalars(select(AppPassword.name).where(AppPassword.user_id == user_id)).all()
    if name in existing:
        raise AlreadyExists(f"an app password named {name!r} exists already")
    if len(existing) >= MAX_APP_PASSWORDS:
        raise InvalidInput(f"at most {MAX_APP_PASSWORDS} app passwords per account")
    secret = generate_app_password()
    row = AppPassword(user_id=user_id, name=name, secret_hash=app_password_hash(secret))
    session.add(row)
    audit.record(
        session, actor, "app-password.add", target=address, domain=domain_of(address), detail=name
    )
    session.flush()
    return AppPasswordInfo(name, row.created_at, None), secret


@dataclass(frozen=True)
class AppPasswordInfo:
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str  # otpauth:// for authenticator apps (shown as a QR code)


class Credentials:
    def __init__(self, database: Database, issuer: str) -> None:
        self._db = database
        self.issuer = issuer

    def add_app_password(
        self, actor: Principal, address: str, name: str
    ) -> tuple[AppPasswordInfo, str]:
        """Create one; the returned secret is never retrievable again."""
        address = normalize_address(address)
        name = check_app_password_name(name)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            return insert_app_password(session, actor, user.id, address, name)

    def app_passwords(self, actor: Principal, address: str) -> list[AppPasswordInfo]:
        address = normalize_address(address)
        with self._db.read() as session:
            user = managed_user(session, actor, address, "account.manage")
            rows = session.scalars(
                select(AppPassword).where(AppPassword.user_id == user.id).order_by(AppPassword.name)
            )
            return [AppPasswordInfo(r.name, r.created_at, r.last_used_at) for r in rows]

    def revoke_app_password(self, actor: Principal, address: str, name: str) -> None:
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            result = session.execute(
                delete(AppPassword).where(
                    AppPassword.user_id == user.id, AppPassword.name == name.strip()
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"no app password named {name!r}")
            audit.record(
                session,
                actor,
                "app-password.revoke",
                target=address,
                domain=domain_of(address),
                detail=name,
            )

    def begin_totp(self, actor: Principal) -> TotpEnrolment:
        """A fresh secret for the actor's own account; nothing is stored yet."""
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret).provisioning_uri(name=actor.address, issuer_name=self.issuer)
        return TotpEnrolment(secret, uri)

    def confirm_totp(self, actor: Principal, secret: str, code: str) -> None:
        """Store the secret once a code made from it checks out."""
        step = matching_step(secret, code, utcnow())
        if step is None:
            raise InvalidInput("that code does not match: check the authenticator's clock")
        with self._db.write() as session:
            user = managed_user(session, actor, actor.address, "account.manage")
            user.totp_secret = secret
            user.totp_last_step = step  # the enrolment code cannot log in again
            audit.record(
                session, actor, "totp.enrol", target=user.address, domain=domain_of(user.address)
            )

    def disable_totp(self, actor: Principal, address: str) -> None:
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            user.totp_secret = None
            audit.record(session, actor, "totp.disable", target=address, domain=domain_of(address))
