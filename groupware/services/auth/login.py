"""`authenticate(login, secret, service, peer_ip)`: the one login check of every protocol.

Passwords are checked with argon2 outside any transaction; throttling and the audit
entry of each attempt are written together afterwards (services/auth/throttle.py says what
is counted where). Web logins use the account password (then TOTP if enrolled); mail
and DAV clients use app passwords, or the account password while no TOTP is enrolled.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from groupware.config import AuthConfig
from groupware.errors import AuthFailed, InvalidInput, TryLater
from groupware.model.base import utcnow
from groupware.model.directory import AppPassword, User
from groupware.services.auth.remembered import Remembered, RememberedLogins
from groupware.services.auth.throttle import (
    Throttle,
    account_key,
    ip_key,
    network,
    pair_key,
    totp_key,
    totp_pair_key,
)
from groupware.services.auth.totp import matching_step
from groupware.services.core import access, audit
from groupware.services.core.access import Principal
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.directory.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from groupware.store import Database
from groupware.store.groupcommit import GroupCommit

WEB = "web"
DAV = "dav"  # its logins come with every request: remembered ones are not audited


@dataclass(frozen=True)
class Login:
    """A successful check: the principal, and whether TOTP must still be asked (web only)."""

    principal: Principal
    totp_required: bool
    app_password: str | None = None  # its name, when one was used
    # The stamp of the credentials the secret was checked against (services/auth/
    # remembered.py keeps it, not a later read: a change racing the login must win).
    checked: str = field(default="", repr=False)


def app_password_hash(secret: str) -> str:
    """App passwords are long and random, so one SHA-256 suffices (and is cheap per request)."""
    normalized = secret.replace("-", "").replace(" ", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


class Auth:
    def __init__(
        self, database: Database, config: AuthConfig, group_commit: GroupCommit | None = None
    ) -> None:
        self._db = database
        self._group_commit = group_commit
        self.config = config
        self.throttle = Throttle(config)
        self.remembered = RememberedLogins(config.login_cache)

    def authenticate_remembered(self, login: str, secret: str, service: str, peer_ip: str) -> Login:
        """`authenticate` with Dovecot's auth cache (services/auth/remembered.py): a success
        is remembered for auth.login_cache seconds and shared by IMAP, POP3, SMTP AUTH and
        DAV, so that phones reconnecting and DAV clients sending Basic auth with every
        request pay argon2 once. A remembered login holds only while the account's
        credentials are exactly as they were checked (read from the database on each use),
        so a new password or a revoked app password ends it at once; roles are read afresh.
        Failures are never remembered: each goes through the throttle. A locked client
        is looked at before anything that depends on the secret, and refused by the full
        check, so that its replies and their timing say nothing of the secret. A mail
        session's login is audited (and its app password's last use noted) as the first
        was; a DAV request's is not (it comes with every request)."""
        if service == WEB:
            raise ValueError("web logins are never remembered (TOTP, sessions)")
        key = _login_address(login)
        principal, entry = None, None
        if self.remembered.seconds > 0:
            digest = self.remembered.digest(key, secret)
            with self._db.read() as session:
                keys = [pair_key(key, peer_ip), ip_key(peer_ip)]
                if self.throttle.locked(session, keys, utcnow()) is None:
                    entry = self.remembered.recall(key, digest)
                account = _load_account(session, key) if entry is not None else None
                # The stamp holds `active`: equal, the account is as active as it was.
                if entry is not None and account is not None and _stamp(account) == entry.stamp:
                    grants = access.grants_of_user(session, account.id)
                    principal = Principal(account.id, key, grants)
        if entry is not None and principal is not None:
            found = Login(principal.via(service, peer_ip), False, entry.app_password)
            if service != DAV:
                self._record_remembered(service, peer_ip, found)
            return found
        result = self.authenticate(login, secret, service, peer_ip)
        if self.remembered.seconds > 0:
            checked = Remembered(key, digest, result.checked, result.app_password)
            self.remembered.remember(key, checked)
        return result

    def _record_remembered(self, service: str, peer_ip: str, login: Login) -> None:
        """The audit row of a remembered login (and its app password's last use), in the
        group commit when there is one: a reconnect storm's rows share their fsyncs."""
        address = login.principal.address
        detail = f"app password {login.app_password} " if login.app_password else ""

        def write(session: Session) -> None:
            _Origin(service, peer_ip, address).record(
                session, "login", "ok", detail + "(remembered)"
            )
            if login.app_password:
                session.execute(
                    update(AppPassword)
                    .where(
                        AppPassword.user_id == login.principal.user_id,
                        AppPassword.name == login.app_password,
                    )
                    .values(last_used_at=utcnow())
                )

        if self._group_commit is not None:
            self._group_commit.run(write)
            return
        with self._db.write() as session:
            write(session)

    def authenticate(self, login: str, secret: str, service: str, peer_ip: str) -> Login:
        """Return a Login, or raise AuthFailed (wrong) or TryLater (locked out, or the
        account's attempts from unknown addresses spaced out: see services/auth/throttle.py)."""
        address = _login_address(login)
        pair, per_ip, wide = pair_key(address, peer_ip), ip_key(peer_ip), account_key(address)
        net = network(peer_ip)
        now = utcnow()
        origin = _Origin(service, peer_ip, address)
        account = self._admit(origin, secret, (pair, per_ip, wide), now)

        matched_app, password_ok = self._check_secret(account, secret, service)
        ok = account is not None and account.active and (password_ok or matched_app is not None)
        totp_required = service == WEB and account is not None and account.has_totp
        principal, delay = None, 0.0
        with self._db.write() as session:
            if account is None or not ok:
                worst = self.throttle.failure(session, [pair, per_ip], now)
                self.throttle.failure(session, [wide], now)  # spaces, never locks
                delay = self.throttle.backoff(worst)
                why = "disabled account" if account is not None and not account.active else ""
                origin.record(session, "login", "failed", why)
            else:
                self.throttle.clear(session, [pair])  # the address keeps its own count
                if not totp_required:  # a full login: this network is now known
                    self.throttle.remember(session, account.id, net, now)
                origin.record(
                    session, "login", "ok", f"app password {matched_app[1]}" if matched_app else ""
                )
                if matched_app:
                    row = session.get(AppPassword, matched_app[0])
                    if row is not None:
                        row.last_used_at = now
                principal = access.load_principal(session, account.id)
        if account is None or principal is None:
            raise AuthFailed("authentication failed", delay)
        if password_ok and needs_rehash(account.password_hash):
            self._rehash(account.id, secret)
        return Login(
            principal.via(service, peer_ip),
            totp_required=totp_required,
            app_password=matched_app[1] if matched_app else None,
            checked=_stamp(account),
        )

    def _admit(
        self, origin: _Origin, secret: str, keys: tuple[str, str, str], now: datetime
    ) -> _Account | None:
        """The account tried (None: no such account), read before any slow hashing; or
        TryLater if this client is locked out, or if the account is being guessed at and
        this network, not one it logged in from, must wait for its turn. One of the
        account's app passwords needs no turn (it cannot be guessed, and a phone on a new
        network uses one); an attempt that must wait counts against its address, so that
        an address polling for the account's turns soon locks itself out."""
        pair, per_ip, wide = keys
        net = network(origin.peer_ip)
        with self._db.read() as session:
            account = _load_account(session, origin.address)
            lock = self.throttle.locked(session, [pair, per_ip], now)
            slowed = (
                lock is None
                and self.throttle.slowed(session, wide, now)
                and not (account and self.throttle.known(session, account.id, net, now))
            )
        if lock is not None:
            self._refuse(origin, "login", lock.key, "locked", (lock.until - now).total_seconds())
        if slowed and not (account and _app_password(account, secret, origin.service)):
            with self._db.write() as session:
                wait = self.throttle.admit(session, wide, now)
                if wait > 0:
                    self.throttle.failure(session, [per_ip], now)
            if wait > 0:
                self._refuse(origin, "login", wide, "slowed down", wait)
        return account

    def _refuse(self, origin: _Origin, action: str, key: str, why: str, wait: float) -> NoReturn:
        """Audit a throttled attempt and refuse it; clients are never told to retry at once."""
        wait = max(1.0, wait)
        self._audit_alone(origin, action, "throttled", f"{key} {why}")
        what = "wrong codes" if action == "login.totp" else "failed logins"
        raise TryLater(f"too many {what}: try again in {math.ceil(wait)} s", wait)

    @staticmethod
    def _check_secret(
        account: _Account | None, secret: str, service: str
    ) -> tuple[tuple[int, str] | None, bool]:
        """(matching app password, account password right?) at constant-ish cost."""
        if account is None:
            verify_password(dummy_hash(), secret)  # as slow as a real check
            return None, False
        matched = _app_password(account, secret, service)
        if matched is not None:
            return matched, False
        if service == WEB or not account.has_totp:
            return None, verify_password(account.password_hash, secret)
        # With TOTP enrolled, mail and DAV clients must use app passwords.
        verify_password(dummy_hash(), secret)
        return None, False

    def plaintext_allowed(self, peer_ip: str, tls: bool) -> bool:
        """May a password cross this connection? Over TLS, yes; in clear, only from
        loopback (as Dovecot does), and not even then with auth.loopback_is_secure off."""
        if tls:
            return True
        if not self.config.loopback_is_secure:
            return False
        try:
            return ipaddress.ip_address(peer_ip).is_loopback
        except ValueError:
            return False

    def verify_totp(self, principal: Principal, code: str) -> bool:
        """Check a TOTP code (±1 step of clock drift), each code good once. Wrong codes
        count on keys of their own, which a right password never resets: past
        auth.max_failures even the right code gets TryLater until the lock ends, from
        this network (totp-ip:) or, unless the account logged in from it before, from
        anywhere (totp:); services/auth/throttle.py says why."""
        address = principal.address
        wide, pair = totp_key(address), totp_pair_key(address, principal.peer_ip)
        per_ip, net = ip_key(principal.peer_ip), network(principal.peer_ip)
        now = utcnow()
        origin = _Origin(principal.service, principal.peer_ip, address)
        with self._db.read() as session:
            user = session.scalar(select(User).where(User.address == address))
            user_id, secret = (user.id, user.totp_secret) if user is not None else (None, None)
            known = user_id is not None and self.throttle.known(session, user_id, net, now)
            lock = self.throttle.locked(
                session, [pair, per_ip] if known else [wide, pair, per_ip], now
            )
        if lock is not None:
            self._refuse(
                origin, "login.totp", lock.key, "locked", (lock.until - now).total_seconds()
            )
        step = matching_step(secret, code, now) if secret else None
        with self._db.write() as session:
            good = step is not None and _use_step(session, address, step)
            if good and user_id is not None:
                self.throttle.clear(session, [pair])
                self.throttle.clear_unlocked(session, [wide], now)
                self.throttle.remember(session, user_id, net, now)
            else:
                self.throttle.failure(session, [wide, pair, per_ip], now)
            origin.record(session, "login.totp", "ok" if good else "failed")
        return good

    def principal(self, user_id: int) -> Principal | None:
        """Reload a principal (web sessions do, per request, so revocations bite at once)."""
        with self._db.read() as session:
            return access.load_principal(session, user_id)

    def _audit_alone(self, origin: _Origin, action: str, outcome: str, detail: str) -> None:
        with self._db.write() as session:
            origin.record(session, action, outcome, detail)

    def _rehash(self, user_id: int, password: str) -> None:
        new_hash = hash_password(password)
        with self._db.write() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.password_hash = new_hash


