"""Remembered logins (Dovecot's auth cache): a login proven right is taken again, for
auth.login_cache seconds, without argon2, by IMAP, POP3, SMTP AUTH and DAV alike.

Two tiers with one key: this process's memory (which spares the table's read), and the
remembered_logins table, which every worker and node reads and which outlives a restart
(phones reconnecting by the thousand after one would otherwise each pay argon2). Both
hold an HMAC-SHA256 of the secret under the server's key (web.secret_key, or data_dir's
web-secret): the table alone, without the key, gives a thief nothing to test guesses
against. Each entry carries a hash of the account's credentials when it was made
(password hash, app passwords, active, TOTP); the caller compares it with the account as
it is now, so a new password or a revoked app password ends it everywhere at once.
Only successes are remembered.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from groupware.cache import TimedCache
from groupware.model.base import utcnow
from groupware.model.directory import RememberedLogin
from groupware.store import Database

MAX_IN_MEMORY = 10_000


@dataclass(frozen=True)
class Remembered:
    """A login proven right: whose, with which app password (if one), and the
    credentials' stamp then. Not the principal: roles and grants are read afresh on
    each use (a revoked role bites at the next login, as without the cache)."""

    address: str
    digest: str
    stamp: str
    app_password: str | None


class RememberedLogins:
    def __init__(self, database: Database, seconds: int, key: bytes) -> None:
        self._db = database
        self.seconds = seconds
        self._key = key
        self._memory: TimedCache[str, Remembered] = TimedCache(MAX_IN_MEMORY, seconds)

    def digest(self, login: str, secret: str) -> str:
        return hmac.new(self._key, f"{login}\0{secret}".encode(), hashlib.sha256).hexdigest()

    def recall(self, session: Session, login: str, digest: str) -> Remembered | None:
        """The entry for `login` if `digest` is the one remembered: from memory, else
        from the table (read in the caller's session)."""
        if self.seconds <= 0:
            return None
        found = self._memory.get(login)
        if found is None:
            row = session.get(RememberedLogin, login)
            if row is None or row.expires_at <= utcnow():
                return None
            found = Remembered(row.address, row.digest, row.stamp, row.app_password)
        return found if hmac.compare_digest(found.digest, digest) else None

    def keep_in_memory(self, login: str, entry: Remembered) -> None:
        if self.seconds > 0:
            self._memory.put(login, entry)

    def remember(self, session: Session, login: str, user_id: int, entry: Remembered) -> None:
        """Remember a login just proven right (in the caller's write transaction)."""
        if self.seconds <= 0:
            return
        now = utcnow()
        session.execute(
            delete(RememberedLogin).where(
                (RememberedLogin.login == login) | (RememberedLogin.expires_at <= now)
            )
        )
        session.add(
            RememberedLogin(
                login=login,
                user_id=user_id,
                address=entry.address,
                digest=entry.digest,
                stamp=entry.stamp,
                app_password=entry.app_password,
                expires_at=now + timedelta(seconds=self.seconds),
            )
        )
        self._memory.put(login, entry)
