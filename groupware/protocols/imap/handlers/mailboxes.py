"""Authenticated state, mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME,
(UN)SUBSCRIBE, NAMESPACE, STATUS, GETQUOTA(ROOT). LIST and LSUB live in listing.py."""

from __future__ import annotations

from bisect import bisect_left

from groupware.protocols.imap import commands as c
from groupware.protocols.imap import wire
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.selected import SelectedView, compact_set
from groupware.protocols.imap.session import Session, State
from groupware.services.mail.mailboxes import SEPARATOR, MailboxInfo

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


# RFC 9051 §6.3.2 SELECT, §6.3.3 EXAMINE; RFC 7162 §3.1.8 (CONDSTORE), §3.2.5 (QRESYNC)
async def cmd_select(session: Session, command: c.Select) -> str | None:
    if session.view is not None:
        session.deselect()
        if "QRESYNC" in session.enabled or session.rev2:
            session.untagged("OK [CLOSED] Previous mailbox closed")
    if command.condstore:
        await session.enable_condstore()
    if command.qresync is not None and "QRESYNC" not in session.enabled:
        raise Refused("QRESYNC needs ENABLE QRESYNC first", bad=True)
    name = session.mailbox_in(command.mailbox)
    # RFC 3501 §6.3.2: EXAMINE leaves \Recent to the next SELECT (claim=False)
    fetch = session.services.fetch
    opened = await session.call(fetch.open_mailbox, session.actor, name, claim=not command.readonly)
    info, uids = opened.mailbox, opened.uids
    first_recent = bisect_left(uids, opened.first_recent)
    view = SelectedView(
        info.id,
        info.name,
        command.readonly,
        uids,
        uids[first_recent:],
        dict(zip(uids, opened.flags, strict=True)),
        show_recent=not session.rev2,
        uidnext=info.uidnext,
        highestmodseq=info.highestmodseq,
        uidvalidity=info.uidvalidity,
    )
    distinct = set(opened.flags)
    keywords = sorted({f for names in distinct for f in names if not f.startswith("\\")})
    flags = wire.flag_list([*SYSTEM_FLAGS, *keywords])
    session.untagged(b"FLAGS " + flags)
    session.untagged(b"%d EXISTS" % view.exists)
    if session.rev2:  # RFC 9051 §6.3.2: LIST instead of RECENT and UNSEEN
        use = (info.special_use,) if info.special_use else ()
        listed = wire.flag_list(use) + b' "/" ' + session.mailbox_out(info.name)
        session.untagged(b"LIST " + listed)
    else:
        session.untagged(b"%d RECENT" % len(view.recent))
        first_unseen = next(
            (i + 1 for i, names in enumerate(opened.flags) if "\\Seen" not in names), None
        )
        if first_unseen is not None:
            session.untagged(b"OK [UNSEEN %d] First unseen" % first_unseen)
    permanent = b"()" if command.readonly else flags[:-1] + b" \\*)"
    session.untagged(b"OK [PERMANENTFLAGS " + permanent + b"] Flags permitted")
    session.untagged(b"OK [UIDVALIDITY %d] UIDs valid" % info.uidvalidity)
    session.untagged(b"OK [UIDNEXT %d] Predicted next UID" % info.uidnext)
    if "CONDSTORE" in session.enabled:
        session.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % info.highestmodseq)
    session.view = view
    session.state = State.SELECTED
    if command.qresync is not None:
        await _resync(session, command.qresync, info)
    mode = "READ-ONLY" if command.readonly else "READ-WRITE"
    return f"[{mode}] {'EXAMINE' if command.readonly else 'SELECT'} completed"


async def _resync(
    session: Session,
    qresync: tuple[int, int, c.SequenceSet | None, object],
    info: MailboxInfo,
) -> None:
    """RFC 7162 §3.2.5.2: what changed since the client's MODSEQ, if UIDVALIDITY holds."""
    uidvalidity, modseq, known, _ = qresync
    if uidvalidity != info.uidvalidity:
        return
    view = session.selected
    changed, vanished = await session.call(
        session.services.messages.changes_since, session.actor, view.name, modseq
    )
    if known is not None:
        largest = view.uids[-1] if view.uids else 0
        ranges = list(known.resolve(max(largest, max(vanished, default=0))))
        vanished = [u for u in vanished if any(lo <= u <= hi for lo, hi in ranges)]
    if vanished:
        session.untagged(b"VANISHED (EARLIER) " + compact_set(vanished).encode())
    for state in changed:
        seq = view.seq_of(state.uid)
        if seq is not None:
            flags = view.flag_list(state.uid, state.flags)
            session.untagged(
                b"%d FETCH (UID %d FLAGS %s MODSEQ (%d))" % (seq, state.uid, flags, state.modseq)
            )


