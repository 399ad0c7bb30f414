"""Calendars, task lists and address books: the one path for their reads and writes, used
by the DAV storage plugin (dav/storage.py, for Radicale) and by the web views.

Collections are named by paths without slashes at either end: "" is the root,
"alice@example.test" alice's home, "alice@example.test/calendar" a calendar in it. Items
are stored with what would otherwise be parsed again (UID, etag, component, time
range), so listing, time-range queries, UID checks and sync never parse a calendar.
Every change bumps the collection's sync_seq in the same transaction; sync-collection
is then "items and tombstones newer than the token's seq".

Who may do what is decided by `rights` (through services.access), in our own names
(READ, WRITE, REPLACE): the DAV layer asks before every request and turns them into
Radicale's letters; the web asks before every view.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, NotFound
from groupware.mime.icalitem import ItemFacts
from groupware.model.base import utcnow
from groupware.model.dav import DavCollection, DavItem, DavTombstone
from groupware.model.directory import Group, User
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.store import Database
from groupware.store.prefixes import one_level_below, starts_with

CALENDAR, TASKS, CONTACTS = "calendar", "tasks", "contacts"
DIRECTORY = "directory"  # the global address book, made from the directory on each read
# A collection's properties, in our names (dav/properties.py says what DAV calls them):
# its kind ("VCALENDAR", "VADDRESSBOOK"; none: a home), title, description, the
# components a calendar takes ("VEVENT", "VTODO") and its colour. Others that clients
# set are kept under their own names and never read here.
TAG, TITLE, DESCRIPTION, COMPONENTS, COLOR = "tag", "title", "description", "components", "color"
DIRECTORY_PROPS = {
    TAG: "VADDRESSBOOK",
    TITLE: "Directory",
    DESCRIPTION: "Everyone in the company (read-only)",
}
# What every user finds in their home from the first login (DAV or web).
DEFAULT_COLLECTIONS: dict[str, dict[str, str]] = {
    CALENDAR: {TAG: "VCALENDAR", TITLE: "Calendar", COMPONENTS: "VEVENT"},
    TASKS: {TAG: "VCALENDAR", TITLE: "Tasks", COMPONENTS: "VTODO"},
    CONTACTS: {TAG: "VADDRESSBOOK", TITLE: "Contacts"},
}
# What may be done with a collection (Calendars.rights): read it, change what it holds
# (in a home: make and remove collections), put a whole new one in its place.
READ, WRITE, REPLACE = "read", "write", "replace"
_NOTHING: frozenset[str] = frozenset()
_READ_ONLY = frozenset({READ})


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


log = logging.getLogger(__name__)
TIMESTAMP_MIN, TIMESTAMP_MAX = -62135596800, 253402300800  # Radicale's "no time range"

_COLLECTIONS = cast(Table, DavCollection.__table__)
_ITEMS = cast(Table, DavItem.__table__)
_TOMBSTONES = cast(Table, DavTombstone.__table__)
_C, _I, _T = _COLLECTIONS.c, _ITEMS.c, _TOMBSTONES.c
_COLLECTION_COLUMNS = (_C.id, _C.path, _C.tag, _C.props, _C.sync_seq, _C.generation, _C.modified_at)
_ITEM_COLUMNS = (
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
_COLLECTION_AT = select(*_COLLECTION_COLUMNS).where(_C.path == bindparam("path"))
_COLLECTION_OR_PARENT = select(*_COLLECTION_COLUMNS).where(
    or_(_C.path == bindparam("path"), _C.path == bindparam("parent"))
)
_COLLECTION_BY_ID = select(*_COLLECTION_COLUMNS).where(_C.id == bindparam("cid"))
_ITEM_AT = select(*_ITEM_COLUMNS).where(
    _I.collection_id == bindparam("cid"), _I.href == bindparam("href")
)
_ITEMS_AT = select(*_ITEM_COLUMNS).where(
    _I.collection_id == bindparam("cid"), _I.href.in_(bindparam("hrefs", expanding=True))
)
_ITEMS_OF = select(*_ITEM_COLUMNS).where(_I.collection_id == bindparam("cid")).order_by(_I.href)
_BRIEF_ITEMS_OF = (
    select(*(c for c in _ITEM_COLUMNS if c is not _I.text))
    .where(_I.collection_id == bindparam("cid"))
    .order_by(_I.href)
)
_TEXTS_OF = select(_I.href, _I.text).where(_I.collection_id == bindparam("cid"))
_ITEMS_IN_RANGE = (
    select(*_ITEM_COLUMNS)
    .where(
        _I.collection_id == bindparam("cid"),
        _I.start_ts < bindparam("end"),
        _I.end_ts > bindparam("start"),
    )
    .order_by(_I.href)
)
_ITEMS_OF_IN_RANGE = _ITEMS_IN_RANGE.where(_I.component == bindparam("component"))
_HAS_UID = (
    select(_I.id).where(_I.collection_id == bindparam("cid"), _I.uid == bindparam("uid")).limit(1)
)
_CHANGED = select(_I.href).where(_I.collection_id == bindparam("cid"), _I.seq > bindparam("seq"))
_DELETED = select(_T.href).where(_T.collection_id == bindparam("cid"), _T.seq > bindparam("seq"))
_ACTIVE_USER = select(User.__table__.c.id).where(
    User.__table__.c.address == bindparam("address"), User.__table__.c.active
)
_BUMP = (
    update(_COLLECTIONS)
    .where(_C.id == bindparam("cid"))
    .values(sync_seq=_C.sync_seq + 1, modified_at=bindparam("now"))
    .returning(_C.sync_seq)
)
_INSERT_ITEM = insert(_ITEMS)
_UPDATE_ITEM = update(_ITEMS).where(
    _I.collection_id == bindparam("w_cid"), _I.href == bindparam("w_href")
)
_DELETE_ITEM = delete(_ITEMS).where(
    _I.collection_id == bindparam("cid"), _I.href == bindparam("href")
)
_UNBURY = delete(_TOMBSTONES).where(
    _T.collection_id == bindparam("cid"), _T.href == bindparam("href")
)
_BURY = insert(_TOMBSTONES)


def _run(on: Session | Connection, statement: Any, **params: Any) -> Any:
    """A pre-built statement on a connection, or on a session's (in its transaction)."""
    connection = on.connection() if isinstance(on, Session) else on
    return connection.execute(statement, params)


