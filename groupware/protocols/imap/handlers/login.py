"""Not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE PLAIN, all checked by
services.auth (passwords and app passwords, throttled and audited there)."""

from __future__ import annotations

import asyncio
import base64
import binascii

from groupware.errors import AuthFailed, TryLater
from groupware.protocols.imap import commands as c
from groupware.protocols.imap.handlers.anystate import capabilities
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session


# RFC 9051 §6.2.1 STARTTLS
async def cmd_starttls(session: Session, command: c.StartTLS) -> str | None:
    if session.channel.secure or not session.tls_available:
        raise Refused("TLS is already active or not available", bad=True)
    session.write(b"%s OK Begin TLS negotiation now\r\n" % command.tag.encode())
    await session.channel.drain()
    await session.channel.start_tls()  # refuses commands pipelined behind STARTTLS
    return ""


# RFC 9051 §6.2.3 LOGIN
async def cmd_login(session: Session, command: c.Login) -> str | None:
    _require_privacy(session)
    return await _log_in(session, command.user, command.password)


# RFC 9051 §6.2.2 AUTHENTICATE; RFC 4616 PLAIN; RFC 4959 SASL-IR
async def cmd_authenticate(session: Session, command: c.Authenticate) -> str | None:
    if command.mechanism != "PLAIN":
        raise Refused(f"Unsupported mechanism {command.mechanism}", "CANNOT")
    _require_privacy(session)
    response = command.initial
    if response is None:
        session.write(b"+ \r\n")
        await session.channel.drain()
        line = await session.channel.readline()
        if line.strip() == b"*":  # RFC 9051 §6.2.2: the client cancels
            raise Refused("Authentication cancelled", bad=True)
        try:
            response = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Refused("Invalid base64 response", bad=True) from None
    parts = response.split(b"\x00")
    if len(parts) != 3:
        raise Refused("Malformed PLAIN response", bad=True)
    authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
    if authzid and authzid.lower() != user.lower():
        raise Refused("Acting as another user is not supported", "AUTHORIZATIONFAILED")
    return await _log_in(session, user, password)


def _require_privacy(session: Session) -> None:
    if not session.plaintext_allowed():
        raise Refused("Use STARTTLS (or port 993) before logging in", "PRIVACYREQUIRED")


async def _log_in(session: Session, user: str, password: str) -> str:
    auth = session.services.auth
    try:
        login = await session.call(auth.authenticate, user, password, "imap", session.channel.peer)
    except TryLater:
        raise Refused("Too many failed logins; try again later", "UNAVAILABLE") from None
    except AuthFailed as failure:
        await asyncio.sleep(failure.retry_after)  # the throttle's delay, off the loop
        raise Refused("Authentication failed", "AUTHENTICATIONFAILED") from None
    principal = login.principal
    assert principal.user_id is not None
    await session.call(session.services.mailboxes.ensure_defaults_if_new, principal.user_id)
    if not session.log_in(principal):
        raise Refused("Too many connections for this account", "LIMIT")
    return f"[CAPABILITY {' '.join(capabilities(session))}] Logged in"
