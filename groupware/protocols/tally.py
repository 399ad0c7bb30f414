"""Counts of open connections, shared by a server's worker processes (groupware/
supervisor.py), so that a limit per client address or per account holds for the server,
not for each worker: with four workers, max_connections_per_ip = 20 must not become 80.

The counts live in one anonymous shared memory map, made by the supervisor before it
forks. Each worker writes only its own row, so no lock is shared between processes (a
worker killed mid-update cannot leave one held); a count is the sum over the rows. When
a worker ends, the supervisor zeroes its row: its connections ended with it.

Keys are hashed into a fixed number of buckets, twice, with a secret key per start (so a
client cannot aim at another's buckets), and a count is the smaller of its two sums, as
in a count-min sketch: it is never below the true count, and above it only when both
buckets are shared with other busy keys. A limit can thus refuse a little early, never
admit too many (within one process; two workers admitting at the same instant may each
take the last place).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading

BUCKETS = 1 << 16  # per row: 256 KiB of cells, touched only where keys fall
CELL = 4  # bytes: a signed 32-bit count


class Tally:
    def __init__(self, rows: int = 1, buckets: int = BUCKETS) -> None:
        self.rows, self.buckets = rows, buckets
        self._memory = mmap.mmap(-1, rows * buckets * CELL)  # MAP_SHARED: forks share it
        self._cells = memoryview(self._memory).cast("i")
        self._secret = os.urandom(16)
        self._row = 0
        self._lock = threading.Lock()  # a process's threads (waitress's, the loop's)

    def use_row(self, row: int) -> None:
        """Write to `row` from now on (a worker, just forked, given its row)."""
        if not 0 <= row < self.rows:
            raise ValueError(f"row {row} of {self.rows}")
        self._row = row

    def clear(self, row: int) -> None:
        """Forget what `row`'s process held (it has ended)."""
        start = row * self.buckets
        self._cells[start : start + self.buckets] = memoryview(bytes(self.buckets * CELL)).cast("i")

    def count(self, key: str) -> int:
        """How many `key` holds in all processes (at least; see the module's docstring)."""
        cells, buckets = self._cells, self.buckets
        return min(
            sum(cells[row * buckets + place] for row in range(self.rows))
            for place in self._places(key)
        )

    def add(self, key: str, amount: int) -> None:
        """Count `amount` more (or fewer, if negative) for `key` in this process's row."""
        start = self._row * self.buckets
        with self._lock:
            for place in self._places(key):
                self._cells[start + place] += amount

    def _places(self, key: str) -> tuple[int, int]:
        digest = hashlib.blake2b(key.encode(), key=self._secret, digest_size=8).digest()
        first = int.from_bytes(digest[:4], "little") % self.buckets
        second = int.from_bytes(digest[4:], "little") % self.buckets
        return first, second if second != first else (first + 1) % self.buckets