def _collection(row: Sequence[Any]) -> CollectionRow:
    return CollectionRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])


def _item(row: Row[tuple]) -> ItemRow:  # type: ignore[type-arg]
    return ItemRow(*row)


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


# (collection id, the item before, after, who wrote it when known): None before for a new
# item, None after when gone
ItemListener = Callable[[int, "ItemRow | None", "ItemRow | None", "str | None"], None]


class CollectionLocks:
    """A lock per collection ("home/name", or a home), held by whoever writes in it:
    Radicale's requests (dav/storage.py) and scheduling's copies. A client's If-Match
    check and its write then see no other change between them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )

    @contextmanager
    def holding(self, *paths: str) -> Iterator[None]:
        """The locks of the collections of `paths` (items name theirs), taken in order."""
        keys = sorted({"/".join(p.strip("/").split("/")[:2]) for p in paths if p})
        with ExitStack() as stack:
            for key in keys:
                stack.enter_context(self._lock_for(key))
            yield

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = threading.Lock()
                self._locks[key] = lock
            return lock


class Calendars:
    def __init__(self, database: Database) -> None:
        self._db = database
        self.locks = CollectionLocks()
        # Told of every item saved or deleted (after commit): scheduling sends iTIP from
        # here. Writes made with quiet=True (scheduling's own) are not told; dav/storage.py
        # writes quietly and announces once the collection's lock is released.
        self.on_item_change: list[ItemListener] = []

    def announce(
        self, collection_id: int, old: ItemRow | None, new: ItemRow | None, by: str | None
    ) -> None:
        """Tell the listeners of a change already committed."""
        for listener in self.on_item_change:
            try:
                listener(collection_id, old, new, by)
            except Exception:  # the save stands; a failed follow-up is logged
                log.exception("item change listener failed on collection %d", collection_id)

    def collection_by_id(self, collection_id: int) -> CollectionRow | None:
        with self._db.reading() as connection:
            row = _run(connection, _COLLECTION_BY_ID, cid=collection_id).first()
            return _collection(row) if row is not None else None

    def find_uid(
        self, home: str, uid: str, *, besides: int | None = None
    ) -> tuple[CollectionRow, ItemRow] | None:
        """The item with `uid` in any calendar of `home` (the first by path), or in any
        but collection `besides`."""
        query = (
            select(*_COLLECTION_COLUMNS, *_ITEM_COLUMNS)
            .join(DavItem, DavItem.collection_id == DavCollection.id)
            .where(
                starts_with(DavCollection.path, home + "/"),
                DavCollection.tag == "VCALENDAR",
                DavItem.uid == uid,
            )
        )
        if besides is not None:
            query = query.where(DavCollection.id != besides)
        with self._db.read() as session:
            row = session.execute(query.order_by(DavCollection.path).limit(1)).first()
        if row is None:
            return None
        width = len(_COLLECTION_COLUMNS)
        return _collection(row[:width]), ItemRow(*row[width:])

    # -- who may do what ------------------------------------------------------------------

    def rights(self, principal: Principal, path: str) -> frozenset[str]:
        """What `principal` may do at `path` (READ, WRITE, REPLACE): at the root and in a
        home, WRITE is making and removing collections; in a collection, changing its
        items, and REPLACE putting a whole new collection in its place. Owners read and
        write their own home; nobody writes outside it; an admin's grants reach no one
        else's calendars (calendar.* are personal permissions). Items have no rights of
        their own: their collection's apply."""
        if not path:
            return _READ_ONLY  # the root: enough to discover one's own home
        depth = path.count("/")
        if depth > 1:
            return _NOTHING
        owner = path.split("/", 1)[0]
        resource = Resource("calendar", path, owner_id=self._owner_id(owner))
        if resource.owner_id is None or principal.address != owner:
            return _NOTHING
        readable = access.can(principal, "calendar.read", resource)
        writable = access.can(principal, "calendar.write", resource)
        if depth == 1 and path.endswith("/" + DIRECTORY):
            return _READ_ONLY if readable else _NOTHING  # the global address book
        granted = {READ} if readable else set()
        if writable:
            granted |= {WRITE} if depth == 0 else {WRITE, REPLACE}  # a share: never REPLACE
        return frozenset(granted)

    @staticmethod
    def group_rights(home: str, path: str) -> frozenset[str]:
        """What a group's home (services/calendar/sharing.py) holds on its own
        collections: asked for a member's request once it is mapped through the member's
        share; nobody can log in as a group, so nobody reaches them any other way."""
        if path.split("/", 1)[0] != home:
            return _NOTHING
        if "/" not in path:
            return _READ_ONLY
        return frozenset({READ, WRITE}) if path.count("/") == 1 else _NOTHING

    def principal_of(self, address: str) -> Principal | None:
        """The principal of an active user by address (the owner of a shared collection,
        whom Radicale asks about while serving a sharee)."""
        with self._db.read() as session:
            user_id = session.scalar(select(User.id).where(User.address == address, User.active))
            return access.load_principal(session, user_id) if user_id is not None else None

    def _owner_id(self, address: str) -> int | None:
        with self._db.reading() as connection:
            found: int | None = _run(connection, _ACTIVE_USER, address=address).scalar()
            return found

    # -- homes ------------------------------------------------------------------------------

    def ensure_home(self, address: str) -> None:
        """The user's home and default collections, made once (idempotent)."""
        with self._db.read() as session:
            present = set(
                session.scalars(
                    select(DavCollection.path).where(
                        or_(
                            DavCollection.path == address,
                            starts_with(DavCollection.path, address + "/"),
                        )
                    )
                )
            )
        wanted = [address] + [f"{address}/{name}" for name in DEFAULT_COLLECTIONS]
        if all(path in present for path in wanted):
            return
        with self._db.write() as session:
            owner = session.scalar(select(User.id).where(User.address == address))
            if owner is None:
                raise NotFound(f"no user {address}")
            for path in wanted:
                exists = session.scalar(select(DavCollection.id).where(DavCollection.path == path))
                if exists is None:
                    props = (
                        DEFAULT_COLLECTIONS.get(path.rsplit("/", 1)[-1], {}) if "/" in path else {}
                    )
                    _insert_collection(session, path, owner, dict(props))

    # -- the global address book -------------------------------------------------------------

    def directory_cards(self) -> list[ItemRow]:
        """A vCard for every active user (name, address) and every group with an address,
        read from the directory each time, so it is always current."""
        with self._db.read() as session:
            users = session.execute(
                select(User.id, User.address, User.display_name, User.created_at)
                .where(User.active)
                .order_by(User.id)
            ).all()
            groups = session.execute(
                select(Group.id, Group.name, Group.address, Group.created_at)
                .where(Group.address.is_not(None))
                .order_by(Group.id)
            ).all()
        cards = [
            _card(f"user-{i}", name or address, address, False, when)
            for i, address, name, when in users
        ]
        cards += [
            _card(f"group-{i}", name, address, True, when) for i, name, address, when in groups
        ]
        return cards

    # -- reading ----------------------------------------------------------------------------

    def collection(self, path: str) -> CollectionRow | None:
        with self._db.reading() as connection:
            row = _run(connection, _COLLECTION_AT, path=path).first()
            return _collection(row) if row is not None else None

    def resolve(self, path: str) -> tuple[CollectionRow | None, ItemRow | None]:
        """What a request path names, in one read: (the collection, None), or (its parent
        collection, the item) for an item path, or (None, None)."""
        parent = parent_of(path)
        href = path.rsplit("/", 1)[-1]
        with self._db.reading() as connection:
            rows = _run(connection, _COLLECTION_OR_PARENT, path=path, parent=parent).all()
            found = {row[1]: _collection(row) for row in rows}
            if path in found:
                return found[path], None
            collection = found.get(parent) if parent else None
            if collection is None or not collection.tag:
                return None, None
            item = _run(connection, _ITEM_AT, cid=collection.id, href=href).first()
            return (collection, _item(item)) if item is not None else (None, None)

    def children(self, path: str) -> list[CollectionRow]:
        """Collections directly under `path` ("" lists the homes)."""
        with self._db.read() as session:
            if path:
                query = select(*_COLLECTION_COLUMNS).where(
                    one_level_below(DavCollection.path, path)
                )
            else:
                # The homes: a constant pattern, no user text in it.
                query = select(*_COLLECTION_COLUMNS).where(DavCollection.path.not_like("%/%"))
            rows = session.execute(query.order_by(DavCollection.path)).all()
            return [_collection(row) for row in rows if row[1]]

    def item(self, collection_id: int, href: str) -> ItemRow | None:
        with self._db.reading() as connection:
            row = _run(connection, _ITEM_AT, cid=collection_id, href=href).first()
            return _item(row) if row is not None else None

    def items(self, collection_id: int, *, with_text: bool = True) -> list[ItemRow]:
        """Every item by href; without text, each row's text is "" (a listing of etags
        need not read megabytes of calendar data)."""
        with self._db.reading() as connection:
            if with_text:
                return [_item(row) for row in _run(connection, _ITEMS_OF, cid=collection_id).all()]
            rows = _run(connection, _BRIEF_ITEMS_OF, cid=collection_id).all()
            return [ItemRow(h, u, e, c, s, t, "", m) for h, u, e, c, s, t, m in rows]

    def texts(self, collection_id: int) -> dict[str, str]:
        """href → text of every item."""
        with self._db.reading() as connection:
            return dict(_run(connection, _TEXTS_OF, cid=collection_id).all())

    def items_by_href(self, collection_id: int, hrefs: Sequence[str]) -> dict[str, ItemRow]:
        found: dict[str, ItemRow] = {}
        wanted = list(dict.fromkeys(hrefs))
        with self._db.reading() as connection:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                rows = _run(connection, _ITEMS_AT, cid=collection_id, hrefs=batch).all()
                found.update((row[0], _item(row)) for row in rows)
        return found

    def items_in_range(
        self, collection_id: int, component: str | None, start: int, end: int
    ) -> list[ItemRow]:
        """Items whose enclosing time range overlaps [start, end) (a prefilter: a
        recurring item's range encloses all its occurrences)."""
        query = _ITEMS_IN_RANGE if component is None else _ITEMS_OF_IN_RANGE
        params: dict[str, Any] = {"cid": collection_id, "start": start, "end": end}
        if component is not None:
            params["component"] = component
        with self._db.reading() as connection:
            return [_item(row) for row in _run(connection, query, **params).all()]

    def has_uid(self, collection_id: int, uid: str) -> bool:
        with self._db.reading() as connection:
            return _run(connection, _HAS_UID, cid=collection_id, uid=uid).first() is not None

    def changes_since(self, collection_id: int, seq: int) -> tuple[list[str], list[str]]:
        """(hrefs changed, hrefs deleted) after `seq`."""
        with self._db.reading() as connection:
            changed = _run(connection, _CHANGED, cid=collection_id, seq=seq).scalars().all()
            deleted = _run(connection, _DELETED, cid=collection_id, seq=seq).scalars().all()
            return list(changed), list(deleted)

    # -- writing ----------------------------------------------------------------------------

    def put_item(
        self, collection_id: int, item: NewItem, *, quiet: bool = False, by: str | None = None
    ) -> tuple[ItemRow, ItemRow | None]:
        """Store `item` under its href: (what is stored now, what it replaced). `by` is
        the address of whoever wrote it, when that is known (a sharee, say)."""
        stored, old = self._put(collection_id, item)
        if not quiet:
            self.announce(collection_id, old, stored, by)
        return stored, old

    def _put(self, collection_id: int, item: NewItem) -> tuple[ItemRow, ItemRow | None]:
        with self._db.write() as session:
            seq = _bump(session, collection_id)
            old = _run(session, _ITEM_AT, cid=collection_id, href=item.href).first()
            values = _item_values(item, seq)
            if old is None:
                _run(session, _INSERT_ITEM, collection_id=collection_id, **values)
                _run(session, _UNBURY, cid=collection_id, href=item.href)
            else:
                _run(session, _UPDATE_ITEM, w_cid=collection_id, w_href=item.href, **values)
            stored = ItemRow(
                item.href,
                item.uid,
                item.etag,
                item.component,
                item.start_ts,
                item.end_ts,
                item.text,
                values["modified_at"],  # type: ignore[arg-type]
            )
            return stored, _item(old) if old is not None else None

    def delete_item(
        self, collection_id: int, href: str, *, quiet: bool = False, by: str | None = None
    ) -> ItemRow:
        """Delete the item at `href` (NotFound if none): what was there."""
        with self._db.write() as session:
            seq = _bump(session, collection_id)
            old = _run(session, _ITEM_AT, cid=collection_id, href=href).first()
            if old is None:
                raise NotFound(f"no item {href}")
            _run(session, _DELETE_ITEM, cid=collection_id, href=href)
            _tombstone(session, collection_id, href, seq)
        gone = _item(old)
        if not quiet:
            self.announce(collection_id, gone, None, by)
        return gone

    def move_item(
        self, source_id: int, href: str, target_id: int, target_href: str, item: NewItem
    ) -> None:
        """Move an item (replacing any at the target), as one transaction."""
        with self._db.write() as session:
            seq = _bump(session, source_id)
            session.execute(
                delete(DavItem).where(DavItem.collection_id == source_id, DavItem.href == href)
            )
            _tombstone(session, source_id, href, seq)
            target_seq = seq if target_id == source_id else _bump(session, target_id)
            session.execute(
                delete(DavItem).where(
                    DavItem.collection_id == target_id, DavItem.href == target_href
                )
            )
            session.execute(
                delete(DavTombstone).where(
                    DavTombstone.collection_id == target_id, DavTombstone.href == target_href
                )
            )
            values = _item_values(item, target_seq) | {"href": target_href}
            session.execute(insert(DavItem).values(collection_id=target_id, **values))

    def set_props(self, collection_id: int, props: dict[str, str]) -> None:
        with self._db.write() as session:
            session.execute(
                update(DavCollection)
                .where(DavCollection.id == collection_id)
                .values(
                    props=json.dumps(props, sort_keys=True),
                    tag=props.get(TAG, ""),
                    sync_seq=DavCollection.sync_seq + 1,
                    modified_at=utcnow(),
                )
            )

    def create_collection(
        self, path: str, props: dict[str, str] | None, items: Iterable[NewItem] = ()
    ) -> CollectionRow:
        """Make the collection at `path`, or replace the contents of the one there (items
        and props; the collection itself, and so its shares, stays, with a new generation
        so that old sync tokens start over); with neither props nor items an existing
        collection is left as it is."""
        items = list(items)
        owner_address = path.split("/", 1)[0]
        with self._db.write() as session:
            existing = session.scalar(select(DavCollection.id).where(DavCollection.path == path))
            if existing is not None and props is None and not items:
                row = session.execute(
                    select(*_COLLECTION_COLUMNS).where(DavCollection.id == existing)
                ).one()
                return _collection(row)
            if existing is not None:
                props = dict(props or {})
                session.execute(delete(DavItem).where(DavItem.collection_id == existing))
                session.execute(delete(DavTombstone).where(DavTombstone.collection_id == existing))
                session.execute(
                    update(DavCollection)
                    .where(DavCollection.id == existing)
                    .values(
                        props=json.dumps(props, sort_keys=True),
                        tag=props.get(TAG, ""),
                        generation=secrets.token_hex(8),
                        sync_seq=DavCollection.sync_seq + 1,
                        modified_at=utcnow(),
                    )
                )
                return self._fill(session, existing, items)
            parent = parent_of(path)
            if (
                parent
                and session.scalar(select(DavCollection.id).where(DavCollection.path == parent))
                is None
            ):
                raise NotFound(f"no collection {parent}")
            owner = session.scalar(select(User.id).where(User.address == owner_address))
            collection_id = _insert_collection(session, path, owner, dict(props or {}))
            return self._fill(session, collection_id, items)

    @staticmethod
    def _fill(session: Session, collection_id: int, items: list[NewItem]) -> CollectionRow:
        if items:
            session.execute(
                insert(DavItem),
                [{"collection_id": collection_id, **_item_values(i, 1)} for i in items],
            )
        row = session.execute(
            select(*_COLLECTION_COLUMNS).where(DavCollection.id == collection_id)
        ).one()
        return _collection(row)

    def delete_collection(self, path: str) -> None:
        """The collection and everything under it."""
        with self._db.write() as session:
            gone = session.execute(
                delete(DavCollection).where(
                    or_(
                        DavCollection.path == path,
                        starts_with(DavCollection.path, path + "/"),
                    )
                )
            ).rowcount  # type: ignore[attr-defined]
            if not gone:
                raise NotFound(f"no collection {path}")


