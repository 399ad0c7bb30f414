"""Failed-login throttling, shared by every protocol, and the login origins it spares.

Keys, one row each in login_throttle (so every node shares them), as Dovecot's auth
penalty, Postfix's anvil and OWASP's lockout guidance count: per client, not per victim.
- "account-ip:<account>|<network>": one account from one client network; locks after
  auth.max_failures, so a guesser locks only itself out.
- "ip:<network>": one client network on any account; locks after max_failures_per_ip.
- "account:<account>": one account from anywhere; never locks (anyone could lock anyone
  out) but spaces attempts from networks the account never logged in from by the
  back-off of its count, so a guesser spread over many addresses gains nothing. An
  attempt that must wait counts on its "ip:" key (services/auth/login.py), and the account's
  app passwords, unguessable, never wait.
- "totp:<account>", "totp-ip:<account>|<network>": wrong second-factor codes; lock after
  max_failures and only a right code resets them (a right password never does). The
  account-wide one spares networks the account logged in from, as "account:" does (a
  password holder guessing codes must not keep the owner out), and a right code from
  there leaves its running lock alone (the guesser stays locked out everywhere else).
- "srs:<network>": bad SRS recipients from one client network (services/delivery/srs.py); locks
  after max_failures_per_ip, and refuses only SRS recipients, never a login.
Networks are addresses, IPv6 ones /64 prefixes (one host usually holds a whole prefix).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from groupware.config import AuthConfig
from groupware.model.audit import LoginOrigin, LoginThrottle

_LOCKED_UNTIL = select(LoginThrottle.key, LoginThrottle.locked_until).where(
    LoginThrottle.key.in_(bindparam("keys", expanding=True)),
    LoginThrottle.locked_until.is_not(None),
)

ACCOUNT, IP, ACCOUNT_IP, TOTP, TOTP_IP = "account", "ip", "account-ip", "totp", "totp-ip"
SRS = "srs"
# A known origin's time is rewritten at most this often (not at every login).
ORIGIN_REFRESH = timedelta(hours=1)


def _account(login: str) -> str:
    return login.strip().lower()[:320]


def network(peer_ip: str) -> str:
    """The client network a peer is counted in: its address, or its IPv6 /64."""
    try:
        address = ipaddress.ip_address(peer_ip)
    except ValueError:  # not from a socket; kept short and free of the key separator
        return peer_ip[:64].replace("|", "_")
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def account_key(login: str) -> str:
    return f"{ACCOUNT}:{_account(login)}"


def ip_key(peer_ip: str) -> str:
    return f"{IP}:{network(peer_ip)}"


def srs_key(peer_ip: str) -> str:
    return f"{SRS}:{network(peer_ip)}"


def pair_key(login: str, peer_ip: str) -> str:
    return f"{ACCOUNT_IP}:{_account(login)}|{network(peer_ip)}"


def totp_key(login: str) -> str:
    return f"{TOTP}:{_account(login)}"


def totp_pair_key(login: str, peer_ip: str) -> str:
    return f"{TOTP_IP}:{_account(login)}|{network(peer_ip)}"


@dataclass(frozen=True)
class KeyParts:
    kind: str  # ACCOUNT, IP, ACCOUNT_IP, TOTP, TOTP_IP or SRS
    account: str | None
    network: str | None


def parse_key(key: str) -> KeyParts | None:
    """What a key counts; None for a string that is no key."""
    kind, colon, subject = key.partition(":")
    if not colon or not subject:
        return None
    if kind in (ACCOUNT, TOTP):
        return KeyParts(kind, subject, None)
    if kind in (IP, SRS):
        return KeyParts(kind, None, subject)
    if kind in (ACCOUNT_IP, TOTP_IP) and "|" in subject:
        # Networks hold no "|"; an account (a local part, or a garbage login) may.
        account, _, net = subject.rpartition("|")
        return KeyParts(kind, account, net)
    return None


@dataclass(frozen=True)
class Lock:
    key: str
    until: datetime


class Throttle:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._next_prune = 0.0  # time.monotonic() of the next sweep of dead rows

    def limit(self, key: str) -> int | None:
        """Failures within the window that lock `key`; None: it never locks."""
        kind = key.partition(":")[0]
        if kind == ACCOUNT:
            return None
        per_ip = kind in (IP, SRS)
        return self.config.max_failures_per_ip if per_ip else self.config.max_failures

    def backoff(self, failures: int) -> float:
        """The delay `failures` earn: doubling from backoff_base, at most backoff_max."""
        if failures <= 0 or self.config.backoff_base <= 0:
            return 0.0
        doubled = self.config.backoff_base * 2.0 ** min(failures - 1, 64)
        return float(min(self.config.backoff_max, doubled))

    def current(self, row: LoginThrottle, now: datetime) -> bool:
        """Whether a row's failures still count (its window has not run out)."""
        return now - row.window_start <= timedelta(seconds=self.config.window)

    def locked(self, session: Session, keys: list[str], now: datetime) -> Lock | None:
        """The first key still locked out, if any (one query for all: a remembered login
        asks on every reconnect)."""
        limited = [key for key in keys if self.limit(key) is not None]
        if not limited:
            return None
        rows = session.connection().execute(_LOCKED_UNTIL, {"keys": limited}).all()
        until: dict[str, datetime] = {key: when for key, when in rows}
        for key in limited:
            when = until.get(key)
            if when is not None and when > now:
                return Lock(key, when)
        return None

    def failure(self, session: Session, keys: list[str], now: datetime) -> int:
        """Count a failure on every key, locking those past their limit; return the
        highest count among them (its back-off is the delay before answering)."""
        worst = 0
        for key in keys:
            row = self._locked_row(session, key, now)
            if not self.current(row, now):
                row.failures, row.window_start, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure_at = now
            limit = self.limit(key)
            if limit is not None and row.failures >= limit:
                row.locked_until = now + timedelta(seconds=self.config.lockout)
            worst = max(worst, row.failures)
        return worst

    def slowed(self, session: Session, key: str, now: datetime) -> bool:
        """Whether an account-wide key has failures that space attempts (a read, so that
        logins on a quiet account take no write before the password check)."""
        row = session.get(LoginThrottle, key)
        return row is not None and self.current(row, now) and self.backoff(row.failures) > 0

    def admit(self, session: Session, key: str, now: datetime) -> float:
        """Let one attempt through an account-wide key's spacing: 0.0 when its slot is
        free (and now taken, under the row's lock, so parallel attempts cannot share
        it), else the seconds until the next slot."""
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is None or not self.current(row, now):
            return 0.0
        wait = self.backoff(row.failures) - (now - row.last_failure_at).total_seconds()
        if wait > 0:
            return wait
        row.last_failure_at = now
        return 0.0

    def _locked_row(self, session: Session, key: str, now: datetime) -> LoginThrottle:
        """The key's row, created if absent, locked until commit (FOR UPDATE on PostgreSQL)
        so that concurrent failures neither collide on insert nor lose each other's count."""
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is not None:
            return row
        self._prune(session, now)
        try:
            with session.begin_nested():
                session.add(
                    LoginThrottle(key=key, failures=0, window_start=now, last_failure_at=now)
                )
        except IntegrityError:  # another attempt inserted it first: use theirs
            pass
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        return row

    def _prune(self, session: Session, now: datetime) -> None:
        """Delete rows that count nothing any more (window over, no lock running), at most
        once a minute (or a window): a guesser spread over many addresses makes a row per
        address and account, and the table must not keep them all."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + min(60, self.config.window)
        session.execute(
            delete(LoginThrottle)
            .where(LoginThrottle.window_start < now - timedelta(seconds=self.config.window))
            .where(LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until <= now))
        )

    @staticmethod
    def clear(session: Session, keys: list[str]) -> None:
        """Forget keys (a success on them, or an admin clearing them)."""
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))

    @staticmethod
    def clear_unlocked(session: Session, keys: list[str], now: datetime) -> None:
        """Forget the counts of keys that are not locked; a running lock stays."""
        session.execute(
            delete(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .where(LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until <= now))
        )

    # -- login origins ------------------------------------------------------------------

    def known(self, session: Session, user_id: int, net: str, now: datetime) -> bool:
        """Whether the account fully logged in from `net` within auth.known_address_days."""
        row = session.get(LoginOrigin, (user_id, net))
        return row is not None and row.last_login_at > now - self._remembered_for

    def remember(self, session: Session, user_id: int, net: str, now: datetime) -> None:
        """Note a full login from `net` (password, and the code when TOTP is on)."""
        if self.config.known_address_days <= 0:
            return
        row = session.get(LoginOrigin, (user_id, net))
        if row is not None:
            if now - row.last_login_at > ORIGIN_REFRESH:
                row.last_login_at = now
            return
        # A new origin: forget the account's stale ones (the table stays small).
        session.execute(
            delete(LoginOrigin)
            .where(LoginOrigin.user_id == user_id)
            .where(LoginOrigin.last_login_at <= now - self._remembered_for)
        )
        try:
            with session.begin_nested():
                session.add(LoginOrigin(user_id=user_id, network=net, last_login_at=now))
        except IntegrityError:  # a parallel login of the same account noted it first
            pass

    @property
    def _remembered_for(self) -> timedelta:
        return timedelta(days=max(0, self.config.known_address_days))
