"""Domains and users: the accounts every protocol logs in to.

Each method takes the acting principal first, checks it with access.require, changes
the rows and writes the audit entry in one transaction, and returns frozen DTOs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput
from groupware.model.base import utcnow
from groupware.model.directory import Alias, AliasTarget, DeviceTicket, Domain, Group, User
from groupware.model.directory import Resource as ResourceRow
from groupware.services.core import access, audit
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of, normalize_address, normalize_domain
from groupware.services.directory.passwords import check_strength, hash_password, verify_password
from groupware.services.directory.websessions import end_all as end_web_sessions
from groupware.store import Database
from groupware.store.directory import address_taken, domain_by_name, user_by_address

MAX_QUOTA = 2**62


@dataclass(frozen=True)
class DomainInfo:
    name: str
    users: int
    created_at: datetime


@dataclass(frozen=True)
class UserInfo:
    id: int
    address: str
    domain: str
    display_name: str
    active: bool
    quota_bytes: int
    totp_enabled: bool
    created_at: datetime


def user_resource(user: User | UserInfo) -> Resource:
    return Resource("user", user.address, domain_of(user.address), user.id)


def domain_resource(name: str) -> Resource:
    return Resource("domain", name, name)


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        user.id,
        user.address,
        domain_of(user.address),
        user.display_name,
        user.active,
        user.quota_bytes,
        user.totp_secret is not None,
        user.created_at,
    )


class Directory:
    def __init__(self, database: Database, min_password_length: int = 10) -> None:
        self._db = database
        self.min_password_length = min_password_length
        self.on_user_created: list[Callable[[int], None]] = []
        self.on_domain_added: list[Callable[[str], None]] = []

    # -- domains -------------------------------------------------------------------------

    def add_domain(self, actor: Principal, name: str) -> DomainInfo:
        name = normalize_domain(name)
        access.require(actor, "directory.domains.manage", domain_resource(name))
        with self._db.write() as session:
            if session.scalar(select(Domain).where(Domain.name == name)) is not None:
                raise AlreadyExists(f"domain already exists: {name}")
            domain = Domain(name=name)
            session.add(domain)
            audit.record(session, actor, "domain.add", target=name, domain=name)
            session.flush()
            info = DomainInfo(domain.name, 0, domain.created_at)
        for hook in self.on_domain_added:
            hook(info.name)  # after commit: e.g. its DKIM key
        return info

    def list_domains(self, actor: Principal) -> list[DomainInfo]:
        """Every domain where the actor manages users (all of them for admins)."""
        visible = access.domains_with(actor, "directory.users.manage")
        counts = select(User.domain_id, func.count().label("n")).group_by(User.domain_id).subquery()
        query = (
            select(Domain, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.domain_id == Domain.id)
            .order_by(Domain.name)
        )
        if visible is not None:
            query = query.where(Domain.name.in_(visible))
        with self._db.read() as session:
            return [DomainInfo(d.name, n, d.created_at) for d, n in session.execute(query)]

    def hosted_domain(self, name: str) -> str | None:
        """`name` as we keep it, when mail for it is ours; else None. Public knowledge (its
        MX says so): no actor needed."""
        try:
            name = normalize_domain(name)
        except InvalidInput:
            return None
        with self._db.read() as session:
            return name if session.scalar(select(exists().where(Domain.name == name))) else None

    def remove_domain(self, actor: Principal, name: str) -> None:
        name = normalize_domain(name)
        access.require(actor, "directory.domains.manage", domain_resource(name))
        with self._db.write() as session:
            domain = domain_by_name(session, name)
            for table, what in ((User, "users"), (Alias, "aliases"), (Group, "groups")):
                n = session.scalar(
                    select(func.count()).select_from(table).where(table.domain_id == domain.id)
                )
                if n:
                    raise InvalidInput(f"domain {name} still has {n} {what}: remove them first")
            session.delete(domain)
            audit.record(session, actor, "domain.remove", target=name, domain=name)

    # -- users ---------------------------------------------------------------------------

    def add_user(
        self,
        actor: Principal,
        address: str,
        password: str,
        *,
        display_name: str = "",
        quota_bytes: int = 0,
    ) -> UserInfo:
        address = normalize_address(address)
        if address.startswith("+") or "/" in address:
            # A mailbox name may hold them, an account's may not: "/" splits its calendar
            # home's path and a leading "+" names a group's home (services/calendar/sharing.py).
            raise InvalidInput(f"an account address cannot start with + or hold /: {address}")
        domain_name = domain_of(address)
        access.require(actor, "directory.users.manage", Resource("user", address, domain_name))
        check_strength(password, self.min_password_length)
        _check_quota(quota_bytes)
        display_name = _clean_display_name(display_name)
        password_hash = hash_password(password)  # slow: before the transaction
        with self._db.write() as session:
            domain = domain_by_name(session, domain_name)
            taken = address_taken(session, address)
            if taken:
                raise AlreadyExists(f"{address} is already {taken}")
            user = User(
                domain_id=domain.id,
                address=address,
                display_name=display_name,
                password_hash=password_hash,
                active=True,
                quota_bytes=quota_bytes,
            )
            session.add(user)
            audit.record(session, actor, "user.add", target=address, domain=domain_name)
            session.flush()
            created = _user_info(user)
        for hook in self.on_user_created:
            hook(created.id)  # after commit: e.g. the default mailboxes
        return created

    def get_user(self, actor: Principal, address: str) -> UserInfo:
        address = normalize_address(address)
        with self._db.read() as session:
            return _user_info(managed_user(session, actor, address, "account.manage"))

    def list_users(self, actor: Principal, domain: str | None = None) -> list[UserInfo]:
        """The users the actor may manage, optionally of one domain."""
        visible = access.domains_with(actor, "directory.users.manage")
        query = select(User).join(Domain, Domain.id == User.domain_id).order_by(User.address)
        if visible is not None:
            query = query.where(Domain.name.in_(visible))
        if domain:
            query = query.where(Domain.name == normalize_domain(domain))
        with self._db.read() as session:
            return [_user_info(u) for u in session.scalars(query)]

    def update_user(
        self,
        actor: Principal,
        address: str,
        *,
        display_name: str | None = None,
        quota_bytes: int | None = None,
        active: bool | None = None,
    ) -> UserInfo:
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address)
            changes = []
            if display_name is not None:
                user.display_name = _clean_display_name(display_name)
                changes.append("display name")
            if quota_bytes is not None:
                _check_quota(quota_bytes)
                user.quota_bytes = quota_bytes
                changes.append(f"quota {quota_bytes}")
            if active is not None:
                if not active and user.id == actor.user_id:
                    raise InvalidInput("you cannot disable your own account")
                user.active = active
                changes.append("enabled" if active else "disabled")
                if not active:  # re-enabling must not bring old cookies back
                    _end_sign_ins(session, user.id)
            audit.record(
                session,
                actor,
                "user.update",
                target=address,
                domain=domain_of(address),
                detail=", ".join(changes),
            )
            return _user_info(user)

    def set_password(self, actor: Principal, address: str, password: str) -> None:
        """An administrator's password reset (directory.users.manage on the user)."""
        address = normalize_address(address)
        check_strength(password, self.min_password_length)
        password_hash = hash_password(password)
        with self._db.write() as session:
            user = managed_user(session, actor, address)
            if session.get(ResourceRow, user.id) is not None:
                # A room's calendar holds every meeting that booked it: no one logs in.
                raise InvalidInput(f"{address} is a room or equipment: nobody logs in as it")
            _store_password(session, user, password_hash)
            audit.record(
                session, actor, "user.password.reset", target=address, domain=domain_of(address)
            )

    def change_own_password(self, actor: Principal, current: str, new: str) -> None:
        """The account owner's change, which must prove the current password."""
        check_strength(new, self.min_password_length)
        new_hash = hash_password(new)
        with self._db.write() as session:
            user = user_by_address(session, actor.address)
            access.require(actor, "account.manage", user_resource(user))
            if not verify_password(user.password_hash, current):
                raise InvalidInput("the current password is not right")
            _store_password(session, user, new_hash)
            audit.record(
                session,
                actor,
                "account.password.change",
                target=user.address,
                domain=domain_of(user.address),
            )

    def remove_user(self, actor: Principal, address: str) -> None:
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address)
            if user.id == actor.user_id:
                raise InvalidInput("you cannot remove your own account")
            # Alias targets, memberships, grants and app passwords go by ON DELETE CASCADE;
            # an alias left with no target would swallow mail, so it goes too.
            session.delete(user)
            session.flush()
            orphaned = select(Alias.id).where(~exists().where(AliasTarget.alias_id == Alias.id))
            session.execute(
                delete(Alias).where(Alias.id.in_(orphaned)),
                execution_options={"synchronize_session": False},
            )
            audit.record(session, actor, "user.remove", target=address, domain=domain_of(address))


