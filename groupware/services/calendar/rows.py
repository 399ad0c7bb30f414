"""Calendar rows: what a collection and an item are to the rest of the code (CollectionRow,
NewItem, ItemRow), and the statements every DAV request runs, built once, with the
helpers that write rows (a collection, its sync_seq, an item's values, a tombstone).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, NotFound
from groupware.mime.icalitem import ItemFacts
from groupware.model.base import utcnow
from groupware.model.dav import DavCollection, DavItem, DavTombstone
from groupware.model.directory import User

CALENDAR, TASKS, CONTACTS = "calendar", "tasks", "contacts"
DIRECTORY = "directory"  # the global address book, made from the directory on each read
# A collection's properties, in our names (dav/properties.py says what DAV calls them):
# its kind ("VCALENDAR", "VADDRESSBOOK"; none: a home), title, description, the
# components a calendar takes ("VEVENT", "VTODO") and its colour. Others that clients
# set are kept under their own names and never read here.
TAG, TITLE, DESCRIPTION, COMPONENTS, COLOR = "tag", "title", "description", "components", "color"


@dataclass(frozen=True)
class CollectionRow:
    id: int
    path: str
    tag: str
    props: dict[str, str]
    sync_seq: int
    generation: str
    modified_at: datetime

    @property
    def owner(self) -> str:
        return self.path.split("/", 1)[0]


@dataclass(frozen=True)
class NewItem:
    """An item to store: its text and what was read from it once."""

    href: str
    uid: str
    etag: str
    component: str
    start_ts: int
    end_ts: int
    text: str

    @classmethod
    def of(cls, href: str, facts: ItemFacts) -> NewItem:
        return cls(
            href, facts.uid, facts.etag, facts.component, facts.start_ts, facts.end_ts, facts.text
        )


@dataclass(frozen=True)
class ItemRow(NewItem):
    """A stored item: what was stored, and when."""

    modified_at: datetime


TIMESTAMP_MIN, TIMESTAMP_MAX = -62135596800, 253402300800  # Radicale's "no time range"


COLLECTIONS = cast(Table, DavCollection.__table__)


ITEMS = cast(Table, DavItem.__table__)


TOMBSTONES = cast(Table, DavTombstone.__table__)


_C, _I, _T = COLLECTIONS.c, ITEMS.c, TOMBSTONES.c


COLLECTION_COLUMNS = (_C.id, _C.path, _C.tag, _C.props, _C.sync_seq, _C.generation, _C.modified_at)


ITEM_COLUMNS = (
    _I.href,
    _I.uid,
    _I.etag,
    _I.component,
    _I.start_ts,
    _I.end_ts,
    _I.text,
    _I.modified_at,
)


# The statements every DAV request runs, built once: building and keying a statement
# costs more than SQLite takes to answer it (about 0.4 ms a query, several per request).
COLLECTION_AT = select(*COLLECTION_COLUMNS).where(_C.path == bindparam("path"))


COLLECTION_OR_PARENT = select(*COLLECTION_COLUMNS).where(
    or_(_C.path == bindparam("path"), _C.path == bindparam("parent"))
)


COLLECTION_BY_ID = select(*COLLECTION_COLUMNS).where(_C.id == bindparam("cid"))


ITEM_AT = select(*ITEM_COLUMNS).where(
    _I.collection_id == bindparam("cid"), _I.href == bindparam("href")
)


ITEMS_AT = select(*ITEM_COLUMNS).where(
    _I.collection_id == bindparam("cid"), _I.href.in_(bindparam("hrefs", expanding=True))
)


ITEMS_OF = select(*ITEM_COLUMNS).where(_I.collection_id == bindparam("cid")).order_by(_I.href)


BRIEF_ITEMS_OF = (
    select(*(c for c in ITEM_COLUMNS if c is not _I.text))
    .where(_I.collection_id == bindparam("cid"))
    .order_by(_I.href)
)


TEXTS_OF = select(_I.href, _I.text).where(_I.collection_id == bindparam("cid"))


ITEMS_IN_RANGE = (
    select(*ITEM_COLUMNS)
    .where(
        _I.collection_id == bindparam("cid"),
        _I.start_ts < bindparam("end"),
        _I.end_ts > bindparam("start"),
    )
    .order_by(_I.href)
)


ITEMS_OF_IN_RANGE = ITEMS_IN_RANGE.where(_I.component == bindparam("component"))


HAS_UID = (
    select(_I.id).where(_I.collection_id == bindparam("cid"), _I.uid == bindparam("uid")).limit(1)
)


CHANGED = select(_I.href).where(_I.collection_id == bindparam("cid"), _I.seq > bindparam("seq"))


DELETED = select(_T.href).where(_T.collection_id == bindparam("cid"), _T.seq > bindparam("seq"))


ACTIVE_USER = select(User.__table__.c.id).where(
    User.__table__.c.address == bindparam("address"), User.__table__.c.active
)


BUMP = (
    update(COLLECTIONS)
    .where(_C.id == bindparam("cid"))
    .values(sync_seq=_C.sync_seq + 1, modified_at=bindparam("now"))
    .returning(_C.sync_seq)
)


INSERT_ITEM = insert(ITEMS)


UPDATE_ITEM = update(ITEMS).where(
    _I.collection_id == bindparam("w_cid"), _I.href == bindparam("w_href")
)


DELETE_ITEM = delete(ITEMS).where(
    _I.collection_id == bindparam("cid"), _I.href == bindparam("href")
)


UNBURY = delete(TOMBSTONES).where(
    _T.collection_id == bindparam("cid"), _T.href == bindparam("href")
)


BURY = insert(TOMBSTONES)


def run(on: Session | Connection, statement: Any, **params: Any) -> Any:
    """A pre-built statement on a connection, or on a session's (in its transaction)."""
    connection = on.connection() if isinstance(on, Session) else on
    return connection.execute(statement, params)


def collection_of(row: Sequence[Any]) -> CollectionRow:
    return CollectionRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])


def item_of(row: Row[tuple]) -> ItemRow:  # type: ignore[type-arg]
    return ItemRow(*row)


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def insert_collection(session: Session, path: str, owner: int | None, props: dict[str, str]) -> int:
    collection = DavCollection(
        path=path,
        owner_id=owner,
        tag=props.get(TAG, ""),
        props=json.dumps(props, sort_keys=True),
        sync_seq=0,
        generation=secrets.token_hex(8),
        modified_at=utcnow(),
    )
    session.add(collection)
    try:
        session.flush()
    except Exception as error:  # a concurrent creation of the same path
        raise AlreadyExists(f"collection {path} exists") from error
    return collection.id


def bump(session: Session, collection_id: int) -> int:
    """The collection's next sync_seq (taken in this transaction)."""
    seq: int | None = run(session, BUMP, cid=collection_id, now=utcnow()).scalar()
    if seq is None:
        raise NotFound("the collection is gone")
    return seq


def tombstone(session: Session, collection_id: int, href: str, seq: int) -> None:
    run(session, UNBURY, cid=collection_id, href=href)
    run(session, BURY, collection_id=collection_id, href=href, seq=seq)


def item_values(item: NewItem, seq: int) -> dict[str, object]:
    return {
        "href": item.href,
        "uid": item.uid,
        "etag": item.etag,
        "component": item.component,
        "start_ts": item.start_ts,
        "end_ts": item.end_ts,
        "text": item.text,
        "seq": seq,
        "modified_at": utcnow(),
    }
