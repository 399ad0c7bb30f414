"""Radicale's storage on our database (BaseStorage) over services/calendar/calendars.py,
the one path for calendar and contact data: finding what a path names, making, replacing
and moving, the write locks, and the filter answers (filters.py) its collections share.

Radicale hands us sanitized paths and vobject items it parsed; we store the item's text
with its UID, etag, component and time range, so that listing, multiget, UID checks,
time-range REPORTs and sync-collection are indexed queries that parse nothing. Writes
lock one collection (not Radicale's global lock); reads take no lock, each storage call
being one consistent database read. One job a file: collection.py (a collection's
items), directorybook.py (the global address book), items.py (items without parsing),
announcements.py (changes told to scheduling), properties.py (metadata names),
filters.py (remembered filter answers).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from radicale import config, pathutils
from radicale import item as radicale_item
from radicale import storage as radicale_storage

from groupware.dav import properties
from groupware.dav.announcements import Announcements, Writing
from groupware.dav.collection import Collection
from groupware.dav.directorybook import DirectoryBook
from groupware.dav.filters import FilterAnswers
from groupware.dav.items import new_item, with_hrefs
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import DIRECTORY, ItemRow, parent_of


class Storage(radicale_storage.BaseStorage):
    """Built by dav/app.py with the services (Radicale's `type` may be a callable)."""

    def __init__(self, configuration: config.Configuration, calendars: Calendars) -> None:
        super().__init__(configuration)
        self.calendars = calendars
        self._local = threading.local()
        self._announcements = Announcements(calendars)
        self.answers = FilterAnswers()

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], contextlib.AbstractContextManager[None]]
        | None = None,
        user_groups: set[str] | None = None,
    ) -> Iterator[Any]:
        sane = pathutils.strip_path(path)
        book = self._directory_book(sane)
        if book is not None:
            yield book
            if depth != "0":
                yield from book.get_all()
            return
        row, found = self.calendars.resolve(sane) if sane else (None, None)
        if found is not None and row is not None:  # an item
            yield Collection(self, row.path, row)._item(found)
            return
        if sane and row is None:
            yield from self._discover_item(sane)  # perhaps a card of the directory
            return
        collection = Collection(self, sane, row)
        yield collection
        if depth == "0":
            return
        manager = child_context_manager or (lambda path, href: contextlib.nullcontext())
        for child in self.calendars.children(sane):
            with manager(child.path, None):
                yield Collection(self, child.path, child)
        if sane and "/" not in sane and not sane.startswith("+"):  # a user's home
            with manager(f"{sane}/{DIRECTORY}", None):
                yield DirectoryBook(self, f"{sane}/{DIRECTORY}")
        if row is not None and row.tag:
            for item in collection.listing():
                with manager(sane, item.href):
                    yield item

    def _directory_book(self, sane: str) -> DirectoryBook | None:
        """The directory, or nothing, when `sane` is "<user home>/directory"."""
        home, _, name = sane.partition("/")
        if name != DIRECTORY or home.startswith("+") or self.calendars.collection(home) is None:
            return None
        return DirectoryBook(self, sane)

    def _discover_item(self, sane: str) -> Iterator[radicale_item.Item]:
        parent_path, href = parent_of(sane), sane.rsplit("/", 1)[-1]
        book = self._directory_book(parent_path)
        if book is not None:
            found = book._cards.get(href)
            if found is not None:
                yield book._item(found)

    def move(
        self, item: radicale_item.Item, to_collection: radicale_storage.BaseCollection, to_href: str
    ) -> None:
        source = item.collection
        assert isinstance(source, Collection) and isinstance(to_collection, Collection)
        assert item.href is not None
        self.calendars.move_item(
            source._required().id,
            item.href,
            to_collection._required().id,
            to_href,
            new_item(to_href, item),
        )

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[Collection, dict[str, radicale_item.Item], list[str]]:
        """A new collection (MKCOL, MKCALENDAR, a home), or one replaced with `items`
        (PUT of a whole calendar); without props an existing one stays as it is."""
        sane = pathutils.strip_path(href)
        if not props:
            row = self.calendars.collection(sane)
            if row is None:
                row = self.calendars.create_collection(sane, {})
            return Collection(self, sane, row), {}, []
        suffix = ".vcf" if props.get("tag") == "VADDRESSBOOK" else ".ics"
        stored = with_hrefs(items or (), suffix)
        row = self.calendars.create_collection(sane, properties.ours(props), stored)
        return Collection(self, sane, row), {}, [item.href for item in stored]

    @contextlib.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        """Writers lock the collections they touch (MOVE: both, in order); readers none.
        What the writes changed is announced (invitations go out) once the locks are
        released, so scheduling, which writes in other people's calendars under their
        locks, never waits for a lock while holding one."""
        if mode != "w":
            yield
            return
        paths = [kwargs.get("path") or user, kwargs.get("to_path") or ""]
        sane = [pathutils.strip_path(pathutils.sanitize_path(p)) for p in paths if p]
        # Radicale names the logged-in user "actor" (on a share, `user` is the owner).
        writing = Writing(kwargs.get("actor") or user or None)
        previous, self._local.writing = getattr(self._local, "writing", None), writing
        try:
            with self.calendars.locks.holding(*sane):
                yield
        finally:
            self._local.writing = previous
            self._announcements.tell(writing.touched)

    def changed(self, collection_id: int, old: ItemRow | None, new: ItemRow | None) -> None:
        """An item written: queued now, under the collection's lock (so in the order of
        the writes), and announced when this thread's write lock is released."""
        writing: Writing | None = getattr(self._local, "writing", None)
        if writing is None:  # written outside a write lock (not by Radicale's requests)
            self.calendars.announce(collection_id, old, new, None)
            return
        self._announcements.queue(collection_id, old, new, writing.writer)
        writing.touched.setdefault(collection_id)

    def verify(self) -> bool:
        return True
