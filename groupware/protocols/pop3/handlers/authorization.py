"""AUTHORIZATION state: STLS, USER/PASS and AUTH PLAIN, all checked by services.auth
(passwords and app passwords, throttled and audited there); a login loads the maildrop."""

from __future__ import annotations

from groupware.errors import AuthFailed, TryLater
from groupware.protocols.logins import BadPlain, log_in, split_plain
from groupware.protocols.pop3 import commands as c
from groupware.protocols.pop3 import grammar, wire
from groupware.protocols.pop3.maildrop import INBOX, Maildrop
from groupware.protocols.pop3.replies import Refused
from groupware.protocols.pop3.session import Session
from groupware.services import Services
from groupware.services.core.access import Principal


# RFC 2595 §4 STLS
async def cmd_stls(session: Session, command: c.Stls) -> str | None:
    if session.channel.secure or not session.tls_available:
        raise Refused("TLS is already active or not available")
    session.ok("Begin TLS negotiation")
    await session.channel.drain()
    await session.channel.start_tls()  # hangs up on commands pipelined behind STLS
    session.user = None  # nothing said in clear carries over
    return ""


# RFC 1939 §7 USER
async def cmd_user(session: Session, command: c.User) -> str | None:
    _require_privacy(session)
    # RFC 1939 allows -ERR for an unknown mailbox; we never say, so names cannot be probed.
    session.user = command.name
    return "Send your password"


# RFC 1939 §7 PASS
async def cmd_pass(session: Session, command: c.Pass) -> str | None:
    user, session.user = session.user, None  # a failed PASS needs a new USER (§7)
    if user is None:
        raise Refused("Send USER first")
    _require_privacy(session)
    return await _log_in(session, user, command.password)


# RFC 5034 §4 AUTH; RFC 4616 PLAIN
async def cmd_auth(session: Session, command: c.Auth) -> str | None:
    if command.mechanism is None:
        # A bare AUTH lists the mechanisms (pre-RFC 5034 clients still ask this way).
        offered = b"PLAIN\r\n" if session.plaintext_allowed() else b""
        session.write(wire.multiline("SASL mechanisms follow", offered))
        return ""
    if command.mechanism != "PLAIN":
        raise Refused(f"Unsupported SASL mechanism {command.mechanism}")
    _require_privacy(session)
    session.user = None
    response = command.initial
    if response is None:
        session.write(b"+ \r\n")  # RFC 5034 §4: an empty challenge
        await session.channel.drain()
        try:
            response = grammar.parse_sasl_response(await session.channel.readline())
        except grammar.ParseError as error:
            raise Refused(error.message) from None
        if response is None:
            raise Refused("Authentication cancelled")
    try:
        user, password = split_plain(response)
    except BadPlain as error:
        raise Refused(str(error), "AUTH") from None
    return await _log_in(session, user, password)


def _require_privacy(session: Session) -> None:
    if not session.plaintext_allowed():
        # The words Dovecot uses, which clients show to users.
        raise Refused("Plaintext authentication disallowed on non-secure connections", "AUTH")


async def _log_in(session: Session, user: str, password: str) -> str:
    peer = session.channel.peer
    try:
        principal = await log_in(session.services, session.blocking, user, password, "pop3", peer)
    except TryLater:
        raise Refused("Too many failed logins; try again later", "SYS/TEMP") from None
    except AuthFailed:
        raise Refused("Authentication failed", "AUTH") from None
    # deviation(RFC 1939 §4): no exclusive lock on the maildrop; IMAP sessions (and other
    # POP3 ones) share the INBOX, and what they expunge meanwhile answers -ERR here.
    drop = await session.call(_snapshot, session.services, principal)
    session.log_in(principal, drop)
    count, size = drop.stat()
    return f"Logged in; {count} message{'' if count == 1 else 's'} ({size} octets)"


def _snapshot(services: Services, principal: Principal) -> Maildrop:
    """The INBOX at login: its UIDVALIDITY (for UIDL) and every message's state."""
    uidvalidity = services.mailboxes.get(principal, INBOX).uidvalidity
    _, states = services.messages.index(principal, INBOX)
    return Maildrop(uidvalidity, tuple(states))
