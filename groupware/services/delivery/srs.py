"""The Sender Rewriting Scheme: the envelope sender of mail we forward, rewritten into our
domain so SPF passes at the destination, and read back when a bounce comes home. The
format is libsrs2's (see `forward_sender`); `Srs` keeps the key, shared by every node,
and counts bad SRS addresses against the client that tried them, as failed logins are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from groupware.errors import NotFound, TryLater
from groupware.model.base import utcnow
from groupware.model.delivery import ServerSecret
from groupware.services.auth.throttle import Throttle, srs_key
from groupware.store import Database

MAX_AGE_DAYS = 21  # how long a bounce may take to come back
# 8 base32 characters are 40 bits of HMAC: finding an address that relays to a chosen one
# takes about 2**39 guesses, against 2**19 (a day's work) for libsrs2's default of 4.
HASH_LENGTH = 8
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
_DAY = 86400


class SrsRefused(NotFound):
    """An SRS address of a hosted domain that does not reverse: forged, broken or too old;
    `retry_after` is the back-off a front door should wait before saying so."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


def forward_sender(
    mail_from: str, local_domain: str, secret: bytes, now: float | None = None
) -> str:
    """The envelope sender to use when forwarding mail from `mail_from` via `local_domain`:

        SRS0=HHHHHHHH=TT=orig-domain=orig-local@local_domain
        SRS1=HHHHHHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@local_domain

    HHHHHHHH is the first HASH_LENGTH base32 characters of HMAC-SHA256(key, the lower-cased
    fields joined by "=": a domain holds no "=", so no field can borrow from the next); TT the
    day number mod 1024 in 2 base32 characters. An SRS0 address from another forwarder
    is wrapped as SRS1 (a bounce then goes straight back to that first forwarder, which
    checks its own hash and age; we check the age too); an SRS1 keeps its first forwarder
    and gets our hash. The null sender, and senders of `local_domain` itself, stay as
    they are.
    """
    if not mail_from:
        return ""  # a bounce stays a bounce (RFC 5321 §4.5.5)
    local, at, domain = mail_from.rpartition("@")
    if not at or not local:
        return mail_from
    local_domain = local_domain.lower()
    if domain.lower() == local_domain:
        return mail_from  # ours already: SPF passes as it is
    kind = local[:5].upper()
    if kind == "SRS0=":  # someone else's rewrite: point bounces straight back to them
        opaque = local[4:]  # "=HHHH=TT=domain=local"
        return f"SRS1={_hash(secret, domain, opaque)}={domain}={opaque}@{local_domain}"
    if kind == "SRS1=":
        parts = local[5:].split("=", 2)
        if len(parts) == 3 and parts[1] and parts[2].startswith("="):
            first, opaque = parts[1], parts[2]
            return f"SRS1={_hash(secret, first, opaque)}={first}={opaque}@{local_domain}"
    stamp = _stamp(now)
    return f"SRS0={_hash(secret, stamp, domain, local)}={stamp}={domain}={local}@{local_domain}"


def reverse(address: str, secret: bytes, now: float | None = None) -> str | None:
    """The address an SRS address of ours stands for, or None: not SRS, forged, too old."""
    local, at, _domain = address.rpartition("@")
    kind = local[:5].upper()
    if not at:
        return None
    if kind == "SRS0=":
        parts = local[5:].split("=", 3)
        if len(parts) != 4 or not all(parts):
            return None
        given, stamp, orig_domain, orig_local = parts
        if not _same(given, _hash(secret, stamp, orig_domain, orig_local)):
            return None
        if not _fresh(stamp, now):
            return None
        return f"{orig_local}@{orig_domain}"
    if kind == "SRS1=":
        parts = local[5:].split("=", 2)
        if len(parts) != 3 or not parts[1] or not parts[2].startswith("="):
            return None
        given, first, opaque = parts
        if not _same(given, _hash(secret, first, opaque)):
            return None
        # The opaque part is the first forwarder's "=HHHH=TT=domain=local" (their hash, of
        # whatever length they use): its stamp is about the day the mail passed here too,
        # so an old SRS1 expires like an old SRS0.
        inner = opaque[1:].split("=", 3)
        if len(inner) != 4 or not all(inner) or not _fresh(inner[1], now):
            return None
        return f"SRS0{opaque}@{first}"  # the first forwarder checks its own hash
    return None


def is_srs(address: str) -> bool:
    return address[:5].upper() in {"SRS0=", "SRS1="}


def _hash(secret: bytes, *fields: str) -> str:
    message = "=".join(fields).lower().encode("utf-8", "surrogateescape")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:HASH_LENGTH]


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.upper().encode(), expected.encode())


def _day(now: float | None) -> int:
    return int((time.time() if now is None else now) // _DAY)


def _stamp(now: float | None) -> str:
    day = _day(now) % 1024
    return _ALPHABET[day >> 5] + _ALPHABET[day & 31]


def _fresh(stamp: str, now: float | None) -> bool:
    stamp = stamp.upper()
    if len(stamp) != 2 or any(ch not in _ALPHABET for ch in stamp):
        return False
    then = _ALPHABET.index(stamp[0]) << 5 | _ALPHABET.index(stamp[1])
    return (_day(now) - then) % 1024 <= MAX_AGE_DAYS


class Srs:
    """SRS with the server's key, made at first use and kept in `server_secrets`.

    A wrong hash is how a guesser learns nothing yet; each one counts against the client
    address in the login throttle (same table, same limits as failed logins per address),
    so a guesser gets a handful of tries per lock-out instead of the million a 20-bit hash
    needed. The key is "srs:<network>", not the "ip:" of failed logins: anyone can send
    bad recipients without an account, and would otherwise lock everyone behind the same
    address (a NAT) out of every login.
    """

    NAME = "srs"

    def __init__(self, database: Database, throttle: Throttle) -> None:
        self._db = database
        self._throttle = throttle
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self._load()
        return self._secret

    def forward_sender(self, mail_from: str, local_domain: str) -> str:
        return forward_sender(mail_from, local_domain, self.secret)

    def reverse(self, address: str) -> str | None:
        return reverse(address, self.secret) if is_srs(address) else None

    def check_client(self, peer_ip: str) -> None:
        """Raise TryLater while `peer_ip` is locked out of SRS recipients (too many bad SRS
        addresses; failed logins do not count here)."""
        now = utcnow()
        with self._db.read() as session:
            lock = self._throttle.locked(session, [srs_key(peer_ip)], now)
        if lock is not None:
            wait = max(1.0, (lock.until - now).total_seconds())
            raise TryLater(f"too many bad addresses: try again in {int(wait)} s", wait)

    def count_refusal(self, peer_ip: str) -> float:
        """Count a bad SRS address against `peer_ip`; the delay before answering it."""
        with self._db.write() as session:
            failures = self._throttle.failure(session, [srs_key(peer_ip)], utcnow())
        return self._throttle.backoff(failures)

    def _load(self) -> bytes:
        with self._db.read() as session:
            value = session.scalar(select(ServerSecret.value).where(ServerSecret.name == self.NAME))
        if value is None:
            try:
                with self._db.write() as session:
                    session.add(ServerSecret(name=self.NAME, value=secrets.token_urlsafe(32)))
            except IntegrityError:
                pass  # another node made it first: use theirs
            with self._db.read() as session:
                value = session.scalar(
                    select(ServerSecret.value).where(ServerSecret.name == self.NAME)
                )
        if value is None:
            raise RuntimeError("the SRS key could not be stored")
        return value.encode("ascii")
