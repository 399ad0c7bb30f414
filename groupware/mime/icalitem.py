"""What is stored of a calendar object or vCard besides its text: UID, etag, component
and enclosing time range, read with Radicale's own item code (so that our indexes agree
with how Radicale filters). Every path that stores an item describes it here, so this is
where the recurrence limit (mime/recurrence.py) holds for all of them. Pure: text in,
facts out."""

from __future__ import annotations

from dataclasses import dataclass

from radicale import item as radicale_item
from radicale import pathutils

from groupware.mime import recurrence


@dataclass(frozen=True)
class ItemFacts:
    uid: str
    etag: str
    component: str  # VEVENT, VTODO, VJOURNAL; "" for a vCard
    start_ts: int
    end_ts: int
    text: str


def describe(item: radicale_item.Item) -> ItemFacts:
    """recurrence.TooManyInstances (a ValueError) when a calendar object's recurrences
    are over the limit: checked before anything walks them."""
    if item.name == "VCALENDAR":
        recurrence.check(item.vobject_item)
    start, end = item.time_range
    return ItemFacts(item.uid, item.etag, item.component_name, start, end, item.serialize())


def describe_text(collection_path: str, text: str) -> ItemFacts:
    """ValueError when `text` is not one calendar object or vCard, TooManyInstances (a
    ValueError too) when it is one over the recurrence limit. Radicale's item code raises
    what vobject and its time-range walk meet in broken text (RuntimeError,
    AttributeError, TypeError, KeyError...); its own PUT answers any of them 400."""
    sane = pathutils.strip_path(pathutils.sanitize_path(collection_path))
    try:
        return describe(radicale_item.Item(collection_path=sane, text=text))
    except recurrence.TooManyInstances:
        raise
    except Exception as error:
        raise ValueError(f"not one calendar object or vCard: {error}") from error
