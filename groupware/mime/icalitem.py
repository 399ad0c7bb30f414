"""What is stored of a calendar object or vCard besides its text: UID, etag, component
and enclosing time range, read with Radicale's own item code (so that our indexes agree
with how Radicale filters). Pure: text in, facts out."""

from __future__ import annotations

from dataclasses import dataclass

from radicale import item as radicale_item
from radicale import pathutils


@dataclass(frozen=True)
class ItemFacts:
    uid: str
    etag: str
    component: str  # VEVENT, VTODO, VJOURNAL; "" for a vCard
    start_ts: int
    end_ts: int
    text: str


def describe(item: radicale_item.Item) -> ItemFacts:
    start, end = item.time_range
    return ItemFacts(item.uid, item.etag, item.component_name, start, end, item.serialize())


def describe_text(collection_path: str, text: str) -> ItemFacts:
    """ValueError or RuntimeError (Radicale's) when `text` is not one object."""
    sane = pathutils.strip_path(pathutils.sanitize_path(collection_path))
    return describe(radicale_item.Item(collection_path=sane, text=text))
