"""A lock per collection, held by whoever writes in it (Radicale's requests and
scheduling's copies), taken in one order so that two writers never wait on each other,
in this process and in every other process and node on the database (store/locks.py).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from groupware.store import Database
from groupware.store.locks import SharedLocks


class CollectionLocks:
    """A lock per collection ("home/name", or a home), held by whoever writes in it:
    Radicale's requests (dav/storage.py) and scheduling's copies. A client's If-Match
    check and its write then see no other change between them."""

    def __init__(self, database: Database) -> None:
        self._shared = SharedLocks(database)
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )

    @contextmanager
    def holding(self, *paths: str) -> Iterator[None]:
        """The locks of the collections of `paths` (items name theirs), taken in order."""
        keys = sorted({"/".join(p.strip("/").split("/")[:2]) for p in paths if p})
        with ExitStack() as stack:
            for key in keys:
                stack.enter_context(self._lock_for(key))
            stack.enter_context(self._shared.holding(keys))
            yield

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = threading.Lock()
                self._locks[key] = lock
            return lock
