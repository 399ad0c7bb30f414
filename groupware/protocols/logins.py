"""Logging in over a mail protocol, shared by IMAP and POP3: SASL PLAIN (RFC 4616)
decoding, and the check through services.auth with its throttle's waits taken off the loop
(SMTP AUTH uses the same check). Each protocol maps the outcome to its own replies."""

from __future__ import annotations

import asyncio

from groupware.blocking import Blocking
from groupware.errors import AuthFailed, TryLater
from groupware.services import Services
from groupware.services.auth.login import Login
from groupware.services.core.access import Principal


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


async def check(
    services: Services, blocking: Blocking, user: str, password: str, service: str, peer: str
) -> Login:
    """services.auth's check (a success remembered a while: reconnecting clients pay
    argon2 once) off the loop, waiting without a thread: a failure is
    answered after the throttle's back-off, and a refusal short enough (an account's
    attempts from unknown addresses spaced out) is waited out and tried once more, so a
    user's new device is slowed down rather than turned away. Raises TryLater or
    AuthFailed."""
    auth = services.auth
    for attempt in range(2):
        try:
            return await blocking.call(auth.authenticate_remembered, user, password, service, peer)
        except TryLater as refusal:
            if attempt or refusal.retry_after > auth.config.backoff_max:
                raise
            await asyncio.sleep(refusal.retry_after)
        except AuthFailed as failure:
            await asyncio.sleep(failure.retry_after)  # the delay, without holding a thread
            raise
    raise AssertionError("unreachable")


async def log_in(
    services: Services, blocking: Blocking, user: str, password: str, service: str, peer: str
) -> Principal:
    """The user's principal (as `check` finds it), with their default mailboxes made on
    first login."""
    principal = (await check(services, blocking, user, password, service, peer)).principal
    assert principal.user_id is not None
    await blocking.call(services.mailboxes.ensure_defaults_if_new, principal.user_id)
    return principal
