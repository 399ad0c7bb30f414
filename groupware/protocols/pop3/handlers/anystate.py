"""Commands valid in both states: CAPA and QUIT (which, in TRANSACTION, runs the UPDATE
state), and the capability list itself. A new capability is a line in `capabilities`."""

from __future__ import annotations

import logging

from groupware.errors import GroupwareError
from groupware.protocols.pop3 import commands as c
from groupware.protocols.pop3 import wire
from groupware.protocols.pop3.maildrop import INBOX
from groupware.protocols.pop3.replies import Refused
from groupware.protocols.pop3.session import Session, State

log = logging.getLogger(__name__)


def capabilities(session: Session) -> list[str]:
    """RFC 2449 §5: the same list in both states (what AUTHORIZATION offers must be
    announced in TRANSACTION too); USER and SASL only where a password may be sent."""
    names = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
    if session.plaintext_allowed():
        names += ["USER", "SASL PLAIN"]
    if session.tls_available and not session.channel.secure:
        names.append("STLS")
    names.append("IMPLEMENTATION groupware")
    return names


# RFC 2449 §5 CAPA
async def cmd_capa(session: Session, command: c.Capa) -> str | None:
    lines = "".join(f"{name}\r\n" for name in capabilities(session))
    session.write(wire.multiline("Capability list follows", lines.encode()))
    return ""


# RFC 1939 §4 QUIT (AUTHORIZATION), §6 QUIT and the UPDATE state (TRANSACTION)
async def cmd_quit(session: Session, command: c.Quit) -> str | None:
    session.done = True
    if session.state is not State.TRANSACTION:
        return "groupware POP3 server signing off"
    session.state = State.UPDATE
    drop = session.maildrop
    uids = drop.marked_uids()
    if uids:
        try:
            # Exactly those UIDs, in one transaction: not what IMAP flagged meanwhile.
            await session.call(session.services.messages.delete, session.actor, INBOX, uids)
        except GroupwareError as error:
            log.warning("POP3 UPDATE for %s failed: %s", session.actor.address, error)
            raise Refused("Some deleted messages were not removed", "SYS/TEMP") from None
    left, _ = drop.stat()
    status = f"{left} message{'' if left == 1 else 's'} left" if left else "maildrop empty"
    return f"groupware POP3 server signing off ({status})"
