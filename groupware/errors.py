"""Protocol-neutral errors raised by services and mapped to the wire at each front door.

Add a class here only when a front door must answer it differently from the others.
"""


class GroupwareError(Exception):
    """Base of every error a service raises on purpose; `str()` is safe to show a user."""


class NotFound(GroupwareError):
    """The named object does not exist (or the caller may not know that it does)."""


class AlreadyExists(GroupwareError):
    """Creating something whose name or address is taken."""


class PermissionDenied(GroupwareError):
    """`access.can` said no; the message names the permission and the scope."""


class QuotaExceeded(GroupwareError):
    """A write would take an account over its quota; `permanent` when the write alone is
    bigger than the whole quota (no amount of deleting makes room: SMTP 552, not 452)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class InvalidInput(GroupwareError):
    """Malformed or unacceptable input: a bad address, a weak password, an unknown key."""


class AuthFailed(GroupwareError):
    """Wrong login or secret; `retry_after` is the back-off a front door should wait first."""

    def __init__(self, message: str = "authentication failed", retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(GroupwareError):
    """A backing service (the database) cannot be reached or is not set up."""


class TryLater(GroupwareError):
    """Temporarily refused (throttled, locked out, overloaded); retry after `retry_after` s."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after