def _card(uid: str, name: str, address: str, group: bool, when: datetime) -> ItemRow:
    kind = "X-ADDRESSBOOKSERVER-KIND:group\r\n" if group else ""  # as Apple clients read
    text = (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{_escape(name)}\r\n"
        f"N:{_escape(name)};;;;\r\n{kind}EMAIL;TYPE=INTERNET:{_escape(address)}\r\n"
        "END:VCARD\r\n"
    )
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    return ItemRow(f"{uid}.vcf", uid, etag, "VCARD", TIMESTAMP_MIN, TIMESTAMP_MAX, text, when)


def _escape(value: str) -> str:
    """RFC 6350 §3.4 text value escaping (and no line breaks)."""
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return value.replace("\r", " ").replace("\n", " ")


def _insert_collection(
    session: Session, path: str, owner: int | None, props: dict[str, str]
) -> int:
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


def _bump(session: Session, collection_id: int) -> int:
    """The collection's next sync_seq (taken in this transaction)."""
    seq: int | None = _run(session, _BUMP, cid=collection_id, now=utcnow()).scalar()
    if seq is None:
        raise NotFound("the collection is gone")
    return seq


def _tombstone(session: Session, collection_id: int, href: str, seq: int) -> None:
    _run(session, _UNBURY, cid=collection_id, href=href)
    _run(session, _BURY, collection_id=collection_id, href=href, seq=seq)


def _item_values(item: NewItem, seq: int) -> dict[str, object]:
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