# RFC 9051 §6.3.4 CREATE; RFC 6154 §3 CREATE-SPECIAL-USE
async def cmd_create(session: Session, command: c.Create) -> str | None:
    name = session.mailbox_in(command.mailbox).rstrip(SEPARATOR)  # "a/" creates "a"
    if len(command.special_use) > 1:
        raise Refused("One special use per mailbox", "USEATTR")
    use = command.special_use[0] if command.special_use else None
    if use is not None:
        use = "\\" + use.lstrip("\\").capitalize()
    try:
        await session.call(session.services.mailboxes.create, session.actor, name, use)
    except Exception as error:
        if use is not None and "special use" in str(error):
            raise Refused(str(error), "USEATTR") from None
        raise
    return None


# RFC 9051 §6.3.5 DELETE
async def cmd_delete(session: Session, command: c.Delete) -> str | None:
    name = session.mailbox_in(command.mailbox)
    view = session.view
    await session.call(session.services.mailboxes.delete, session.actor, name)
    if view is not None and view.gone:  # deviation: we deselect rather than say BYE
        session.deselect()
    return None


# RFC 9051 §6.3.6 RENAME (INBOX: its messages move, INBOX stays)
async def cmd_rename(session: Session, command: c.Rename) -> str | None:
    old = session.mailbox_in(command.old)
    new = session.mailbox_in(command.new).rstrip(SEPARATOR)
    await session.call(session.services.mailboxes.rename, session.actor, old, new)
    return None


# RFC 9051 §6.3.7 SUBSCRIBE, §6.3.8 UNSUBSCRIBE
async def cmd_subscribe(session: Session, command: c.Subscribe) -> str | None:
    name = session.mailbox_in(command.mailbox)
    mailboxes = session.services.mailboxes
    await session.call(mailboxes.subscribe, session.actor, name, command.subscribe)
    return None


# RFC 9051 §6.3.10 NAMESPACE (RFC 2342): one personal namespace, no others yet
async def cmd_namespace(session: Session, command: c.Namespace) -> str | None:
    session.untagged(f'NAMESPACE (("" "{SEPARATOR}")) NIL NIL')
    return None


# RFC 9051 §6.3.11 STATUS; RFC 8438 STATUS=SIZE; RFC 7162 HIGHESTMODSEQ
async def cmd_status(session: Session, command: c.Status) -> str | None:
    name = session.mailbox_in(command.mailbox)
    info = await session.call(session.services.mailboxes.get, session.actor, name)
    items = await status_items(session, info, command.items)
    session.untagged(b"STATUS " + session.mailbox_out(info.name) + b" (" + items + b")")
    return None


async def status_items(session: Session, info: MailboxInfo, items: tuple[str, ...]) -> bytes:
    """The STATUS attribute list (also used by LIST-STATUS)."""
    values: list[bytes] = []
    for item in items:
        item = item.upper()
        if item == "MESSAGES":
            value = info.messages
        elif item == "RECENT":
            value = await session.call(
                session.services.search.recent_count, session.actor, info.name
            )
        elif item == "UIDNEXT":
            value = info.uidnext
        elif item == "UIDVALIDITY":
            value = info.uidvalidity
        elif item == "UNSEEN":
            value = info.unseen
        elif item == "SIZE":
            value = info.size
        elif item == "HIGHESTMODSEQ":
            value = info.highestmodseq
            await session.enable_condstore()  # RFC 7162 §3.1: a CONDSTORE-enabling command
        elif item == "APPENDLIMIT":
            value = session.limits.max_literal
        else:
            raise Refused(f"Unknown STATUS item {item}", bad=True)
        values.append(b"%s %d" % (item.encode(), value))
    return b" ".join(values)


# RFC 9208 §4.2 GETQUOTA: one root per user, named ""
async def cmd_getquota(session: Session, command: c.GetQuota) -> str | None:
    if command.root != "":
        raise Refused("No such quota root", "NONEXISTENT")
    await _quota(session)
    return None


# RFC 9208 §4.3 GETQUOTAROOT
async def cmd_getquotaroot(session: Session, command: c.GetQuotaRoot) -> str | None:
    name = session.mailbox_in(command.mailbox)
    info = await session.call(session.services.mailboxes.get, session.actor, name)
    session.untagged(b"QUOTAROOT " + session.mailbox_out(info.name) + b' ""')
    await _quota(session)
    return None


async def _quota(session: Session) -> None:
    quota = await session.call(session.services.mailboxes.quota, session.actor)
    if not quota.limit_bytes:  # RFC 9208 §5.1: a quota-list names at least one resource
        return
    # RFC 9208 §5.1: STORAGE in units of 1024 octets
    used = (quota.used_bytes + 1023) // 1024
    session.untagged(f'QUOTA "" (STORAGE {used} {quota.limit_bytes // 1024})')