def managed_user(session: Session, actor: Principal, address: str, own: str | None = None) -> User:
    """The user at `address`, once the actor may manage it.

    Owners pass with the `own` permission (e.g. account.manage); others need
    directory.users.manage on the address's domain, checked before the lookup so that a
    refusal does not reveal whether the account exists, and must outrank the roles the
    user holds (access.outranks), so that no one takes over a more powerful account.
    """
    if own is not None and address == actor.address:
        user = user_by_address(session, address)
        access.require(actor, own, user_resource(user))
        return user
    domain = domain_of(address)
    access.require(actor, "directory.users.manage", Resource("user", address, domain))
    user = user_by_address(session, address)
    if user.id != actor.user_id:
        access.require_outranks(actor, f"user {address}", access.grants_of_user(session, user.id))
    return user


def _store_password(session: Session, user: User, password_hash: str) -> None:
    """Every path that sets a password comes here (own change, admin reset, the CLI):
    whoever held the old one may hold a browser session or a profile link too, so all
    of them end."""
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    _end_sign_ins(session, user.id)


def _end_sign_ins(session: Session, user_id: int) -> None:
    """End what a thief of the account could still use: browser sessions, and profile
    links not used yet (each could make an app password)."""
    end_web_sessions(session, user_id)
    session.execute(delete(DeviceTicket).where(DeviceTicket.user_id == user_id))


def _check_quota(quota_bytes: int) -> None:
    if not 0 <= quota_bytes <= MAX_QUOTA:
        raise InvalidInput("quota must be between 0 (unlimited) and 2^62 bytes")


def _clean_display_name(name: str) -> str:
    name = name.strip()
    if len(name) > 200 or any(ord(ch) < 32 for ch in name):
        raise InvalidInput("display name: at most 200 characters, no control characters")
    return name
