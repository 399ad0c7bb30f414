"""Stored items as Radicale sees them: an item made from a row without parsing it, the
texts of a listing read together when first wanted, and what is stored of an item Radicale
parsed (with hrefs for a whole uploaded calendar).
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from radicale import item as radicale_item
from radicale import pathutils
from radicale import storage as radicale_storage

from groupware.mime.icalitem import describe
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import ItemRow, NewItem


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


class StoredItem(radicale_item.Item):
    """A Radicale item made from a stored row. Radicale's constructor re-checks that the
    collection path is sanitized (a path normalisation per item: a fifth of a 10,000-item
    PROPFIND); ours come from the database already sane, so this one sets the same fields
    and checks nothing. Made from a listing (`texts` given), its text is read when first
    wanted, with every other text of the listing: a PROPFIND asks etags, not 10 MB of
    calendar data. Its Last-Modified is written out only when asked, too."""

    def __init__(
        self, collection: radicale_storage.BaseCollection, row: ItemRow, texts: Texts | None = None
    ) -> None:
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


def with_hrefs(items: Iterable[radicale_item.Item], suffix: str) -> list[NewItem]:
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
