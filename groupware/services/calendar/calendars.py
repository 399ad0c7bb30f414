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

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from groupware.errors import NotFound
from groupware.model.base import utcnow
from groupware.model.dav import DavCollection, DavItem, DavTombstone
from groupware.model.directory import Alias, AliasTarget, User
from groupware.services.calendar.directorycards import directory_cards
from groupware.services.calendar.locks import CollectionLocks
from groupware.services.calendar.rights import rights_at
from groupware.services.calendar.rows import (
    ACTIVE_USER,
    BRIEF_ITEMS_OF,
    CALENDAR,
    CHANGED,
    COLLECTION_AT,
    COLLECTION_BY_ID,
    COLLECTION_COLUMNS,
    COLLECTION_OR_PARENT,
    COMPONENTS,
    CONTACTS,
    DELETE_ITEM,
    DELETED,
    DESCRIPTION,
    HAS_UID,
    INSERT_ITEM,
    ITEM_AT,
    ITEM_COLUMNS,
    ITEMS_AT,
    ITEMS_IN_RANGE,
    ITEMS_OF,
    ITEMS_OF_IN_RANGE,
    TAG,
    TASKS,
    TEXTS_OF,
    TITLE,
    UNBURY,
    UPDATE_ITEM,
    CollectionRow,
    ItemRow,
    NewItem,
    bump,
    collection_of,
    insert_collection,
    item_of,
    item_values,
    parent_of,
    run,
    tombstone,
)
from groupware.services.core import access
from groupware.services.core.access import Principal
from groupware.store import Database
from groupware.store.prefixes import one_level_below, starts_with

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


log = logging.getLogger(__name__)


# (collection id, the item before, after, who wrote it when known): None before for a new
# item, None after when gone
ItemListener = Callable[[int, "ItemRow | None", "ItemRow | None", "str | None"], None]


