"""One small bounded cache with an expiry, for answers worth remembering a little while
(DAV rights, shares seen, filter answers, remembered logins): each user of it had its
own dict, each bounding its size its own way.

Safe across threads (one lock; a miss computes outside it, so two threads may compute the
same answer, the last one kept). When full, expired entries go first, then the oldest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TimedCache(Generic[K, V]):
    """Up to `max_entries` values, each kept `seconds` after it was put (None: until
    pushed out by newer ones)."""

    def __init__(self, max_entries: int, seconds: float | None = None) -> None:
        self.max_entries, self.seconds = max_entries, seconds
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        # Bumped by `clear`: an answer computed from what was read before a clear is
        # stale, and `put` with the generation read first drops it.
        self.generation = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: K, value: V, generation: int | None = None) -> None:
        """Keep `value`, unless the cache was cleared since `generation` was read."""
        now = time.monotonic()
        until = float("inf") if self.seconds is None else now + self.seconds
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._entries.pop(key, None)  # the newest goes last, so the oldest go first
            if len(self._entries) >= self.max_entries:
                self._make_room(now)
            self._entries[key] = (until, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)

    def _make_room(self, now: float) -> None:
        """Drop what has expired; if a tenth is not free then, the oldest to make it so."""
        for key in [k for k, (until, _) in self._entries.items() if until <= now]:
            del self._entries[key]
        excess = len(self._entries) - self.max_entries * 9 // 10
        for key in list(self._entries)[: max(0, excess)]:
            del self._entries[key]
