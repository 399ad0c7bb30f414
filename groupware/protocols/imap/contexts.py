"""RFC 5267 CONTEXT=SEARCH: searches the client asked to keep current (RETURN (UPDATE)).
Each one remembers its criteria and its last result as UIDs; when the mailbox changes the
session searches again and tells the difference as ESEARCH ADDTO / REMOVEFROM (or new
MIN/MAX/COUNT values when the client asked only for those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from groupware.protocols.imap.selected import SelectedView, compact_set
from groupware.services.mail.searchkeys import Key

MAX_CONTEXTS = 10  # more is refused with NOUPDATE (RFC 5267 §4.2)


@dataclass
class SearchContext:
    tag: str
    key: Key  # with sequence numbers and \Recent already turned into UIDs
    uid: bool
    returns: frozenset[str]
    uids: set[int] = field(default_factory=set)

    @property
    def lists(self) -> bool:
        """Does the client follow the result itself (ALL, or UPDATE alone) rather than
        only its MIN/MAX/COUNT?"""
        return "ALL" in self.returns or not self.returns & {"MIN", "MAX", "COUNT"}

    def removals(self, new: set[int], view: SelectedView) -> bytes | None:
        """REMOVEFROM for what left the result, numbered as the client knows it now
        (so it goes out before any EXPUNGE that renumbers)."""
        gone = sorted(self.uids - new)
        if not gone or not self.lists:
            return None
        old = sorted(self.uids)
        numbers = self._numbers(gone, view.seq_of)
        if not numbers:
            return None
        position = old.index(gone[0]) + 1
        return self._line(f"REMOVEFROM ({position} {compact_set(numbers)})")

    def additions(self, new: set[int], view: SelectedView) -> bytes | None:
        """ADDTO for what joined the result (after EXISTS told the new numbers), or the
        changed MIN/MAX/COUNT; either way the context then holds the new result."""
        old, self.uids = self.uids, set(new)
        if not self.lists:
            return self._summary(old, view) if old != new else None
        added = sorted(new - old)
        numbers = self._numbers(added, view.seq_of)
        if not numbers:
            return None
        position = sorted(new).index(added[0]) + 1
        return self._line(f"ADDTO ({position} {compact_set(numbers)})")

    def _summary(self, old: set[int], view: SelectedView) -> bytes | None:
        numbers = self._numbers(sorted(self.uids), view.seq_of)
        parts = []
        if numbers and "MIN" in self.returns:
            parts.append(f"MIN {numbers[0]}")
        if numbers and "MAX" in self.returns:
            parts.append(f"MAX {numbers[-1]}")
        if "COUNT" in self.returns:
            parts.append(f"COUNT {len(numbers)}")
        return self._line(" ".join(parts)) if parts else None

    def _numbers(self, uids: list[int], seq_of: Callable[[int], int | None]) -> list[int]:
        if self.uid:
            return uids
        return [n for n in (seq_of(u) for u in uids) if n is not None]

    def _line(self, data: str) -> bytes:
        uid = " UID" if self.uid else ""
        return f'* ESEARCH (TAG "{self.tag}"){uid} {data}\r\n'.encode()