def _app_password(account: _Account, secret: str, service: str) -> tuple[int, str] | None:
    """(id, name) of the account's app password `secret` is, if any; never for the web,
    which takes the account password (and TOTP) only."""
    if service == WEB:
        return None
    digest = app_password_hash(secret)
    for app_id, name, stored in account.app_passwords:
        if hmac.compare_digest(stored, digest):
            return app_id, name
    return None


def _use_step(session: Session, address: str, step: int) -> bool:
    """Record `step` as used, unless it (or a later one) was used already: one statement,
    so two logins racing with the same code cannot both pass."""
    result = session.execute(
        update(User)
        .where(User.address == address)
        .where((User.totp_last_step.is_(None)) | (User.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _login_address(login: str) -> str:
    """The address a login names (as typed, lowered and cut, when it is no address)."""
    try:
        return normalize_address(login)
    except InvalidInput:
        return login.strip().lower()[:320]


def _stamp(account: _Account) -> str:
    """A hash of everything that decides whether a secret is good: any change ends
    remembered logins."""
    apps = ",".join(f"{app_id}:{stored}" for app_id, _, stored in sorted(account.app_passwords))
    text = f"{account.password_hash}|{apps}|{account.active}|{account.has_totp}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Account:
    """What a login check needs of a user, read before any slow hashing starts."""

    id: int
    password_hash: str
    active: bool
    has_totp: bool
    app_passwords: tuple[tuple[int, str, str], ...]


# Built once: every DAV request runs it, and building a statement costs more than running it.
_ACCOUNT = (
    select(
        User.id,
        User.password_hash,
        User.active,
        User.totp_secret.is_not(None),
        AppPassword.id,
        AppPassword.name,
        AppPassword.secret_hash,
    )
    .outerjoin(AppPassword, AppPassword.user_id == User.id)
    .where(User.address == bindparam("address"))
)


def _load_account(on: Session | Connection, address: str) -> _Account | None:
    """One query (every DAV request makes it): the user with its app passwords."""
    connection = on.connection() if isinstance(on, Session) else on
    rows = connection.execute(_ACCOUNT, {"address": address}).all()
    if not rows:
        return None
    user_id, password_hash, active, has_totp = rows[0][:4]
    apps = tuple((a, n, h) for *_, a, n, h in rows if a is not None)
    return _Account(user_id, password_hash, active, bool(has_totp), apps)


@dataclass(frozen=True)
class _Origin:
    """Where an attempt came from, for its audit entry."""

    service: str
    peer_ip: str
    address: str

    def record(self, session: Session, action: str, outcome: str, detail: str = "") -> None:
        audit.record(
            session,
            self.address,
            action,
            outcome=outcome,
            detail=detail,
            target=self.address,
            domain=_audit_domain(self.address),
            service=self.service,
            peer_ip=self.peer_ip,
        )


def _audit_domain(address: str) -> str | None:
    """The domain of a well-formed login; None for garbage (which may not fit the column)."""
    try:
        return domain_of(normalize_address(address))
    except InvalidInput:
        return None
