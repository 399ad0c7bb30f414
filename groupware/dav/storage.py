"""Radicale's storage on our database: BaseStorage and BaseCollection over
services.calendars (the one path for calendar and contact data).

Radicale hands us sanitized paths and vobject items it parsed; we store the item's text
with its UID, etag, component and time range, so that listing, multiget, UID checks,
time-range REPORTs (`get_filtered`) and sync-collection (`sync`) are indexed queries that
parse nothing. Writes lock one collection (not Radicale's global lock); reads take no
lock, each storage call being one consistent database read.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from radicale import config, pathutils
from radicale import item as radicale_item
from radicale import storage as radicale_storage
from radicale.app import report as radicale_report
from radicale.item import filter as radicale_filter

from groupware.cache import TimedCache
from groupware.dav import properties
from groupware.errors import NotFound
from groupware.mime.icalitem import describe
from groupware.services.calendar.calendars import (
    DIRECTORY,
    DIRECTORY_PROPS,
    Calendars,
    CollectionRow,
    ItemRow,
    NewItem,
    parent_of,
)

SYNC_PREFIX = "http://groupware.invalid/ns/sync/"
ANSWERS_REMEMBERED = 50_000  # filter answers of item versions (a bool and its key each)


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


class StoredItem(radicale_item.Item):
    """A Radicale item made from a stored row. Radicale's constructor re-checks that the
    collection path is sanitized (a path normalisation per item: a fifth of a 10,000-item
    PROPFIND); ours come from the database already sane, so this one sets the same fields
    and checks nothing. Made from a listing (`texts` given), its text is read when first
    wanted, with every other text of the listing: a PROPFIND asks etags, not 10 MB of
    calendar data. Its Last-Modified is written out only when asked, too."""

    def __init__(self, collection: Collection, row: ItemRow, texts: Texts | None = None) -> None:
        self._collection_path = collection.path
        self.collection = collection
        self.href = row.href
        self._modified_at = row.modified_at
        self._http_date: str | None = None
        self._texts = texts
        self._text = row.text if texts is None else None
        self._vobject_item = None
        self._etag = row.etag
        self._uid = row.uid
        self._name = "VCARD" if collection.tag == "VADDRESSBOOK" else "VCALENDAR"
        self._component_name = row.component
        self._time_range = (row.start_ts, row.end_ts)

    @property
    def last_modified(self) -> str:
        if self._http_date is None:
            self._http_date = http_date(self._modified_at)
        return self._http_date

    @last_modified.setter
    def last_modified(self, value: str) -> None:
        self._http_date = value

    def serialize(self) -> str:
        if self._text is None and self._texts is not None:
            self._text = self._texts.of(self.href or "")
        return str(super().serialize())

    @property
    def vobject_item(self) -> Any:
        self.serialize()
        return radicale_item.Item.vobject_item.fget(self)  # type: ignore[attr-defined]


class Texts:
    """The texts of one collection's items, read together the first time one is wanted."""

    def __init__(self, calendars: Calendars, collection_id: int) -> None:
        self._calendars = calendars
        self._collection_id = collection_id
        self._texts: dict[str, str] | None = None

    def of(self, href: str) -> str:
        if self._texts is None:
            self._texts = self._calendars.texts(self._collection_id)
        text = self._texts.get(href)
        if text is None:  # saved since the listing, or gone ("": nothing to measure)
            item = self._calendars.item(self._collection_id, href)
            text = item.text if item is not None else ""
        return text


def new_item(href: str, item: radicale_item.Item) -> NewItem:
    """What we store of an item Radicale parsed (its text, and what we index)."""
    return NewItem.of(href, describe(item))


