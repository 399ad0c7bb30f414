"""A selected mailbox as one session sees it: sequence numbers ↔ UIDs, and the store's
events not yet told to the client, turned into EXISTS/EXPUNGE/FETCH when the rules allow
(RFC 9051 §7.5.1: never an EXPUNGE during FETCH, STORE or SEARCH)."""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from groupware.protocols.imap import wire
from groupware.protocols.imap.commands import SequenceSet
from groupware.protocols.imap.replies import Refused
from groupware.services.core.events import (
    Expunged,
    FlagsChanged,
    MailboxDeleted,
    MailboxEvent,
    MailboxRenamed,
    MessageAdded,
)


class SelectedView:
    def __init__(
        self,
        mailbox_id: int,
        name: str,
        readonly: bool,
        uids: Iterable[int],
        recent: Iterable[int] = (),
        flags: dict[int, frozenset[str]] | None = None,
        show_recent: bool = True,
        uidnext: int = 1,
        highestmodseq: int = 0,
        uidvalidity: int = 0,
    ) -> None:
        self.mailbox_id = mailbox_id
        self.uidvalidity = uidvalidity
        self.name = name
        self.readonly = readonly
        self.uids = sorted(uids)
        self.recent = set(recent)
        # Flags as last known, kept current by events and own changes: FETCH FLAGS needs
        # no database (as Dovecot answers it from its index).
        self.flags: dict[int, frozenset[str]] = flags if flags is not None else {}
        self._rendered: dict[frozenset[str], bytes] = {}
        self._rendered_recent: dict[frozenset[str], bytes] = {}  # with \Recent added
        self.pending: list[MailboxEvent] = []
        self.news = False  # pending holds what the client has not been told
        self._waiter: asyncio.Future[None] | None = None  # an IDLE waiting for news
        self.own_modseqs: set[int] = set()  # changes this session made and told itself
        self.told_exists = len(self.uids)
        self.gone = False  # the mailbox was deleted under us
        # Events from other processes and nodes may come late, after the snapshot the
        # view was opened from or after later local ones: what the snapshot holds
        # (UIDs below its UIDNEXT, changes up to its HIGHESTMODSEQ) is not told again, a
        # UID once expunged never comes back (UIDs are not reused), and flags older than
        # those known are not told.
        self.uidnext = uidnext
        self.highestmodseq = highestmodseq
        self.expunged: set[int] = set()
        self.flag_modseqs: dict[int, int] = {}
        self.show_recent = show_recent  # False once IMAP4rev2 is enabled (RFC 9051 has none)

    # -- events (on the loop, handed over by the server) -------------------------------

    def receive(self, event: MailboxEvent) -> None:
        if isinstance(event, MailboxRenamed) and event.mailbox_id == self.mailbox_id:
            self.name = event.new_name
        elif isinstance(event, MailboxDeleted) and event.mailbox_id == self.mailbox_id:
            self.gone = True
        elif event.mailbox_id == self.mailbox_id:
            self.pending.append(event)
            self.news = True
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    def waiting_for_news(self) -> asyncio.Future[None]:
        """A future done when news comes, or already done if some is untold. A plain
        future, not a task around an Event's wait: one delivery wakes every IDLE
        session of the mailbox, 10,000 of them at once."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.news:
            waiter.set_result(None)
        else:
            self._waiter = waiter
        return waiter

    # -- numbering ----------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def expunge_pending(self, uids: Iterable[int]) -> bool:
        """Whether any of `uids` was expunged by someone else and not yet told."""
        pending = {u for e in self.pending if isinstance(e, Expunged) for u in e.uids}
        return bool(pending) and not pending.isdisjoint(uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect_left(self.uids, uid)
        return index + 1 if index < len(self.uids) and self.uids[index] == uid else None

    def resolve(self, wanted: SequenceSet, uid: bool, saved: Iterable[int] = ()) -> list[int]:
        """The UIDs a sequence set names, ascending. Sequence numbers past EXISTS are an
        error (RFC 9051 §6.4.8); UIDs not (or no longer) here are skipped."""
        if wanted.saved:  # RFC 5182 "$": the UIDs the last SEARCH saved
            present = set(self.uids)
            return sorted(u for u in saved if u in present)
        found: set[int] = set()
        if uid:
            largest = self.uids[-1] if self.uids else 0
            for low, high in wanted.resolve(largest):
                found.update(self.uids[bisect_left(self.uids, low) : bisect_right(self.uids, high)])
        else:
            for low, high in wanted.resolve(len(self.uids)):
                if high > len(self.uids) or low < 1:
                    raise Refused("Invalid message sequence number", bad=True)
                found.update(self.uids[low - 1 : high])
        return sorted(found)

    # -- telling the client -----------------------------------------------------------

    def arrived(self) -> list[int]:
        """UIDs of new messages not yet in the view."""
        return [e.uid for e in self.pending if isinstance(e, MessageAdded) and self.is_news(e.uid)]

    def is_news(self, uid: int) -> bool:
        """Whether `uid`, heard of as added, is one the view should take in."""
        return uid >= self.uidnext and uid not in self.expunged and self.seq_of(uid) is None

    def updates(
        self, *, expunges: bool, condstore: bool, qresync: bool, claimed: bool = False
    ) -> list[bytes]:
        """Untagged responses for what happened since the last call. With `expunges`
        False, removals stay pending (and the numbering stays as the client knows it)."""
        lines: list[bytes] = []
        kept: list[MailboxEvent] = []
        for event in self.pending:
            if isinstance(event, MessageAdded):
                if self.is_news(event.uid):
                    insort(self.uids, event.uid)
                    if claimed:
                        self.recent.add(event.uid)
            elif isinstance(event, FlagsChanged):
                lines.extend(self._flag_lines(event, condstore, qresync))
            elif isinstance(event, Expunged):
                if expunges:
                    lines.extend(self.expunge(event.uids, qresync))
                else:
                    kept.append(event)
        self.pending = kept
        if not kept:
            self.news = False
        lines.extend(self.counts())
        return lines

    def counts(self) -> list[bytes]:
        """EXISTS (and RECENT) when they changed since last told."""
        lines = []
        if len(self.uids) != self.told_exists:
            lines.append(b"* %d EXISTS\r\n" % len(self.uids))
            self.told_exists = len(self.uids)
            if self.show_recent:
                lines.append(b"* %d RECENT\r\n" % len(self.recent))
        return lines

    def expunge(self, uids: Iterable[int], qresync: bool) -> list[bytes]:
        """Drop UIDs from the view: EXPUNGE per message, highest first (so no number
        shifts under the next), or one VANISHED with QRESYNC (RFC 7162 §3.2.10)."""
        wanted = set(uids)
        self.expunged |= wanted
        gone = sorted((u for u in wanted if self.seq_of(u) is not None), reverse=True)
        lines = []
        for uid in gone:
            seq = self.seq_of(uid)
            assert seq is not None
            del self.uids[seq - 1]
            self.recent.discard(uid)
            self.flags.pop(uid, None)
            if not qresync:
                lines.append(b"* %d EXPUNGE\r\n" % seq)
        if qresync and gone:
            lines.append(b"* VANISHED " + compact_set(gone).encode() + b"\r\n")
        self.told_exists -= len(gone)  # each EXPUNGE tells the client one fewer
        return lines

    def _flag_lines(self, event: FlagsChanged, condstore: bool, qresync: bool) -> list[bytes]:
        lines = []
        for uid, modseq, flags in event.changes:
            seq = self.seq_of(uid)
            if seq is None or modseq <= self.highestmodseq:
                continue  # gone, or the snapshot has it (or something newer)
            if modseq < self.flag_modseqs.get(uid, 0):
                continue
            self.flag_modseqs[uid] = modseq
            self.flags[uid] = flags
            if modseq in self.own_modseqs:
                continue
            items = [b"FLAGS " + self.flag_list(uid, flags)]
            if qresync:
                items.insert(0, b"UID %d" % uid)
            if condstore:
                items.append(b"MODSEQ (%d)" % modseq)
            lines.append(b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n")
        return lines

    def flag_list(self, uid: int, flags: frozenset[str]) -> bytes:
        """The FLAGS list of a message, \\Recent included (rendered once per flag set:
        FETCH 1:* FLAGS of a big mailbox asks for it once per message)."""
        recent = self.show_recent and uid in self.recent
        cache = self._rendered_recent if recent else self._rendered
        rendered = cache.get(flags)
        if rendered is None:
            names = sorted(flags | {"\\Recent"}) if recent else sorted(flags)
            rendered = cache[flags] = wire.flag_list(names)
        return rendered


def compact_set(uids: Iterable[int]) -> str:
    """UIDs as a short sequence set: 1:3,7,9:10."""
    return ordered_set(sorted(set(uids)))


def ordered_set(numbers: list[int]) -> str:
    """A sequence set that keeps the given order: only ascending runs become ranges
    (RFC 5267 ESORT's ALL; for sorted input the shortest set)."""
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)
