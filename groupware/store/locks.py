"""Named locks held across every process and node that shares the database, for what
one transaction cannot cover (a DAV client's If-Match check and then its write; one
room booking decided at a time).

On PostgreSQL: session advisory locks (`pg_advisory_lock`) on a connection kept for
the while. On SQLite, whose writers are processes on one machine: `flock` on one of
SQLITE_BUCKETS files in a folder beside the database, opened afresh by each holder (a
flock belongs to that opening, so threads of one process wait for each other as
processes do). Names become 63-bit numbers (BLAKE2b); two names on one number or file
only wait for each other. Taken in order, so two holders of several never deadlock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from groupware.store.database import Database, sqlite_path

SQLITE_BUCKETS = 4096  # lock files at most


_THREADS = threading.local()


def lock_number(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest()) >> 1


class SharedLocks:
    def __init__(self, database: Database) -> None:
        self._database = database
        path = sqlite_path(database.url)
        self._folder: Path | None = (
            path.with_name(path.name + ".locks") if path is not None else None
        )

    @contextmanager
    def holding(self, names: list[str]) -> Iterator[None]:
        """Hold the locks of `names` for the block. A thread may hold more inside (a
        room's booking, then its calendar): what it holds already is not taken again."""
        held = self._held()
        numbers = sorted({lock_number(name) for name in names} - held)
        if self._database.is_sqlite:  # what is held is the file: a name's bucket
            taken = {n % SQLITE_BUCKETS for n in held}
            numbers = [n for n in numbers if n % SQLITE_BUCKETS not in taken]
        if not numbers:
            yield
            return
        held.update(numbers)
        try:
            if self._database.is_sqlite:
                with self._file_locks(numbers):
                    yield
            else:
                with self._advisory_locks(numbers):
                    yield
        finally:
            held.difference_update(numbers)

    def _held(self) -> set[int]:
        """The lock numbers this thread holds on this database (whichever SharedLocks
        took them: a room's and its calendar's are two)."""
        held: set[int] = vars(_THREADS).setdefault(self._database.url, set())
        return held

    @contextmanager
    def _advisory_locks(self, numbers: list[int]) -> Iterator[None]:
        with self._database.engine.connect() as connection:
            try:
                for number in numbers:
                    connection.execute(text("SELECT pg_advisory_lock(:n)"), {"n": number})
                    connection.commit()  # no transaction left open while held
                yield
            finally:
                try:
                    connection.rollback()  # a failed statement leaves none to unlock in
                    connection.execute(text("SELECT pg_advisory_unlock_all()"))
                    connection.commit()
                except Exception:
                    # Back in the pool it would keep the locks (a rollback does not end
                    # them): this connection is closed instead, and they go with it.
                    connection.invalidate()
                    raise

    @contextmanager
    def _file_locks(self, numbers: list[int]) -> Iterator[None]:
        if self._folder is None:  # an in-memory database: one process, whose callers
            yield  # hold thread locks
            return
        self._folder.mkdir(mode=0o700, exist_ok=True)
        descriptors: list[int] = []
        try:
            for bucket in sorted({number % SQLITE_BUCKETS for number in numbers}):
                descriptor = os.open(self._folder / f"{bucket}", os.O_RDWR | os.O_CREAT, 0o600)
                descriptors.append(descriptor)
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            for descriptor in descriptors:
                os.close(descriptor)  # and with it the lock
