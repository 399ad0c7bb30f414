"""What DAV writes changed is told to scheduling after the collection's lock is released,
yet in the order it was written: a writer that finds another telling the same
collection's news leaves its own to that one, which tells them next."""

from __future__ import annotations

import threading

from groupware.dav.announcements import Announcements
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import ItemRow


class Recording(Calendars):
    """Calendars whose listeners are a list of what was told (no database needed)."""

    def __init__(self) -> None:
        self.told: list[str | None] = []
        self.on_told: list[object] = []

    def announce(
        self, collection_id: int, old: ItemRow | None, new: ItemRow | None, by: str | None
    ) -> None:
        self.told.append(by)
        for hook in list(self.on_told):
            self.on_told.remove(hook)
            hook()  # type: ignore[operator]


def test_a_second_writer_leaves_its_news_to_the_first_teller() -> None:
    calendars = Recording()
    announcements = Announcements(calendars)
    returned = threading.Event()

    def second_writer() -> None:
        announcements.queue(7, None, None, "second")
        announcements.tell([7])  # the first is still telling: returns at once
        returned.set()

    def while_first_is_told() -> None:
        writer = threading.Thread(target=second_writer)
        writer.start()
        writer.join(5)
        assert returned.is_set() and calendars.told == ["first"]

    calendars.on_told.append(while_first_is_told)
    announcements.queue(7, None, None, "first")
    announcements.tell([7])
    assert calendars.told == ["first", "second"]
    announcements.tell([7])  # nothing left
    assert calendars.told == ["first", "second"]
