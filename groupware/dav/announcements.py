"""Item changes told to scheduling (invitations) in the order they were written, once the
writer's collection locks are released.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import ItemRow


@dataclass
class Writing:
    """A Radicale write under way in this thread: who writes, which collections changed."""

    writer: str | None
    touched: dict[int, None] = field(default_factory=dict)  # ordered, no repeats


class Announcements:
    """Changes told to the listeners (scheduling) in the order they were written, one at a
    time per collection. They are queued while the collection's lock is held and told
    after it is released (scheduling takes other collections' locks), by whichever writer
    finds no one else telling that collection's news."""

    def __init__(self, calendars: Calendars) -> None:
        self._calendars = calendars
        self._guard = threading.Lock()
        self._queues: dict[int, deque[tuple[ItemRow | None, ItemRow | None, str | None]]] = {}
        self._telling: set[int] = set()

    def queue(
        self, collection_id: int, old: ItemRow | None, new: ItemRow | None, by: str | None
    ) -> None:
        with self._guard:
            self._queues.setdefault(collection_id, deque()).append((old, new, by))

    def tell(self, collection_ids: Iterable[int]) -> None:
        for collection_id in collection_ids:
            while True:
                with self._guard:
                    if collection_id in self._telling:
                        break  # its teller tells ours too, after its own
                    pending = self._queues.get(collection_id)
                    if not pending:
                        self._queues.pop(collection_id, None)
                        break
                    old, new, by = pending.popleft()
                    self._telling.add(collection_id)
                try:
                    self._calendars.announce(collection_id, old, new, by)
                finally:
                    with self._guard:
                        self._telling.discard(collection_id)
