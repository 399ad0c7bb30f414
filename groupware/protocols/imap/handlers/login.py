"""Not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE PLAIN, all checked by
services.auth (passwords and app passwords, throttled and audited there)."""

from __future__ import annotations

import base64
import binascii

from groupware.errors import AuthFailed, TryLater
from groupware.protocols.imap import commands as c
from groupware.protocols.imap.handlers.anystate import capabilities
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session
from groupware.protocols.logins import BadPlain, log_in, split_plain


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
    try:
        user, password = split_plain(response)
    except BadPlain as error:
        raise Refused(str(error), "AUTHORIZATIONFAILED") from None
    return await _log_in(session, user, password)


def _require_privacy(session: Session) -> None:
    if not session.plaintext_allowed():
        raise Refused("Use STARTTLS (or port 993) before logging in", "PRIVACYREQUIRED")


async def _log_in(session: Session, user: str, password: str) -> str:
    peer = session.channel.peer
    try:
        principal = await log_in(session.services, session.blocking, user, password, "imap", peer)
    except TryLater:
        raise Refused("Too many failed logins; try again later", "UNAVAILABLE") from None
    except AuthFailed:
        raise Refused("Authentication failed", "AUTHENTICATIONFAILED") from None
    if not session.log_in(principal):
        raise Refused("Too many connections for this account", "LIMIT")
    return f"[CAPABILITY {' '.join(capabilities(session))}] Logged in"
