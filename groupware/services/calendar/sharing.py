"""Sharing calendars, task lists and address books: with a user or a group, for reading,
writing or free/busy only; and group calendars, which every member of the group sees.

A share appears in each sharee's home as a collection of its own ("bob@x/shared-7"),
which DAV clients list with the rest of the home; dav/sharing.py hands `visible_to` to
Radicale, which maps requests there onto the shared collection with the share's rights.
Group calendars live in the group's home, "+team@example.test/…" (no one logs in as it);
members see them as "group-<id>" in their own home, read-write. They end with their group
(`forget_group`): a new group of the same name starts with none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput, NotFound
from groupware.model.dav import DavCollection, DavShare
from groupware.model.directory import Domain, Group, GroupMember, User
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import TITLE
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.services.core.events import AccessChanged, EventHub
from groupware.store import Database
from groupware.store.prefixes import starts_with

ACCESS = {"read": "r", "write": "rw", "freebusy": "f"}  # → Radicale's permission letters
GROUP_HOME = "+"  # a group's home is "+name@domain"


@dataclass(frozen=True)
class Share:
    id: int
    collection: str  # the shared collection's path
    sharee: str  # a user's address, or "+name@domain" for a group
    access: str  # read, write or freebusy


@dataclass(frozen=True)
class Visible:
    """A collection someone else owns, as one user sees it in their home."""

    path: str  # in the viewer's home: "bob@x/shared-7"
    collection: str  # the collection it shows: "alice@x/calendar"
    owner: str  # the collection's home: "alice@x" or "+team@x"
    permissions: str  # Radicale letters: r, rw or f
    display_name: str


def group_home(name: str, domain: str) -> str:
    return f"{GROUP_HOME}{name}@{domain}"


class Sharing:
    def __init__(self, database: Database, calendars: Calendars, events: EventHub) -> None:
        self._db = database
        self._calendars = calendars
        # Told of every change here, in every process, so that what is remembered of
        # `visible_to` and of rights is dropped at once (dav/sharing.py, dav/rights.py).
        self._events = events

    # -- owners ---------------------------------------------------------------------------

    def share(self, actor: Principal, collection: str, sharee: str, access_: str) -> Share:
        """Share `collection` (the actor's own) with a user or "+group@domain"."""
        if access_ not in ACCESS:
            raise InvalidInput(f"access must be one of {', '.join(ACCESS)}")
        with self._db.write() as session:
            row = self._owned(session, actor, collection)
            user_id, group_id = _sharee(session, sharee)
            if user_id is not None and user_id == row.owner_id:
                raise InvalidInput("a collection cannot be shared with its owner")
            session.execute(
                delete(DavShare).where(
                    DavShare.collection_id == row.id,
                    DavShare.user_id.is_(None) if user_id is None else DavShare.user_id == user_id,
                    DavShare.group_id.is_(None)
                    if group_id is None
                    else DavShare.group_id == group_id,
                )
            )
            share = DavShare(
                collection_id=row.id, user_id=user_id, group_id=group_id, access=access_
            )
            session.add(share)
            session.flush()
            made = Share(share.id, collection, sharee, access_)
        self._events.publish(AccessChanged.now())
        return made

    def unshare(self, actor: Principal, collection: str, sharee: str) -> None:
        with self._db.write() as session:
            row = self._owned(session, actor, collection)
            user_id, group_id = _sharee(session, sharee)
            gone = session.execute(
                delete(DavShare).where(
                    DavShare.collection_id == row.id,
                    DavShare.user_id == user_id
                    if user_id is not None
                    else DavShare.user_id.is_(None),
                    DavShare.group_id == group_id
                    if group_id is not None
                    else DavShare.group_id.is_(None),
                )
            ).rowcount  # type: ignore[attr-defined]
            if not gone:
                raise NotFound(f"{collection} is not shared with {sharee}")
        self._events.publish(AccessChanged.now())

    def shares_of(self, actor: Principal, collection: str) -> list[Share]:
        with self._db.read() as session:
            row = self._owned(session, actor, collection)
            rows = session.execute(
                select(DavShare.id, DavShare.access, User.address, Group.name, Domain.name)
                .outerjoin(User, User.id == DavShare.user_id)
                .outerjoin(Group, Group.id == DavShare.group_id)
                .outerjoin(Domain, Domain.id == Group.domain_id)
                .where(DavShare.collection_id == row.id)
                .order_by(DavShare.id)
            ).all()
            return [
                Share(i, collection, address or group_home(group, domain), how)
                for i, how, address, group, domain in rows
            ]

    def collections_of(self, actor: Principal) -> list[tuple[str, str, str, list[Share]]]:
        """The actor's own calendars, task lists and address books with their shares:
        (path, display name, tag, shares), for the account page."""
        self._calendars.ensure_home(actor.address)
        owned = []
        for row in self._calendars.children(actor.address):
            if not row.tag:
                continue
            name = row.props.get(TITLE) or row.path.rsplit("/", 1)[-1]
            owned.append((row.path, name, row.tag, self.shares_of(actor, row.path)))
        return owned

    def _owned(self, session: Session, actor: Principal, collection: str) -> DavCollection:
        row = session.scalar(select(DavCollection).where(DavCollection.path == collection))
        if row is None or "/" not in collection or not row.tag:
            raise NotFound(f"no calendar or address book {collection}")
        if collection.startswith(GROUP_HOME):
            domain = collection.split("/", 1)[0].rsplit("@", 1)[-1]
            resource = Resource("group", collection, domain=domain)
            access.require(actor, "directory.groups.manage", resource)
        else:
            resource = Resource("calendar", collection, owner_id=row.owner_id)
            access.require(actor, "calendar.share", resource)
        return row

    # -- group calendars --------------------------------------------------------------------

    def create_group_collection(
        self, actor: Principal, group: str, name: str, props: dict[str, str]
    ) -> str:
        """A calendar, task list or address book owned by `group` ("name@domain"), which
        every member reads and writes; made by whoever manages the group."""
        if "/" in name or not name or name.startswith("."):
            raise InvalidInput(f"bad collection name {name!r}")
        group_name, _, domain = group.rpartition("@")
        with self._db.read() as session:
            _group_id(session, group_name, domain)
        access.require(actor, "directory.groups.manage", Resource("group", group, domain=domain))
        home = group_home(group_name, domain)
        if self._calendars.collection(home) is None:
            self._calendars.create_collection(home, {})
        path = f"{home}/{name}"
        self._calendars.create_collection(path, props)
        self._events.publish(AccessChanged.now())
        return path

    def forget_group(self, session: Session, name: str, domain: str) -> None:
        """Everything in a group's home, in the caller's transaction (the group's removal,
        or the creation of a group of that name): its collections, and with them (foreign
        keys cascade) their items, tombstones and shares. The caller tells of the change
        once it is committed (Groups publishes AccessChanged). Deleted rather than kept: no
        one else owns them, and an admin wanting them keeps the group."""
        home = group_home(name, domain)
        session.execute(delete(DavCollection).where(_in_home(home, itself=True)))

    # -- what a user sees ---------------------------------------------------------------------

    def visible_to(self, address: str) -> list[Visible]:
        """Every collection shared with `address` (directly or through a group) and every
        calendar of the groups it belongs to."""
        with self._db.read() as session:
            user_id = session.scalar(select(User.id).where(User.address == address, User.active))
            if user_id is None:
                return []
            groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
            shared = session.execute(
                select(DavShare.id, DavShare.access, DavCollection.path, DavCollection.props)
                .join(DavCollection, DavCollection.id == DavShare.collection_id)
                .where((DavShare.user_id == user_id) | DavShare.group_id.in_(groups))
                .order_by(DavShare.id)
            ).all()
            homes = session.execute(
                select(Group.name, Domain.name)
                .join(Domain, Domain.id == Group.domain_id)
                .where(Group.id.in_(groups))
            ).all()
            owned_by_groups: list[Any] = []
            for group, domain in homes:
                home = group_home(group, domain)
                owned_by_groups += session.execute(
                    select(DavCollection.id, DavCollection.path, DavCollection.props).where(
                        _in_home(home)
                    )
                ).all()
        visible: dict[str, Visible] = {}
        for share_id, how, path, props in shared:
            owner = path.split("/", 1)[0]
            if owner == address:
                continue
            view = Visible(
                f"{address}/shared-{share_id}", path, owner, ACCESS[how], _title(props, owner)
            )
            # Shared both directly and through a group: the widest access counts once.
            known = next((v for v in visible.values() if v.collection == path), None)
            if known is None or len(view.permissions) > len(known.permissions):
                if known is not None:
                    del visible[known.path]
                visible[view.path] = view
        for collection_id, path, props in owned_by_groups:
            owner = path.split("/", 1)[0]
            here = f"{address}/group-{collection_id}"
            visible[here] = Visible(here, path, owner, "rw", _title(props, owner[1:]))
        return list(visible.values())


def _in_home(home: str, *, itself: bool = False) -> ColumnElement[bool]:
    """The collections in `home` (and the home's own row too, `itself`)."""
    inside = starts_with(DavCollection.path, home + "/")
    return or_(DavCollection.path == home, inside) if itself else inside


def _title(props: str, owner: str) -> str:
    name = json.loads(props).get(TITLE) or "Calendar"
    return f"{name} ({owner})"


def _sharee(session: Session, sharee: str) -> tuple[int | None, int | None]:
    """(user id, group id) of "bob@x" or "+team@x"."""
    if sharee.startswith(GROUP_HOME):
        name, _, domain = sharee[1:].rpartition("@")
        return None, _group_id(session, name, domain)
    user_id = session.scalar(select(User.id).where(User.address == sharee.strip().lower()))
    if user_id is None:
        raise NotFound(f"no user {sharee}")
    return user_id, None


def _group_id(session: Session, name: str, domain: str) -> int:
    group_id = session.scalar(
        select(Group.id)
        .join(Domain, Domain.id == Group.domain_id)
        .where(Group.name == name, Domain.name == domain)
    )
    if group_id is None:
        raise NotFound(f"no group {name}@{domain}")
    return group_id
