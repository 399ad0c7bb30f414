"""Service errors as POP3 -ERR lines: the one place that picks the response code (RFC 2449
§8, RFC 3206 SYS/TEMP, SYS/PERM, AUTH). A new error class gets its line in `reply_for`."""

from __future__ import annotations

from groupware.errors import (
    AuthFailed,
    GroupwareError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TryLater,
    Unavailable,
)


class Refused(Exception):
    """A handler's own -ERR: `code` is the RFC 2449 response code without brackets."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text, self.code = text, code

    def line(self) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"-ERR {code}{self.text}\r\n".encode()


def reply_for(error: GroupwareError) -> Refused:
    text = _one_line(str(error)) or type(error).__name__
    if isinstance(error, AuthFailed):
        return Refused("Authentication failed", "AUTH")
    if isinstance(error, TryLater):
        return Refused("Too many failed logins; try again later", "SYS/TEMP")
    if isinstance(error, Unavailable):
        return Refused(text, "SYS/TEMP")
    if isinstance(error, PermissionDenied):
        return Refused(text, "SYS/PERM")
    if isinstance(error, NotFound | InvalidInput):
        return Refused(text)
    return Refused("Internal error; the problem was logged", "SYS/TEMP")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
