"""Login locks for admins: what the throttle counts now, and clearing it (console and CLI).

Seeing or clearing a key needs directory.users.manage on its account's domain and, as for
a password reset, to outrank the roles the account holds (a domain-admin neither sees nor
lifts a global admin's locks); keys of a client address alone (no account) need it
everywhere. Each clearing is audited.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput, NotFound, PermissionDenied
from groupware.model.audit import LoginThrottle
from groupware.model.base import utcnow
from groupware.model.directory import User
from groupware.services.auth.throttle import (
    ACCOUNT,
    ACCOUNT_IP,
    IP,
    SRS,
    TOTP,
    TOTP_IP,
    KeyParts,
    Throttle,
    network,
    parse_key,
)
from groupware.services.core import access, audit
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.store import Database

PERMISSION = "directory.users.manage"
KIND_LABELS = {
    ACCOUNT_IP: "account from address",
    IP: "address",
    ACCOUNT: "account (slows only)",
    TOTP: "TOTP codes",
    TOTP_IP: "TOTP codes from address",
    SRS: "bad SRS addresses from address",
}
LOCKED, SLOWED, COUNTING = "locked", "slowed", "counting"


@dataclass(frozen=True)
class LoginLock:
    key: str
    kind: str  # ACCOUNT_IP, IP, ACCOUNT, TOTP, TOTP_IP or SRS
    account: str | None
    network: str | None
    failures: int
    last_failure_at: datetime
    state: str  # LOCKED, SLOWED (account-wide spacing in force) or COUNTING
    until: datetime | None  # when the lock or the spacing ends

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def subject(self) -> str:
        """Whom the key counts, in words: "alice@example.org from 192.0.2.1"."""
        if self.account and self.network:
            return f"{self.account} from {self.network}"
        return self.account or self.network or self.key


class LoginLocks:
    def __init__(self, database: Database, throttle: Throttle) -> None:
        self._db = database
        self._throttle = throttle

    def entries(self, viewer: Principal, limit: int = 500) -> list[LoginLock]:
        """Keys that lock, slow or count now (locked, then slowed, then the latest first),
        of those the viewer may see."""
        domains = access.domains_with(viewer, PERMISSION)
        if domains is not None and not domains:
            raise PermissionDenied(f"permission denied: {viewer.address} may not {PERMISSION}")
        now = utcnow()
        window = timedelta(seconds=self._throttle.config.window)
        query = select(LoginThrottle).where(
            (LoginThrottle.locked_until > now) | (LoginThrottle.window_start >= now - window)
        )
        if domains is not None:
            query = query.where(or_(*(_of_domain(d) for d in sorted(domains))))
        query = query.order_by(LoginThrottle.last_failure_at.desc()).limit(min(limit, 5000))
        with self._db.read() as session:
            found = [self._describe(row, now) for row in session.scalars(query)]
            outranked: dict[str, bool] = {}
            shown = [lock for lock in found if lock and _may(session, viewer, lock, outranked)]
        order = {LOCKED: 0, SLOWED: 1, COUNTING: 2}
        return sorted(shown, key=lambda k: (order[k.state], -k.last_failure_at.timestamp(), k.key))

    def clear(self, actor: Principal, key: str) -> LoginLock:
        """Forget one key (its count and any lock)."""
        parts = parse_key(key)
        if parts is None:
            raise InvalidInput(f"not a login lock key: {key!r}")
        access.require(actor, PERMISSION, _parts_resource(parts))
        with self._db.write() as session:
            _require_outranks(session, actor, parts.account)
            row = session.get(LoginThrottle, key)
            lock = None if row is None else self._describe(row, utcnow())
            if lock is None:
                raise NotFound(f"no login lock {key}")
            self._forget(session, actor, lock)
        return lock

    def clear_matching(self, actor: Principal, who: str) -> list[LoginLock]:
        """Forget every key of `who`: a key, a client address (or IPv6 /64), or an
        account's address. Refuses all when the actor may not clear one of them."""
        condition = _matching(who.strip())
        with self._db.write() as session:
            now = utcnow()
            locks = [
                self._describe(r, now)
                for r in session.scalars(select(LoginThrottle).where(condition))
            ]
            found = [lock for lock in locks if lock is not None]
            if not found:
                raise NotFound(f"no login lock matches {who!r}")
            for lock in found:
                access.require(actor, PERMISSION, _resource(lock))
            for account in sorted({lock.account for lock in found if lock.account}):
                _require_outranks(session, actor, account)
            for lock in found:
                self._forget(session, actor, lock)
        return found

    @staticmethod
    def _forget(session: Session, actor: Principal, lock: LoginLock) -> None:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == lock.key))
        resource = _resource(lock)
        audit.record(
            session,
            actor,
            "login.unlock",
            target=lock.account or lock.network or "",
            domain=resource.domain,
            detail=f"{lock.key} ({lock.failures} failures, {lock.state})",
        )

    def _describe(self, row: LoginThrottle, now: datetime) -> LoginLock | None:
        parts = parse_key(row.key)
        if parts is None:
            return None
        state, until = COUNTING, None
        if self._throttle.limit(row.key) is None:
            spaced_until = row.last_failure_at + timedelta(
                seconds=self._throttle.backoff(row.failures)
            )
            if self._throttle.current(row, now) and spaced_until > now:
                state, until = SLOWED, spaced_until
        elif row.locked_until is not None and row.locked_until > now:
            state, until = LOCKED, row.locked_until
        return LoginLock(
            row.key,
            parts.kind,
            parts.account,
            parts.network,
            row.failures if self._throttle.current(row, now) or state == LOCKED else 0,
            row.last_failure_at,
            state,
            until,
        )


