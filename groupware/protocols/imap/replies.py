"""Service errors as IMAP tagged replies: the one place that picks NO or BAD and the
response code (RFC 5530). A new error class gets its line in `reply_for`."""

from __future__ import annotations

from groupware.errors import (
    AlreadyExists,
    AuthFailed,
    GroupwareError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    TryLater,
    Unavailable,
)


class Refused(Exception):
    """A handler's own NO (or BAD): `code` is the response code without brackets."""

    def __init__(self, text: str, code: str | None = None, bad: bool = False) -> None:
        super().__init__(text)
        self.text, self.code, self.bad = text, code, bad


def reply_for(error: GroupwareError) -> Refused:
    """RFC 5530 response codes for the service errors."""
    text = _one_line(str(error)) or type(error).__name__
    if isinstance(error, QuotaExceeded):
        return Refused(text, "OVERQUOTA")
    if isinstance(error, NotFound):
        return Refused(text, "NONEXISTENT")
    if isinstance(error, AlreadyExists):
        return Refused(text, "ALREADYEXISTS")
    if isinstance(error, PermissionDenied):
        return Refused(text, "NOPERM")
    if isinstance(error, AuthFailed):
        return Refused("Authentication failed", "AUTHENTICATIONFAILED")
    if isinstance(error, TryLater):
        return Refused("Too many failed logins; try again later", "UNAVAILABLE")
    if isinstance(error, Unavailable):
        return Refused(text, "UNAVAILABLE")
    if isinstance(error, InvalidInput):
        return Refused(text, "CANNOT")
    return Refused("Internal error", "SERVERBUG")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
