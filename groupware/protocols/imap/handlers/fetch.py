"""FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5): every data item from the stored
parse and the blob, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/VANISHED. Responses are built
in batches so a FETCH 1:* BODY[] never holds the whole mailbox in memory."""

from __future__ import annotations

from bisect import bisect_left

from groupware.mime.structure import BodyPart
from groupware.protocols.imap import bodystructure, sections, wire
from groupware.protocols.imap import commands as c
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.selected import SelectedView, compact_set
from groupware.protocols.imap.session import Session
from groupware.services.mail.fetch import Summary

BATCH = 200
CONTENT_BATCH = 8  # whole messages held at once (each up to [imap] max_literal)
PARSED = {"ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY[]", "BINARY[]", "BINARY.SIZE"}
PARSED |= {"RFC822.HEADER", "RFC822.TEXT"}
CONTENT = {"BODY[]", "BINARY[]", "BINARY.SIZE", "RFC822", "RFC822.HEADER", "RFC822.TEXT"}
SETS_SEEN = {"BODY[]", "BINARY[]", "RFC822", "RFC822.TEXT"}


# RFC 9051 §6.4.5 FETCH; §6.4.9 UID FETCH; RFC 7162 §3.1.4, §3.2.6
async def cmd_fetch(session: Session, command: c.Fetch) -> str | None:
    view = session.selected
    uids = view.resolve(command.set, command.uid, session.saved_search)
    attrs = list(command.attrs)
    names = {a.name for a in attrs}
    if command.uid and "UID" not in names:
        attrs.insert(0, c.FetchAttr("UID"))
    if command.changedsince is not None:  # RFC 7162 §3.1.4.1: MODSEQ comes along
        await session.enable_condstore()
        if "MODSEQ" not in names:
            attrs.append(c.FetchAttr("MODSEQ"))
    if "MODSEQ" in names:
        await session.enable_condstore()
    if command.vanished:
        await _vanished(session, command, uids)
    seen = not view.readonly and any(a.name in SETS_SEEN and not a.peek for a in attrs)
    flagged_now = await _mark_seen(session, view, uids) if seen else set()
    if flagged_now:  # the new \Seen goes out; RFC 7162 §3.2.4: with UID and MODSEQ too
        implied = ["FLAGS", "UID", "MODSEQ"] if "QRESYNC" in session.enabled else ["FLAGS"]
        present = {a.name for a in attrs}
        attrs += [c.FetchAttr(name) for name in implied if name not in present]
    flags_only = {a.name for a in attrs} <= {"UID", "FLAGS"} and command.changedsince is None
    if flags_only and _answer_from_view(session, view, uids, attrs):
        return None
    parse = bool(names & PARSED)
    content = bool(names & CONTENT)
    fetch = session.services.fetch
    vanished = False  # expunged by another session, not yet told to this one
    step = CONTENT_BATCH if content else BATCH
    for start in range(0, len(uids), step):
        batch = uids[start : start + step]
        summaries = await session.call(
            fetch.summaries, session.actor, view.name, batch, parse=parse, content=content
        )
        vanished = vanished or len(summaries) < len(batch)
        lines = []
        for summary in summaries:
            view.flags[summary.uid] = summary.flags  # fresh from the store
            view.flag_modseqs[summary.uid] = summary.modseq
            if command.changedsince is not None and summary.modseq <= command.changedsince:
                continue
            seq = view.seq_of(summary.uid)
            if seq is None:
                continue
            items = [_item(session, view, summary, attr) for attr in attrs]
            lines.append(b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n")
        session.write(b"".join(lines))
        await session.channel.drain()
    if vanished and not command.uid:
        # RFC 2180 §4.1.2, RFC 5530: the client named a message it still counts; an OK
        # with its data silently missing would leave it thinking the data is on its way.
        # (UID FETCH may skip UIDs that are gone: RFC 9051 §6.4.9.)
        raise Refused("Some messages were expunged meanwhile; NOOP will tell", "EXPUNGEISSUED")
    return None


def _answer_from_view(
    session: Session, view: SelectedView, uids: list[int], attrs: list[c.FetchAttr]
) -> bool:
    """FETCH of UID and FLAGS only, from the view's flags (kept current by events), as
    Dovecot answers it from its index. Not when a message lacks cached flags (new mail)
    or has an expunge pending (the store path then says EXPUNGEISSUED)."""
    flags = view.flags
    names = [a.name for a in attrs]
    if len(set(names)) != len(names) or not all(map(flags.__contains__, uids)):
        return False  # (repeated items take the general path)
    if view.expunge_pending(uids):
        return False
    line = b"* %d FETCH (" + b" ".join(b"UID %d" if n == "UID" else b"FLAGS %s" for n in names)
    line += b")\r\n"
    uid_only, flags_only = names == ["UID"], names == ["FLAGS"]
    uid_first = names[0] == "UID"
    flag_list = view.flag_list
    ordered, position, last = view.uids, 0, len(view.uids) - 1
    lines: list[bytes] = []
    for uid in uids:  # both ascending: each position is at or after the last one
        if position > last or ordered[position] != uid:
            position = bisect_left(ordered, uid, position)
        position += 1
        if uid_only:
            lines.append(line % (position, uid))
        elif flags_only:
            lines.append(line % (position, flag_list(uid, flags[uid])))
        elif uid_first:
            lines.append(line % (position, uid, flag_list(uid, flags[uid])))
        else:
            lines.append(line % (position, flag_list(uid, flags[uid]), uid))
        if len(lines) >= 1000:
            session.write(b"".join(lines))
            lines.clear()
    session.write(b"".join(lines))
    return True


async def _mark_seen(session: Session, view: SelectedView, uids: list[int]) -> set[int]:
    """RFC 9051 §6.4.5: BODY[…] without .PEEK sets \\Seen."""
    changed, _ = await session.call(
        session.services.messages.store_flags, session.actor, view.name, uids, "add", ["\\Seen"]
    )
    view.own_modseqs.update(s.modseq for s in changed)
    view.flags.update((s.uid, s.flags) for s in changed)
    view.flag_modseqs.update((s.uid, s.modseq) for s in changed)
    return {s.uid for s in changed}


async def _vanished(session: Session, command: c.Fetch, uids: list[int]) -> None:
    """RFC 7162 §3.2.6: UID FETCH … (CHANGEDSINCE m VANISHED) reports expunged UIDs."""
    if not command.uid or command.changedsince is None or "QRESYNC" not in session.enabled:
        raise Refused("VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC", bad=True)
    view = session.selected
    _, gone = await session.call(
        session.services.messages.changes_since, session.actor, view.name, command.changedsince
    )
    largest = max([*view.uids, *gone], default=0)
    ranges = list(command.set.resolve(largest))
    gone = [u for u in gone if any(lo <= u <= hi for lo, hi in ranges)]
    if gone:
        session.untagged(b"VANISHED (EARLIER) " + compact_set(gone).encode())


def _envelope(session: Session, view: SelectedView, summary: Summary) -> bytes:
    """The message's ENVELOPE, rendered once per listener (see Session.envelopes)."""
    key = (view.mailbox_id, view.uidvalidity, summary.uid)
    rendered = session.envelopes.get(key)
    if rendered is None:
        assert summary.parsed is not None
        rendered = bodystructure.envelope(summary.parsed.envelope)
        session.envelopes.put(key, rendered)
    return rendered


def _item(session: Session, view: SelectedView, summary: Summary, attr: c.FetchAttr) -> bytes:
    name = attr.name
    if name == "UID":
        return b"UID %d" % summary.uid
    if name == "FLAGS":
        return b"FLAGS " + view.flag_list(summary.uid, summary.flags)
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + wire.internal_date(summary.internal_date)
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % summary.size
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % summary.modseq
    if name == "ENVELOPE":
        return b"ENVELOPE " + _envelope(session, view, summary)
    if name in ("BODYSTRUCTURE", "BODY"):
        assert summary.parsed is not None
        extensible = name == "BODYSTRUCTURE"
        structure = bodystructure.body_structure(summary.parsed.body, extensible, rev2=session.rev2)
        return name.encode() + b" " + structure
    assert summary.content is not None
    raw = summary.content
    if name == "RFC822":
        return b"RFC822 " + _literal(raw)
    if name == "RFC822.HEADER":
        data = sections.section_bytes(raw, _root(summary), c.Section(text="HEADER")) or b""
        return b"RFC822.HEADER " + _literal(data)
    if name == "RFC822.TEXT":
        data = sections.section_bytes(raw, _root(summary), c.Section(text="TEXT")) or b""
        return b"RFC822.TEXT " + _literal(data)
    assert attr.section is not None
    if name == "BODY[]":
        return _sectioned(b"BODY", attr, sections.section_bytes(raw, _root(summary), attr.section))
    part = attr.section.part
    try:
        decoded = sections.binary_bytes(raw, _root(summary), part)
    except sections.UnknownEncoding:
        raise Refused("Unknown Content-Transfer-Encoding", "UNKNOWN-CTE") from None
    if name == "BINARY.SIZE":
        return b"BINARY.SIZE[%s] %d" % (_part(part), len(decoded or b""))
    return _sectioned(b"BINARY", attr, decoded, binary=True)


def _root(summary: Summary) -> BodyPart:
    assert summary.parsed is not None
    return summary.parsed.body


def _sectioned(kind: bytes, attr: c.FetchAttr, data: bytes | None, binary: bool = False) -> bytes:
    """BODY[section]<origin> and its value: RFC 9051 echoes only the origin."""
    assert attr.section is not None
    label = kind + b"[" + _section_spec(attr.section) + b"]"
    if data is None:
        data = b""
    if attr.partial is not None:
        origin, count = attr.partial
        data = sections.partial(data, origin, count)
        label += b"<%d>" % origin
    if binary and b"\x00" in data:
        return label + b" ~{%d}\r\n" % len(data) + data  # RFC 3516 literal8
    return label + b" " + _literal(data)


def _section_spec(section: c.Section) -> bytes:
    parts = [_part(section.part)] if section.part else []
    if section.text is not None:
        text = section.text
        if section.fields:
            text += " (" + " ".join(section.fields) + ")"
        parts.append(text.encode())
    return b".".join(parts)


def _part(part: tuple[int, ...]) -> bytes:
    return ".".join(str(n) for n in part).encode()


def _literal(data: bytes) -> bytes:
    """RFC 3501 §9: a literal holds CHAR8 (no NUL); a stray NUL goes out as 0x80, as
    Dovecot sends it (BINARY[] uses literal8 and keeps it)."""
    if b"\x00" in data:
        data = data.replace(b"\x00", b"\x80")
    return b"{%d}\r\n" % len(data) + data