class Collection(radicale_storage.BaseCollection):
    """One stored collection (or the root, `row` None), as Radicale sees it."""

    def __init__(self, storage: Storage, path: str, row: CollectionRow | None) -> None:
        self._storage = storage
        self._calendars = storage.calendars
        self._path = path
        self._row = row

    @property
    def path(self) -> str:
        return self._path

    @property
    def tag(self) -> str:
        return self._row.tag if self._row is not None else ""

    @property
    def etag(self) -> str:
        if self._row is None:
            return '"root"'
        return f'"{self._row.generation}-{self._row.sync_seq}"'

    @property
    def last_modified(self) -> str:
        if self._row is None:
            return http_date(datetime(1970, 1, 1, tzinfo=None).astimezone())
        return http_date(self._row.modified_at)

    def get_meta(self, key: str | None = None) -> Any:
        meta = properties.theirs(self._row.props) if self._row is not None else {}
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        row = self._required()
        self._calendars.set_props(row.id, properties.ours(props))

    # -- items --------------------------------------------------------------------------

    def _item(self, row: ItemRow) -> radicale_item.Item:
        return StoredItem(self, row)

    def get_all(self) -> Iterator[radicale_item.Item]:
        if self._row is None or not self._row.tag:
            return
        for row in self._calendars.items(self._row.id):
            yield self._item(row)

    def listing(self) -> Iterator[radicale_item.Item]:
        """Every item, as a Depth: 1 PROPFIND lists them: texts read only when wanted."""
        if self._row is None or not self._row.tag:
            return
        texts = Texts(self._calendars, self._row.id)
        for row in self._calendars.items(self._row.id, with_text=False):
            yield StoredItem(self, row, texts)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        found = self._calendars.items_by_href(self._row.id, wanted) if self._row else {}
        for href in wanted:
            row = found.get(href)
            yield href, self._item(row) if row is not None else None

    def get_filtered(
        self, filters: Iterable[ET.Element]
    ) -> Iterator[tuple[radicale_item.Item, bool]]:
        """Radicale's prefilter (component and time range) as one indexed query; an item
        "fully matches" under the same rule as Radicale's own default. The others
        (recurring events whose span encloses the range, mostly) are tested with Radicale's
        own filter once per item version and filter: clients ask the same window again
        and again, and the test parses the whole item."""
        if self._row is None or not self._row.tag:
            return
        filters = list(filters)
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, self._row.tag)
        asked = hashlib.blake2b(b"".join(ET.tostring(f) for f in filters), digest_size=16).digest()
        for row in self._calendars.items_in_range(self._row.id, tag, start, end):
            item = self._item(row)
            if simple and (start <= row.start_ts or row.end_ts <= end):
                yield item, True
                continue
            matches = self._storage.filter_answer(self._row.tag, item, row.etag, filters, asked)
            if matches is None:
                yield item, False  # Radicale tests it again and reports what is wrong
            elif matches:
                yield item, True

    def has_uid(self, uid: str) -> bool:
        return self._row is not None and self._calendars.has_uid(self._row.id, uid)

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        row = self._required()
        fresh, old = self._calendars.put_item(row.id, new_item(href, item), quiet=True)
        self._storage.changed(row.id, old, fresh)
        return self._item(fresh), self._item(old) if old is not None else None

    def delete(self, href: str | None = None) -> None:
        if href is None:
            self._calendars.delete_collection(self._path)
            return
        row = self._required()
        try:
            gone = self._calendars.delete_item(row.id, href, quiet=True)
        except NotFound:
            raise radicale_storage.ComponentNotFoundError(href) from None
        self._storage.changed(row.id, gone, None)

    # -- sync-collection (RFC 6578) -------------------------------------------------------

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        row = self._required()
        token = f"{SYNC_PREFIX}{row.generation}-{row.sync_seq}"
        if not old_token:
            return token, [item.href for item in self._calendars.items(row.id)]
        generation, _, seq = old_token.removeprefix(SYNC_PREFIX).rpartition("-")
        if (
            not old_token.startswith(SYNC_PREFIX)
            or generation != row.generation
            or not seq.isdigit()
            or int(seq) > row.sync_seq
        ):
            raise ValueError(f"unknown sync token {old_token!r}")
        changed, deleted = self._calendars.changes_since(row.id, int(seq))
        return token, list(dict.fromkeys(changed + deleted))

    def _required(self) -> CollectionRow:
        if self._row is None:
            raise ValueError("the root holds no items")
        return self._row


