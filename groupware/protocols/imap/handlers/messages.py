"""Selected state, changing messages: STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE, CLOSE,
UNSELECT, CHECK; and APPEND and IDLE, which the authenticated state allows too."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from groupware import spool
from groupware.errors import NotFound
from groupware.mime.binary import encode_binary_parts, needs_conversion
from groupware.protocols.imap import commands as c
from groupware.protocols.imap import sections, urls, wire
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.selected import compact_set
from groupware.protocols.imap.session import Session, State

STORE_MODES = {"": "replace", "+": "add", "-": "remove"}
SYSTEM = {f.lower(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}


def normalize_flags(flags: tuple[str, ...] | list[str]) -> list[str]:
    """System flags spelled one way; \\Recent dropped (RFC 9051 §2.3.2: not settable)."""
    result = []
    for flag in flags:
        if flag.lower() == "\\recent":
            continue
        if flag.startswith("\\") and flag.lower() not in SYSTEM:
            raise Refused(f"Unknown system flag {flag}", bad=True)
        result.append(SYSTEM.get(flag.lower(), flag))
    return result


def _writable(session: Session) -> None:
    if session.selected.readonly:
        raise Refused("Mailbox is read-only", "READ-ONLY")


# RFC 9051 §6.4.6 STORE; RFC 7162 §3.1.3 UNCHANGEDSINCE
async def cmd_store(session: Session, command: c.Store) -> str | None:
    view = session.selected
    _writable(session)
    uids = view.resolve(command.set, command.uid, session.saved_search)
    flags = normalize_flags(command.flags)
    messages = session.services.messages
    changed, refused = await session.call(
        messages.store_flags,
        session.actor,
        view.name,
        uids,
        STORE_MODES[command.mode],
        flags,
        command.unchangedsince,
    )
    view.own_modseqs.update(s.modseq for s in changed)
    if command.unchangedsince is not None:
        await session.enable_condstore()
    condstore = "CONDSTORE" in session.enabled
    states = {s.uid: (s.flags, s.modseq) for s in changed}
    view.flags.update((uid, names) for uid, (names, _) in states.items())
    view.flag_modseqs.update((uid, modseq) for uid, (_, modseq) in states.items())
    if not command.silent:
        # RFC 9051 §6.4.6: the new flags of every message named, changed or not.
        # Read, not taken from the view's cache: a message expunged elsewhere must not
        # look as if the change stuck (RFC 2180 §4.2).
        others = [u for u in uids if u not in states and u not in refused]
        if others:
            fetch = session.services.fetch
            for summary in await session.call(fetch.summaries, session.actor, view.name, others):
                states[summary.uid] = (summary.flags, summary.modseq)
    changed_uids = {s.uid for s in changed}
    for uid in sorted(states):
        names, modseq = states[uid]
        seq = view.seq_of(uid)
        if seq is None or (command.silent and not (condstore and uid in changed_uids)):
            continue
        items = []
        if command.uid or "QRESYNC" in session.enabled:  # RFC 7162 §3.2.4
            items.append(b"UID %d" % uid)
        if not command.silent:
            items.append(b"FLAGS " + view.flag_list(uid, names))
        if condstore:
            items.append(b"MODSEQ (%d)" % modseq)
        session.untagged(b"%d FETCH (" % seq + b" ".join(items) + b")")
    if refused:
        numbers = refused if command.uid else [view.seq_of(u) or 0 for u in refused]
        return f"[MODIFIED {compact_set(numbers)}] Conditional STORE failed"
    if not command.silent and not command.uid and len(states) + len(refused) < len(uids):
        raise Refused("Some messages were expunged meanwhile; NOOP will tell", "EXPUNGEISSUED")
    return None


# RFC 9051 §6.4.7 COPY; RFC 4315 COPYUID
async def cmd_copy(session: Session, command: c.Copy) -> str | None:
    return await _copy(session, command.set, command.mailbox, command.uid, move=False)


# RFC 6851 MOVE
async def cmd_move(session: Session, command: c.Move) -> str | None:
    _writable(session)
    return await _copy(session, command.set, command.mailbox, command.uid, move=True)


async def _copy(
    session: Session, wanted: c.SequenceSet, mailbox: str, uid: bool, *, move: bool
) -> str | None:
    view = session.selected
    uids = view.resolve(wanted, uid, session.saved_search)
    target = session.mailbox_in(mailbox)
    try:
        uidvalidity, pairs = await session.call(
            session.services.messages.copy, session.actor, view.name, uids, target, move=move
        )
    except NotFound:
        raise Refused("No such mailbox", "TRYCREATE") from None
    if not pairs:
        return None
    code = (
        f"COPYUID {uidvalidity} {compact_set(p[0] for p in pairs)} "
        f"{compact_set(p[1] for p in pairs)}"
    )
    if not move:
        return f"[{code}] COPY completed"
    session.untagged(f"OK [{code}] Moved")
    session.expunged([p[0] for p in pairs])
    return None


# RFC 9051 §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE
async def cmd_expunge(session: Session, command: c.Expunge) -> str | None:
    view = session.selected
    _writable(session)
    uids = None
    if command.uids is not None:
        uids = view.resolve(command.uids, True, session.saved_search)
    gone = await session.call(session.services.messages.expunge, session.actor, view.name, uids)
    session.expunged(gone)
    return None


# RFC 9051 §6.4.2 CLOSE: expunge silently (read-write only), then leave the mailbox
async def cmd_close(session: Session, command: c.Close) -> str | None:
    view = session.selected
    if not view.readonly and not view.gone:
        await session.call(session.services.messages.expunge, session.actor, view.name)
    session.deselect()
    return None


# RFC 3691 UNSELECT
async def cmd_unselect(session: Session, command: c.Unselect) -> str | None:
    _ = session.selected  # BAD when nothing is selected
    session.deselect()
    return None


# RFC 3501 §6.4.1 CHECK (everything is durable already: a NOOP)
async def cmd_check(session: Session, command: c.Check) -> str | None:
    return None


# RFC 9051 §6.3.12 APPEND; RFC 4315 APPENDUID; RFC 3502 MULTIAPPEND (each message is
# stored on its own: deviation, a failure part-way leaves the earlier ones)
async def cmd_append(session: Session, command: c.Append) -> str | None:
    name = session.mailbox_in(command.mailbox)
    literals = []
    built: list[c.Spooled] = []  # CATENATE output, written to spool files of our own
    try:
        for message in command.messages:
            literal = message.message
            if isinstance(literal, c.Catenate):  # every URL resolved before anything is stored
                room = session.limits.max_literal - sum(b.size for b in built)
                literal = await _catenated(session, name, literal, room)
                built.append(literal)
            size = literal.size if isinstance(literal, c.Spooled) else len(literal)
            if size > session.limits.max_literal:
                raise Refused("Message too big", "TOOBIG")
            if size == 0:
                raise Refused("Empty message", "CANNOT")
            literals.append(literal)
        appended = []
        for message, literal in zip(command.messages, literals, strict=True):
            # RFC 3516 §4.3 conversion off the loop: it may read a spooled file of many MB.
            literal = await session.call(_seven_bit, literal)
            with _spooled(session, literal) as path:
                try:
                    result = await session.call(
                        session.services.messages.append,
                        session.actor,
                        name,
                        path,
                        normalize_flags(message.flags),
                        message.date,
                    )
                except NotFound:
                    raise Refused("No such mailbox", "TRYCREATE") from None
            appended.append(result)
    finally:  # stored or refused, what CATENATE wrote goes
        for spooled in built:
            spooled.path.unlink(missing_ok=True)
    uids = compact_set(a.uid for a in appended)
    return f"[APPENDUID {appended[-1].uidvalidity} {uids}] APPEND completed"


async def _catenated(session: Session, mailbox: str, catenate: c.Catenate, room: int) -> c.Spooled:
    """RFC 4469 §5: the pieces joined, written to a spool file a piece at a time (never
    the whole message in memory); the target must exist (TRYCREATE first), a URL that
    names nothing here is NO [BADURL]."""
    try:
        await session.call(session.services.mailboxes.get, session.actor, mailbox)
    except NotFound:
        raise Refused("No such mailbox", "TRYCREATE") from None
    path, handle = spool.create(session.spool, "imap-catenate-")
    try:
        with handle:
            size = await session.call(_write_pieces, session, catenate.parts, handle, room)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return c.Spooled(path, size)


def _write_pieces(
    session: Session, parts: tuple[bytes | c.Spooled | str, ...], handle: BinaryIO, room: int
) -> int:
    """Write CATENATE's pieces in order (in a service thread); the octets written. One
    APPENDLIMIT (`room`) for all the messages a command builds."""
    total = 0
    for part in parts:
        if isinstance(part, c.Spooled):
            if total + part.size > room:
                raise Refused("Message too big", "TOOBIG")
            with part.path.open("rb") as source:
                shutil.copyfileobj(source, handle)
            total += part.size
            continue
        piece = _url_bytes(session, part) if isinstance(part, str) else part
        total += len(piece)
        if total > room:
            raise Refused("Message too big", "TOOBIG")
        handle.write(piece)
    return total


def _url_bytes(session: Session, text: str) -> bytes:
    """What an RFC 5092 URL names in the user's own mailboxes (in a service thread)."""
    try:
        code = "BADURL " + wire.quoted(text).decode()
    except ValueError:  # a URL that cannot be quoted back (CR, LF, 8-bit): no echo
        code = "BADURL"
    bad = Refused("The URL names no message of yours", code)
    try:
        url = urls.parse_message_url(text)
    except urls.BadUrl:
        raise bad from None
    actor = session.actor
    if url.user is not None and url.user.lower() != actor.address.lower():
        raise bad
    try:
        info = session.services.mailboxes.get(actor, url.mailbox)
        found = session.services.fetch.summaries(
            actor, url.mailbox, [url.uid], parse=url.section is not None, content=True
        )
    except NotFound:
        raise bad from None
    if not found or (url.uidvalidity is not None and url.uidvalidity != info.uidvalidity):
        raise bad
    data = found[0].content
    assert data is not None
    if url.section is not None:
        parsed = found[0].parsed
        assert parsed is not None
        data = sections.section_bytes(data, parsed.body, url.section)
        if data is None:
            raise bad
    if url.partial is not None:
        origin, length = url.partial
        data = data[origin:] if length is None else data[origin : origin + length]
    return data


