"""Password hashing (argon2id), strength rules and generated secrets.

The hasher's cost is argon2-cffi's RFC 9106 "low memory" profile; `needs_rehash`
upgrades stored hashes on the next successful login when the profile changes.
"""

from __future__ import annotations

import functools
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from groupware.errors import InvalidInput

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
_ALPHABET = string.ascii_letters + string.digits


@functools.cache
def dummy_hash() -> str:
    """A hash of a random secret: checking unknown logins against it costs as much as a
    real check, so response time does not reveal which accounts exist."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def check_strength(password: str, min_length: int) -> None:
    """Refuse passwords too short or too uniform to resist guessing."""
    if len(password) < min_length:
        raise InvalidInput(f"password too short: at least {min_length} characters")
    if len(password) > 1024:
        raise InvalidInput("password too long: at most 1024 characters")
    if len(set(password)) < 4:
        raise InvalidInput("password too weak: use more different characters")
    if any(ch in password for ch in "\r\n\x00"):
        raise InvalidInput("password must not contain line breaks or NUL")


def generate_password(length: int = 20) -> str:
    """A random password of letters and digits, easy to paste and type."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_app_password() -> str:
    """Four groups of four lower-case letters/digits, as phone keyboards like them."""
    alphabet = string.ascii_lowercase + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
