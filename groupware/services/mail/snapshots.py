"""What opening a mailbox reads, its UIDs in order and each one's flags, kept per process
and brought up to date from the rows changed since (CONDSTORE's MODSEQ): SELECT of a
10,000-message mailbox opened before reads the few rows that changed, not all of them,
much as Dovecot reads only the tail of its index log.

It stays right without events. Every change to a mailbox's messages raises its
HIGHESTMODSEQ in the transaction that makes it, under the mailbox row's lock, so
MODSEQs commit in order: a snapshot taken at HIGHESTMODSEQ m holds every change up to m,
and the rows with MODSEQ > m (changed or added) and the tombstones with MODSEQ > m
(expunged) are all that is new. The mailbox row is read first, so a change that commits
while the rows are read is read again next time, which is harmless (rows are taken as
they are, tombstones last). A mailbox made again has another UIDVALIDITY (never reused
on a server), which is part of the key.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from groupware.model.mail import Mailbox
from groupware.store.mail import expunged_since, flag_names, message_flags

KEPT_MESSAGES = 500_000  # per process, over all mailboxes kept (about 16 bytes each)
_NAMES_KEPT = 4096  # distinct (flag bits, keywords) pairs whose name sets are shared


@dataclass(frozen=True)
class Snapshot:
    """A mailbox's messages at one HIGHESTMODSEQ; never changed once made (sessions
    of several threads read it), a newer one replaces it."""

    mailbox_id: int
    uidvalidity: int
    modseq: int
    uids: array[int]  # ascending
    flags: list[frozenset[str]]  # parallel to uids; equal sets are one shared object


class Snapshots:
    def __init__(self, kept_messages: int = KEPT_MESSAGES) -> None:
        self._limit = kept_messages
        self._kept: OrderedDict[int, Snapshot] = OrderedDict()  # least recently used first
        self._size = 0
        self._names: dict[tuple[int, str], frozenset[str]] = {}
        self._lock = threading.Lock()

    def current(self, session: Session, box: Mailbox) -> Snapshot:
        """`box`'s messages as of its HIGHESTMODSEQ just read in `session`."""
        with self._lock:
            known = self._kept.get(box.id)
        if known is not None and known.uidvalidity == box.uidvalidity:
            if known.modseq == box.highestmodseq:
                with self._lock:
                    if box.id in self._kept:
                        self._kept.move_to_end(box.id)
                return known
            if known.modseq < box.highestmodseq:
                fresh = self._advanced(session, box, known)
                if fresh is not None:
                    self._keep(fresh)
                    return fresh
        fresh = self._read(session, box)
        self._keep(fresh)
        return fresh

    def _read(self, session: Session, box: Mailbox) -> Snapshot:
        rows = message_flags(session, box.id)
        uids = array("q", [row[0] for row in rows])
        flags = [self._flag_names(bits, keywords) for _, bits, keywords in rows]
        return Snapshot(box.id, box.uidvalidity, box.highestmodseq, uids, flags)

    def _advanced(self, session: Session, box: Mailbox, known: Snapshot) -> Snapshot | None:
        """`known` with what changed after it, or None when so much did that reading
        everything is cheaper."""
        changed = message_flags(session, box.id, since=known.modseq)
        gone = expunged_since(session, box.id, known.modseq)
        if len(changed) + len(gone) > max(64, len(known.uids) // 8):
            return None
        uids, flags = array("q", known.uids), list(known.flags)
        for uid, bits, keywords in changed:
            at = bisect_left(uids, uid)
            names = self._flag_names(bits, keywords)
            if at < len(uids) and uids[at] == uid:
                flags[at] = names
            else:
                uids.insert(at, uid)
                flags.insert(at, names)
        for uid in gone:  # last: a row read above may have been expunged since
            at = bisect_left(uids, uid)
            if at < len(uids) and uids[at] == uid:
                del uids[at]
                del flags[at]
        return Snapshot(box.id, box.uidvalidity, box.highestmodseq, uids, flags)

    def _flag_names(self, bits: int, keywords: str) -> frozenset[str]:
        key = (bits, keywords)
        names = self._names.get(key)
        if names is None:
            if len(self._names) >= _NAMES_KEPT:
                self._names.clear()
            names = self._names[key] = flag_names(bits, keywords)
        return names

    def _keep(self, snapshot: Snapshot) -> None:
        with self._lock:
            old = self._kept.pop(snapshot.mailbox_id, None)
            if old is not None:
                self._size -= len(old.uids)
                if old.uidvalidity == snapshot.uidvalidity and old.modseq > snapshot.modseq:
                    snapshot = old  # another thread brought it further meanwhile
            self._kept[snapshot.mailbox_id] = snapshot
            self._size += len(snapshot.uids)
            while self._size > self._limit and len(self._kept) > 1:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped.uids)