class DirectoryBook(Collection):
    """The global address book in every home ("<home>/directory"): read-only vCards made
    from the directory on each request. Its sync token is a digest of the whole book, so
    an unchanged book reports nothing and a changed one asks the client to start over
    (RFC 6578 §3.2 valid-sync-token), which every client handles."""

    def __init__(self, storage: Storage, path: str) -> None:
        super().__init__(storage, path, None)
        self._read: dict[str, ItemRow] | None = None

    @property
    def _cards(self) -> dict[str, ItemRow]:
        """Read on first use: listing a home names the book without reading it."""
        if self._read is None:
            self._read = {c.href: c for c in self._storage.calendars.directory_cards()}
        return self._read

    @property
    def tag(self) -> str:
        return "VADDRESSBOOK"

    @property
    def etag(self) -> str:
        digest = hashlib.sha256("".join(c.etag for c in self._cards.values()).encode())
        return f'"{digest.hexdigest()[:32]}"'

    @property
    def last_modified(self) -> str:
        newest = max((c.modified_at for c in self._cards.values()), default=None)
        return http_date(newest) if newest is not None else super().last_modified

    def get_meta(self, key: str | None = None) -> Any:
        meta = properties.theirs(DIRECTORY_PROPS)
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ValueError("the directory is read-only")

    def get_all(self) -> Iterator[radicale_item.Item]:
        for card in self._cards.values():
            yield self._item(card)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        for href in dict.fromkeys(hrefs):
            card = self._cards.get(href)
            yield href, self._item(card) if card is not None else None

    def get_filtered(
        self, filters: Iterable[ET.Element]
    ) -> Iterator[tuple[radicale_item.Item, bool]]:
        for item in self.get_all():
            yield item, False

    def has_uid(self, uid: str) -> bool:
        return any(card.uid == uid for card in self._cards.values())

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        raise ValueError("the directory is read-only")

    def delete(self, href: str | None = None) -> None:
        raise ValueError("the directory is read-only")

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        token = f"{SYNC_PREFIX}directory-{self.etag.strip(chr(34))}"
        if old_token and old_token != token:
            raise ValueError("the directory changed: start over")
        return token, [] if old_token else list(self._cards)


@dataclass
class _Writing:
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


class Storage(radicale_storage.BaseStorage):
    """Built by dav/app.py with the services (Radicale's `type` may be a callable)."""

    def __init__(self, configuration: config.Configuration, calendars: Calendars) -> None:
        super().__init__(configuration)
        self.calendars = calendars
        self._local = threading.local()
        self._announcements = Announcements(calendars)
        self._answers: TimedCache[tuple[str, str, bytes], bool] = TimedCache(ANSWERS_REMEMBERED)

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
        stored = _with_hrefs(items or (), suffix)
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
        writing = _Writing(kwargs.get("actor") or user or None)
        previous, self._local.writing = getattr(self._local, "writing", None), writing
        try:
            with self.calendars.locks.holding(*sane):
                yield
        finally:
            self._local.writing = previous
            self._announcements.tell(writing.touched)

    def filter_answer(
        self,
        tag: str,
        item: radicale_item.Item,
        etag: str,
        filters: list[ET.Element],
        asked: bytes,
    ) -> bool | None:
        """Whether `item` passes every filter (Radicale's own test), remembered by item
        version (etag) and filter; None when the test fails."""
        key = (tag, etag, asked)
        known = self._answers.get(key)
        if known is not None:
            return known
        try:
            known = all(radicale_report.test_filter(tag, item, f) for f in filters)
        except Exception:
            return None
        self._answers.put(key, known)
        return known

    def changed(self, collection_id: int, old: ItemRow | None, new: ItemRow | None) -> None:
        """An item written: queued now, under the collection's lock (so in the order of
        the writes), and announced when this thread's write lock is released."""
        writing: _Writing | None = getattr(self._local, "writing", None)
        if writing is None:  # written outside a write lock (not by Radicale's requests)
            self.calendars.announce(collection_id, old, new, None)
            return
        self._announcements.queue(collection_id, old, new, writing.writer)
        writing.touched.setdefault(collection_id)

    def verify(self) -> bool:
        return True


def _with_hrefs(items: Iterable[radicale_item.Item], suffix: str) -> list[NewItem]:
    """Hrefs for a whole uploaded calendar: the UID when it makes a safe, unused name."""
    taken: set[str] = set()
    stored = []
    for item in items:
        uid = item.uid
        for href in (
            uid if uid.lower().endswith(suffix) else uid + suffix,
            radicale_item.get_etag(uid).strip('"') + suffix,
            f"{uuid.uuid4()}{suffix}",
        ):
            if pathutils.is_safe_path_component(href) and href not in taken:
                break
        taken.add(href)
        stored.append(new_item(href, item))
    return stored
