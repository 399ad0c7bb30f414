"""A per-process set of the user ids that have some delivery setting (enabled rules, a
vacation on), so delivery skips those lookups for everyone else. Give it the query that
lists them; call `changed()` after a local edit. Other nodes see an edit within `ttl`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from sqlalchemy import Select

from groupware.store import Database


class UserSet:
    def __init__(self, database: Database, query: Select[tuple[int]], ttl: float = 5.0) -> None:
        self._db = database
        self._query = query
        self._ttl = ttl
        self._lock = threading.Lock()
        self._ids: frozenset[int] = frozenset()
        self._loaded_at = -float("inf")
        self._generation = 0  # bumped by changed(): a reload racing an edit stays stale

    def any_of(self, user_ids: Iterable[int]) -> bool:
        """Whether any of `user_ids` may have the setting (a superset: a hit still needs
        the real lookup; a miss is certain, but for edits on other nodes in `ttl`)."""
        if time.monotonic() - self._loaded_at > self._ttl:
            self._reload()
        ids = self._ids
        return any(user_id in ids for user_id in user_ids)

    def changed(self) -> None:
        """Forget the set: the next question reloads it (call after the edit commits)."""
        self._generation += 1
        self._loaded_at = -float("inf")

    def _reload(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded_at <= self._ttl:
                return  # another thread just did
            started, generation = time.monotonic(), self._generation
            with self._db.read() as session:
                self._ids = frozenset(session.scalars(self._query))
            if generation == self._generation:
                self._loaded_at = started