def _may(session: Session, viewer: Principal, lock: LoginLock, outranked: dict[str, bool]) -> bool:
    """Whether `viewer` may see and clear `lock` (`outranked` caches it per account)."""
    if not access.can(viewer, PERMISSION, _resource(lock)):
        return False
    if lock.account is None:
        return True
    if lock.account not in outranked:
        try:
            _require_outranks(session, viewer, lock.account)
            outranked[lock.account] = True
        except PermissionDenied:
            outranked[lock.account] = False
    return outranked[lock.account]


def _require_outranks(session: Session, actor: Principal, account: str | None) -> None:
    """Lifting an account's lock helps whoever guesses at it: only someone who could reset
    its password may (services/directory/accounts.py managed_user: access.outranks)."""
    if account is None:
        return
    try:
        address = normalize_address(account)
    except InvalidInput:  # a garbage login: no account, no roles
        return
    user_id = session.scalar(select(User.id).where(User.address == address))
    if user_id is None or user_id == actor.user_id:
        return
    access.require_outranks(actor, f"user {address}", access.grants_of_user(session, user_id))


def _resource(lock: LoginLock) -> Resource:
    return _parts_resource(KeyParts(lock.kind, lock.account, lock.network))


def _parts_resource(parts: KeyParts) -> Resource:
    """An account's keys belong to its domain; an address alone to no domain (admins)."""
    if parts.account is None:
        return Resource("address", parts.network or "")
    try:
        domain: str | None = domain_of(normalize_address(parts.account))
    except InvalidInput:  # a garbage login: no domain admin's business
        domain = None
    return Resource("user", parts.account, domain)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _of_domain(domain: str) -> ColumnElement[bool]:
    """Keys of the accounts of one domain."""
    at = "%@" + _like(domain)
    return or_(
        LoginThrottle.key.like(f"{ACCOUNT}:{at}", escape="\\"),
        LoginThrottle.key.like(f"{TOTP}:{at}", escape="\\"),
        LoginThrottle.key.like(f"{ACCOUNT_IP}:{at}|%", escape="\\"),
        LoginThrottle.key.like(f"{TOTP_IP}:{at}|%", escape="\\"),
    )


def _matching(who: str) -> ColumnElement[bool]:
    """Keys of a client address or network, else the key itself, else an account's."""
    if not who:
        raise InvalidInput("name a key, a client address or an account")
    net = _network_of(who)
    if net is not None:
        return LoginThrottle.key.in_([f"{IP}:{net}", f"{SRS}:{net}"]) | LoginThrottle.key.like(
            "%|" + _like(net), escape="\\"
        )
    if parse_key(who) is not None:
        return LoginThrottle.key == who
    account = _like(who.lower())
    return or_(
        LoginThrottle.key.in_([f"{ACCOUNT}:{who.lower()}", f"{TOTP}:{who.lower()}"]),
        LoginThrottle.key.like(f"{ACCOUNT_IP}:{account}|%", escape="\\"),
        LoginThrottle.key.like(f"{TOTP_IP}:{account}|%", escape="\\"),
    )


def _network_of(who: str) -> str | None:
    """`who` as throttle keys hold a client network (IPv6 per /64), or None if no address."""
    try:
        ipaddress.ip_address(who)
    except ValueError:
        try:
            return str(ipaddress.ip_network(who, strict=False))
        except ValueError:
            return None
    return network(who)
