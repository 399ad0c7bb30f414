"""One stored collection as Radicale sees it: items listed, fetched, filtered (time-range
REPORTs as indexed queries), written and synced (RFC 6578) through services/calendar.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from radicale import item as radicale_item
from radicale import storage as radicale_storage
from radicale.item import filter as radicale_filter

from groupware.dav import properties
from groupware.dav.filters import FilterAnswers
from groupware.dav.items import StoredItem, Texts, http_date, new_item
from groupware.errors import NotFound
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import CollectionRow, ItemRow

SYNC_PREFIX = "http://groupware.invalid/ns/sync/"


class Store(Protocol):
    """What a collection needs of the storage that made it (storage.Storage)."""

    calendars: Calendars
    answers: FilterAnswers

    def changed(self, collection_id: int, old: ItemRow | None, new: ItemRow | None) -> None: ...


class Collection(radicale_storage.BaseCollection):
    """One stored collection (or the root, `row` None), as Radicale sees it."""

    def __init__(self, storage: Store, path: str, row: CollectionRow | None) -> None:
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
            matches = self._storage.answers.answer(self._row.tag, item, row.etag, filters, asked)
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
