"""Failed-login throttling per account and per client address, shared by every protocol.

Each failure lengthens the delay a front door waits before answering (doubling up to a
cap); too many failures within the window lock the key out for a while, during which
even the right password is refused. State lives in the database so all nodes share it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from groupware.config import AuthConfig
from groupware.model.audit import LoginThrottle


def account_key(login: str) -> str:
    return "account:" + login.strip().lower()[:320]


def ip_key(peer_ip: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole prefix."""
    try:
        address = ipaddress.ip_address(peer_ip)
    except ValueError:
        return "ip:" + peer_ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "ip:" + str(address.ipv4_mapped)
        return "ip:" + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return "ip:" + str(address)


@dataclass(frozen=True)
class Lock:
    key: str
    until: datetime


class Throttle:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    def _limit(self, key: str) -> int:
        return (
            self.config.max_failures_per_ip if key.startswith("ip:") else self.config.max_failures
        )

    def locked(self, session: Session, keys: list[str], now: datetime) -> Lock | None:
        """The first key still locked out, if any."""
        for key in keys:
            row = session.get(LoginThrottle, key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                return Lock(key, row.locked_until)
        return None

    def failure(self, session: Session, keys: list[str], now: datetime) -> float:
        """Count a failure on every key; return the delay before answering it."""
        window = timedelta(seconds=self.config.window)
        worst = 0
        for key in keys:
            row = self._locked_row(session, key, now)
            if now - row.window_start > window:
                row.failures, row.window_start, row.locked_until = 0, now, None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= self._limit(key):
                row.locked_until = now + timedelta(seconds=self.config.lockout)
            worst = max(worst, row.failures)
        if self.config.backoff_base <= 0:
            return 0.0
        return float(min(self.config.backoff_max, self.config.backoff_base * 2 ** (worst - 1)))

    @staticmethod
    def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
        """The key's row, created if absent, locked until commit (FOR UPDATE on PostgreSQL)
        so that concurrent failures neither collide on insert nor lose each other's count."""
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is not None:
            return row
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

    def success(self, session: Session, account: str) -> None:
        """A right password clears the account's count; the address keeps its own."""
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == account))

    def unlock(self, session: Session, key: str) -> None:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