class Calendars:
    def __init__(self, database: Database) -> None:
        self._db = database
        self.locks = CollectionLocks(database)
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
            row = run(connection, COLLECTION_BY_ID, cid=collection_id).first()
            return collection_of(row) if row is not None else None

    def find_uid(
        self, home: str, uid: str, *, besides: int | None = None
    ) -> tuple[CollectionRow, ItemRow] | None:
        """The item with `uid` in any calendar of `home` (the first by path), or in any
        but collection `besides`."""
        query = (
            select(*COLLECTION_COLUMNS, *ITEM_COLUMNS)
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
        width = len(COLLECTION_COLUMNS)
        return collection_of(row[:width]), ItemRow(*row[width:])

    # -- who may do what ------------------------------------------------------------------

    def rights(self, principal: Principal, path: str) -> frozenset[str]:
        """What `principal` may do at `path` (rights.py says who may do what)."""
        return rights_at(principal, path, self._owner_id)

    def principal_of(self, address: str) -> Principal | None:
        """The principal of an active user by address (the owner of a shared collection,
        whom Radicale asks about while serving a sharee)."""
        with self._db.read() as session:
            user_id = session.scalar(select(User.id).where(User.address == address, User.active))
            return access.load_principal(session, user_id) if user_id is not None else None

    def addresses_of(self, address: str) -> list[str]:
        """A user's calendar addresses (RFC 6638 calendar-user-address-set): their own,
        then the aliases that deliver to them alone."""
        with self._db.read() as session:
            user_id = session.scalar(select(User.id).where(User.address == address, User.active))
            if user_id is None:
                return []
            other = aliased(AliasTarget)
            alone = ~exists().where(
                other.alias_id == AliasTarget.alias_id,
                or_(other.user_id != user_id, other.user_id.is_(None)),
            )
            aliases = session.scalars(
                select(Alias.address)
                .join(AliasTarget, AliasTarget.alias_id == Alias.id)
                .where(AliasTarget.user_id == user_id, alone, ~Alias.address.startswith("@"))
                .order_by(Alias.address)
            ).all()
        return [address, *aliases]

    def is_known(self, address: str) -> bool:
        """Whether `address` is an active user's (or a room's) of this server."""
        return self._owner_id(address) is not None

    def _owner_id(self, address: str) -> int | None:
        with self._db.reading() as connection:
            found: int | None = run(connection, ACTIVE_USER, address=address).scalar()
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
                    insert_collection(session, path, owner, dict(props))

    # -- the global address book -------------------------------------------------------------

    def directory_cards(self) -> list[ItemRow]:
        """The global address book, as the directory is now (directorycards.py)."""
        with self._db.read() as session:
            return directory_cards(session)

    # -- reading ----------------------------------------------------------------------------

    def collection(self, path: str) -> CollectionRow | None:
        with self._db.reading() as connection:
            row = run(connection, COLLECTION_AT, path=path).first()
            return collection_of(row) if row is not None else None

    def resolve(self, path: str) -> tuple[CollectionRow | None, ItemRow | None]:
        """What a request path names, in one read: (the collection, None), or (its parent
        collection, the item) for an item path, or (None, None)."""
        parent = parent_of(path)
        href = path.rsplit("/", 1)[-1]
        with self._db.reading() as connection:
            rows = run(connection, COLLECTION_OR_PARENT, path=path, parent=parent).all()
            found = {row[1]: collection_of(row) for row in rows}
            if path in found:
                return found[path], None
            collection = found.get(parent) if parent else None
            if collection is None or not collection.tag:
                return None, None
            item = run(connection, ITEM_AT, cid=collection.id, href=href).first()
            return (collection, item_of(item)) if item is not None else (None, None)

    def children(self, path: str) -> list[CollectionRow]:
        """Collections directly under `path` ("" lists the homes)."""
        with self._db.read() as session:
            if path:
                query = select(*COLLECTION_COLUMNS).where(one_level_below(DavCollection.path, path))
            else:
                # The homes: a constant pattern, no user text in it.
                query = select(*COLLECTION_COLUMNS).where(DavCollection.path.not_like("%/%"))
            rows = session.execute(query.order_by(DavCollection.path)).all()
            return [collection_of(row) for row in rows if row[1]]

    def item(self, collection_id: int, href: str) -> ItemRow | None:
        with self._db.reading() as connection:
            row = run(connection, ITEM_AT, cid=collection_id, href=href).first()
            return item_of(row) if row is not None else None

    def items(self, collection_id: int, *, with_text: bool = True) -> list[ItemRow]:
        """Every item by href; without text, each row's text is "" (a listing of etags
        need not read megabytes of calendar data)."""
        with self._db.reading() as connection:
            if with_text:
                return [item_of(row) for row in run(connection, ITEMS_OF, cid=collection_id).all()]
            rows = run(connection, BRIEF_ITEMS_OF, cid=collection_id).all()
            return [ItemRow(h, u, e, c, s, t, "", m) for h, u, e, c, s, t, m in rows]

    def texts(self, collection_id: int) -> dict[str, str]:
        """href → text of every item."""
        with self._db.reading() as connection:
            return dict(run(connection, TEXTS_OF, cid=collection_id).all())

    def items_by_href(self, collection_id: int, hrefs: Sequence[str]) -> dict[str, ItemRow]:
        found: dict[str, ItemRow] = {}
        wanted = list(dict.fromkeys(hrefs))
        with self._db.reading() as connection:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                rows = run(connection, ITEMS_AT, cid=collection_id, hrefs=batch).all()
                found.update((row[0], item_of(row)) for row in rows)
        return found

    def items_in_range(
        self, collection_id: int, component: str | None, start: int, end: int
    ) -> list[ItemRow]:
        """Items whose enclosing time range overlaps [start, end) (a prefilter: a
        recurring item's range encloses all its occurrences)."""
        query = ITEMS_IN_RANGE if component is None else ITEMS_OF_IN_RANGE
        params: dict[str, Any] = {"cid": collection_id, "start": start, "end": end}
        if component is not None:
            params["component"] = component
        with self._db.reading() as connection:
            return [item_of(row) for row in run(connection, query, **params).all()]

    def has_uid(self, collection_id: int, uid: str) -> bool:
        with self._db.reading() as connection:
            return run(connection, HAS_UID, cid=collection_id, uid=uid).first() is not None

    def changes_since(self, collection_id: int, seq: int) -> tuple[list[str], list[str]]:
        """(hrefs changed, hrefs deleted) after `seq`."""
        with self._db.reading() as connection:
            changed = run(connection, CHANGED, cid=collection_id, seq=seq).scalars().all()
            deleted = run(connection, DELETED, cid=collection_id, seq=seq).scalars().all()
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
            seq = bump(session, collection_id)
            old = run(session, ITEM_AT, cid=collection_id, href=item.href).first()
            values = item_values(item, seq)
            if old is None:
                run(session, INSERT_ITEM, collection_id=collection_id, **values)
                run(session, UNBURY, cid=collection_id, href=item.href)
            else:
                run(session, UPDATE_ITEM, w_cid=collection_id, w_href=item.href, **values)
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
            return stored, item_of(old) if old is not None else None

    def delete_item(
        self, collection_id: int, href: str, *, quiet: bool = False, by: str | None = None
    ) -> ItemRow:
        """Delete the item at `href` (NotFound if none): what was there."""
        with self._db.write() as session:
            seq = bump(session, collection_id)
            old = run(session, ITEM_AT, cid=collection_id, href=href).first()
            if old is None:
                raise NotFound(f"no item {href}")
            run(session, DELETE_ITEM, cid=collection_id, href=href)
            tombstone(session, collection_id, href, seq)
        gone = item_of(old)
        if not quiet:
            self.announce(collection_id, gone, None, by)
        return gone

    def move_item(
        self, source_id: int, href: str, target_id: int, target_href: str, item: NewItem
    ) -> None:
        """Move an item (replacing any at the target), as one transaction."""
        with self._db.write() as session:
            seq = bump(session, source_id)
            session.execute(
                delete(DavItem).where(DavItem.collection_id == source_id, DavItem.href == href)
            )
            tombstone(session, source_id, href, seq)
            target_seq = seq if target_id == source_id else bump(session, target_id)
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
            values = item_values(item, target_seq) | {"href": target_href}
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
                    select(*COLLECTION_COLUMNS).where(DavCollection.id == existing)
                ).one()
                return collection_of(row)
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
            collection_id = insert_collection(session, path, owner, dict(props or {}))
            return self._fill(session, collection_id, items)

    @staticmethod
    def _fill(session: Session, collection_id: int, items: list[NewItem]) -> CollectionRow:
        if items:
            session.execute(
                insert(DavItem),
                [{"collection_id": collection_id, **item_values(i, 1)} for i in items],
            )
        row = session.execute(
            select(*COLLECTION_COLUMNS).where(DavCollection.id == collection_id)
        ).one()
        return collection_of(row)

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
