"""Logging in over a mail protocol, shared by IMAP and POP3: SASL PLAIN (RFC 4616)
decoding, and the check through services.auth with its throttle delay taken off the loop.
Each protocol maps the outcome to its own replies."""

from __future__ import annotations

import asyncio

from groupware.blocking import Blocking
from groupware.errors import AuthFailed
from groupware.services import Services
from groupware.services.access import Principal


class BadPlain(ValueError):
    """A PLAIN response that is malformed or asks to act as someone else."""


def split_plain(response: bytes) -> tuple[str, str]:
    """(user, password) from `[authzid] NUL authcid NUL passwd`; acting as another user
    (an authzid that is not the authcid) is refused."""
    parts = response.split(b"\x00")
    if len(parts) != 3:
        raise BadPlain("Malformed PLAIN response")
    try:
        authzid, user, password = (part.decode("utf-8") for part in parts)
    except UnicodeDecodeError:
        raise BadPlain("PLAIN response is not UTF-8") from None
    if authzid and authzid.lower() != user.lower():
        raise BadPlain("Acting as another user is not supported")
    return user, password


async def log_in(
    services: Services, blocking: Blocking, user: str, password: str, service: str, peer: str
) -> Principal:
    """The user's principal, with their default mailboxes made on first login. Raises
    TryLater (locked out) or AuthFailed, the latter after the throttle's delay."""
    try:
        login = await blocking.call(services.auth.authenticate, user, password, service, peer)
    except AuthFailed as failure:
        await asyncio.sleep(failure.retry_after)  # the delay, without holding a thread
        raise
    principal = login.principal
    assert principal.user_id is not None
    await blocking.call(services.mailboxes.ensure_defaults_if_new, principal.user_id)
    return principal
