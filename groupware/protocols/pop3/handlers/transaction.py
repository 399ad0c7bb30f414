"""TRANSACTION state: STAT, LIST, UIDL, RETR, TOP, DELE, RSET and NOOP over the maildrop
snapshot taken at login. Deletions stay marks in the session until QUIT (anystate.py)."""

from __future__ import annotations

from groupware.errors import NotFound
from groupware.protocols.pop3 import commands as c
from groupware.protocols.pop3 import wire
from groupware.protocols.pop3.maildrop import INBOX
from groupware.protocols.pop3.replies import Refused
from groupware.protocols.pop3.session import Hangup, Session

CHUNK = 64 * 1024  # RETR sends a message in reads of this size


# RFC 1939 §5 STAT
async def cmd_stat(session: Session, command: c.Stat) -> str | None:
    count, size = session.maildrop.stat()
    return f"{count} {size}"


# RFC 1939 §5 LIST
async def cmd_list(session: Session, command: c.List) -> str | None:
    drop = session.maildrop
    if command.message is not None:
        return f"{command.message} {drop.message(command.message).size}"
    count, size = drop.stat()
    lines = b"".join(b"%d %d\r\n" % (number, state.size) for number, state in drop.listing())
    session.write(wire.multiline(f"{count} messages ({size} octets)", lines))
    return ""


# RFC 1939 §7 UIDL
async def cmd_uidl(session: Session, command: c.Uidl) -> str | None:
    drop = session.maildrop
    if command.message is not None:
        return f"{command.message} {drop.unique_id(drop.message(command.message))}"
    lines = "".join(f"{number} {drop.unique_id(state)}\r\n" for number, state in drop.listing())
    session.write(wire.multiline("Unique-ID listing follows", lines.encode()))
    return ""


# RFC 1939 §5 RETR
async def cmd_retr(session: Session, command: c.Retr) -> str | None:
    # Dovecot's default, kept: RETR does not set \Seen (POP3 has no flags to show it).
    state = session.maildrop.message(command.message)
    try:
        handle = await session.call(
            session.services.fetch.open_message, session.actor, INBOX, state.uid
        )
    except NotFound:
        raise _removed(command.message) from None
    try:
        # The stored size is the message's size (CRLF line ends), as LIST says.
        session.write(b"+OK %d octets\r\n" % state.size)
        stuffer = wire.DotStuffer()
        while True:
            try:
                chunk = await session.call(handle.read, CHUNK)
            except OSError as error:  # half a reply is out: nothing sensible can follow
                raise Hangup(f"reading UID {state.uid} failed: {error}") from None
            if not chunk:
                break
            session.write(stuffer.feed(chunk))
            await session.channel.drain()  # one chunk in memory, however big the message
        session.write(stuffer.end())
    finally:
        handle.close()
    return ""


# RFC 1939 §7 TOP
async def cmd_top(session: Session, command: c.Top) -> str | None:
    data = await _content(session, command.message)
    session.write(wire.multiline("Top of message follows", wire.top(data, command.lines)))
    return ""


# RFC 1939 §5 DELE
async def cmd_dele(session: Session, command: c.Dele) -> str | None:
    session.maildrop.delete(command.message)
    return f"Message {command.message} deleted"


# RFC 1939 §5 RSET
async def cmd_rset(session: Session, command: c.Rset) -> str | None:
    drop = session.maildrop
    drop.deleted.clear()
    count, size = drop.stat()
    return f"Maildrop has {count} message{'' if count == 1 else 's'} ({size} octets)"


# RFC 1939 §5 NOOP
async def cmd_noop(session: Session, command: c.Noop) -> str | None:
    return None


async def _content(session: Session, number: int) -> bytes:
    state = session.maildrop.message(number)
    fetch = session.services.fetch
    found = await session.call(fetch.summaries, session.actor, INBOX, [state.uid], content=True)
    if not found or found[0].content is None:
        raise _removed(number)
    return found[0].content


def _removed(number: int) -> Refused:
    # No lock on the maildrop (see _log_in): IMAP may have expunged it since login.
    return Refused(f"Message {number} was removed by another session")