def _seven_bit(literal: bytes | c.Spooled) -> bytes | c.Spooled:
    """RFC 3516 §4.3: binary parts are stored base64-encoded (BODY[] stays 8-bit clean;
    BINARY[] decodes them back)."""
    if isinstance(literal, c.Spooled):
        data = literal.path.read_bytes()
        if needs_conversion(data):
            literal.path.write_bytes(encode_binary_parts(data))
            return c.Spooled(literal.path, literal.path.stat().st_size)
        return literal
    return encode_binary_parts(literal) if needs_conversion(literal) else literal


@contextlib.contextmanager
def _spooled(session: Session, literal: bytes | c.Spooled) -> Iterator[Path]:
    """The literal as a file (the service appends from files, never from memory)."""
    if isinstance(literal, c.Spooled):
        try:
            yield literal.path
        finally:  # stored (or refused): the spool copy is not needed any more
            literal.path.unlink(missing_ok=True)
        return
    path, handle = spool.create(session.spool, "imap-")
    try:
        with handle:
            handle.write(literal)
        yield path
    finally:
        path.unlink(missing_ok=True)


# RFC 2177 IDLE (RFC 9051 §6.3.13): changes go out as they happen until DONE
async def cmd_idle(session: Session, command: c.Idle) -> str | None:
    """One autologout deadline for the whole IDLE (RFC 9051 §5.4: the client's silence
    is what counts) and one plain future per wake: a delivery to a mailbox wakes every
    session idling on it, so each wake sets and cancels no timer."""
    session.write(b"+ idling\r\n")
    loop = asyncio.get_running_loop()
    reader = asyncio.ensure_future(session.channel.readline())
    wake: asyncio.Future[None] = loop.create_future()
    expired = False

    def rouse(_: object = None) -> None:
        if not wake.done():
            wake.set_result(None)

    def expire() -> None:
        nonlocal expired
        expired = True
        rouse()

    timer = loop.call_later(session.limits.idle_timeout, expire)
    reader.add_done_callback(rouse)
    news: asyncio.Future[None] | None = None
    try:
        while True:
            await session.flush_updates()
            await session.channel.drain()
            if not reader.done() and not expired:
                wake = loop.create_future()
                if session.view is not None:
                    news = session.view.waiting_for_news()
                    news.add_done_callback(rouse)
                await wake
            if news is not None:
                news.cancel()
                news = None
            if reader.done():
                line = reader.result()
                if line.strip().upper() == b"DONE":
                    return None
                if not line:
                    session.state = State.LOGOUT
                    return ""
                raise Refused("Expected DONE", bad=True)
            if expired:  # RFC 9051 §5.4: the autologout timer ran out
                session.untagged("BYE Idle for too long")
                session.state = State.LOGOUT
                return ""
    finally:
        timer.cancel()
        if news is not None:  # the session ended while waiting (its task cancelled)
            news.cancel()
        if not reader.done():
            reader.cancel()
        elif not reader.cancelled():
            reader.exception()  # seen (a reset raised it from drain): not logged as lost
