"""Service errors and policy refusals as SMTP replies (RFC 5321 §4.2, RFC 3463 codes):
the one place SMTP wording lives. Add a reply here, never inline in the handler.
"""

from __future__ import annotations

from groupware.errors import (
    GroupwareError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    TryLater,
    Unavailable,
)

OK_SENDER = "250 2.1.0 Sender OK"
OK_RECIPIENT = "250 2.1.5 Recipient OK"
NO_SUCH_USER = "550 5.1.1 No such recipient here"
MAILBOX_DISABLED = "550 5.2.1 Mailbox disabled"
SRS_REFUSED = "550 5.1.1 Forwarding return address invalid or expired"
SRS_THROTTLED = "450 4.7.1 Too many bad addresses from this client; try again later"
RELAY_DENIED = "554 5.7.1 Relaying denied: authenticate to send to other domains"
SENDER_NOT_OWNED = "553 5.7.1 Sender address not owned by the authenticated user"
AUTHOR_NOT_OWNED = (
    "553 5.7.1 From:, Sender: or Resent-From: address not owned by the authenticated user"
)
AUTHOR_UNREADABLE = (
    "550 5.6.0 Message needs exactly one From: header field with readable addresses"
    " (and at most one Sender:; a Resent- block needs a readable Resent-From:)"
)
AUTH_REQUIRED = "530 5.7.0 Authentication required"
BAD_SENDER = "553 5.1.7 Malformed sender address"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
MAILBOX_FULL = "452 4.2.2 Mailbox full"
TOO_BIG_FOR_MAILBOX = "552 5.2.2 Message exceeds the mailbox quota"
BARE_LINE_ENDING = "550 5.6.0 Bare LF or CR in message: lines must end in CRLF"
LINE_TOO_LONG = "550 5.6.0 Line longer than 998 characters"
MESSAGE_TOO_BIG = "552 5.3.4 Message too big for this server"
TIMEOUT = "421 4.4.2 Timeout: closing the connection"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections; try again later"
TOO_MANY_ERRORS = "421 4.7.0 Too many errors: closing the connection"
LOCAL_ERROR = "451 4.3.0 Local error in processing; try again later"
BUSY = "451 4.3.2 Too many messages in processing; try again later"
DMARC_REJECT = "550 5.7.1 Rejected by the sender domain's DMARC policy"
NO_RECIPIENTS = "554 5.5.1 No valid recipients"
AUTH_THROTTLED = "454 4.7.0 Too many failed logins; try again later"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"


def reply_for(error: GroupwareError) -> str:
    """The reply to a service error raised while handling a command."""
    if isinstance(error, QuotaExceeded):
        return MAILBOX_FULL
    if isinstance(error, NotFound):
        return NO_SUCH_USER
    if isinstance(error, PermissionDenied):
        return SENDER_NOT_OWNED
    if isinstance(error, InvalidInput):
        return f"501 5.5.4 {_one_line(str(error))}"
    if isinstance(error, TryLater | Unavailable):
        return LOCAL_ERROR
    return LOCAL_ERROR


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
