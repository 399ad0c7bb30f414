"""Remembered logins (Dovecot's auth cache): a login proven right is taken again, for
auth.login_cache seconds from the moment it was proven (never extended by use), without
argon2, by IMAP, POP3, SMTP AUTH and DAV alike.

Kept in this process's memory only, as Dovecot keeps its cache: an HMAC of the secret
under a key made at start and never written anywhere, beside a hash of the account's
credentials as they were checked (password hash, app passwords, active, TOTP). The
caller compares that with the account as it is now, so a new password, a revoked app
password, TOTP or a disabled account ends it at once. Written to the database (to
serve other workers and restarts), the HMACs and their key would let a copy of the data
directory test password guesses half a million times faster than against argon2.
Only successes are remembered; the key is the login as an address, so "Alice@x" and
"alice@x." are one entry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from groupware.cache import TimedCache

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Remembered:
    """A login proven right: whose, with which app password (if one), and the stamp of
    the credentials it was checked against."""

    address: str
    digest: str
    stamp: str
    app_password: str | None


class RememberedLogins:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._key = secrets.token_bytes(32)
        self._entries: TimedCache[str, Remembered] = TimedCache(MAX_ENTRIES, seconds)

    def digest(self, login: str, secret: str) -> str:
        return hmac.new(self._key, f"{login}\0{secret}".encode(), hashlib.sha256).hexdigest()

    def recall(self, login: str, digest: str) -> Remembered | None:
        """The entry for `login` if `digest` is the one remembered and it has not expired."""
        found = self._entries.get(login) if self.seconds > 0 else None
        if found is None or not hmac.compare_digest(found.digest, digest):
            return None
        return found

    def remember(self, login: str, entry: Remembered) -> None:
        if self.seconds > 0:
            self._entries.put(login, entry)
