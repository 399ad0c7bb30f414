"""Groups: named sets of users with an optional group address, living in one domain.

Roles granted to a group reach every member (access.load_principal follows membership).
What other services keep under a group's name (its calendars) is cleared through
`on_name_freed`, inside the transaction that removes or creates the group.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput
from groupware.model.directory import Domain, Group, GroupMember, User
from groupware.services.core import access, audit
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of, normalize_address, normalize_domain
from groupware.services.core.events import AccessChanged, EventHub
from groupware.store import Database
from groupware.store.directory import address_taken, domain_by_name, group_by_name, user_by_address

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class GroupInfo:
    name: str
    domain: str
    address: str | None
    members: tuple[str, ...]


def group_resource(name: str, domain: str) -> Resource:
    return Resource("group", name, domain)


def _check_name(name: str) -> str:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise InvalidInput(
            f"not a valid group name: {name!r} (letters, digits, . _ -; at most 100)"
        )
    return name


# (the transaction's session, the group's name, its domain)
NameHook = Callable[[Session, str, str], None]


class Groups:
    def __init__(self, database: Database, events: EventHub) -> None:
        self._db = database
        self._events = events  # told of each change, for what processes remember of rights
        # Run in the transaction that removes a group, and in the one that creates a
        # group: what lives under the name goes with the group (or nothing changes), and
        # a new group of an old name never finds the old one's data.
        self.on_name_freed: list[NameHook] = []

    def add(
        self,
        actor: Principal,
        name: str,
        *,
        domain: str | None = None,
        address: str | None = None,
        members: list[str] | None = None,
    ) -> GroupInfo:
        """Create a group in `domain`, or in the domain of its address."""
        name = _check_name(name)
        address = normalize_address(address) if address else None
        if domain is None and address is None:
            raise InvalidInput("a group needs a domain or an address")
        domain_name = normalize_domain(domain) if domain else domain_of(address or "")
        if address and domain_of(address) != domain_name:
            raise InvalidInput(f"the group address must be in {domain_name}")
        access.require(actor, "directory.groups.manage", group_resource(name, domain_name))
        wanted = sorted({normalize_address(m) for m in members or []})
        with self._db.write() as session:
            dom = domain_by_name(session, domain_name)
            exists = session.scalar(
                select(Group).where(Group.domain_id == dom.id, Group.name == name)
            )
            if exists is not None:
                raise AlreadyExists(f"group already exists: {name} in {domain_name}")
            if address:
                taken = address_taken(session, address)
                if taken:
                    raise AlreadyExists(f"{address} is already {taken}")
            group = Group(domain_id=dom.id, name=name, address=address)
            session.add(group)
            session.flush()
            for hook in self.on_name_freed:
                hook(session, name, domain_name)
            for member in wanted:
                session.add(
                    GroupMember(group_id=group.id, user_id=_member(session, actor, member).id)
                )
            audit.record(
                session,
                actor,
                "group.add",
                target=name,
                domain=domain_name,
                detail=" ".join(wanted),
            )
        self._events.publish(AccessChanged.now())
        return GroupInfo(name, domain_name, address, tuple(wanted))

    def list_all(self, actor: Principal, domain: str | None = None) -> list[GroupInfo]:
        visible = access.domains_with(actor, "directory.groups.manage")
        query = (
            select(Group.id, Group.name, Domain.name, Group.address)
            .join(Domain, Domain.id == Group.domain_id)
            .order_by(Domain.name, Group.name)
        )
        if visible is not None:
            query = query.where(Domain.name.in_(visible))
        if domain:
            query = query.where(Domain.name == normalize_domain(domain))
        with self._db.read() as session:
            groups = session.execute(query).all()
            members: dict[int, list[str]] = {}
            rows = session.execute(
                select(GroupMember.group_id, User.address)
                .join(User, User.id == GroupMember.user_id)
                .where(GroupMember.group_id.in_([g[0] for g in groups]))
                .order_by(User.address)
            )
            for group_id, member in rows:
                members.setdefault(group_id, []).append(member)
        return [
            GroupInfo(name, dom, address, tuple(members.get(gid, [])))
            for gid, name, dom, address in groups
        ]

    def get(self, actor: Principal, name: str, domain: str | None = None) -> GroupInfo:
        with self._db.read() as session:
            group, domain_name = self._managed(session, actor, name, domain)
            group_name = group.name  # ORM objects expire when a read ends
        for info in self.list_all(actor, domain_name):
            if info.name == group_name:
                return info
        raise AssertionError("group vanished")  # pragma: no cover

    def add_member(
        self, actor: Principal, name: str, member: str, domain: str | None = None
    ) -> None:
        member = normalize_address(member)
        with self._db.write() as session:
            group, domain_name = self._changeable(session, actor, name, domain)
            user = _member(session, actor, member)
            if session.get(GroupMember, (group.id, user.id)) is not None:
                raise AlreadyExists(f"{member} is already a member of {group.name}")
            session.add(GroupMember(group_id=group.id, user_id=user.id))
            audit.record(
                session,
                actor,
                "group.member.add",
                target=group.name,
                domain=domain_name,
                detail=member,
            )
        self._events.publish(AccessChanged.now())

    def remove_member(
        self, actor: Principal, name: str, member: str, domain: str | None = None
    ) -> None:
        member = normalize_address(member)
        with self._db.write() as session:
            group, domain_name = self._changeable(session, actor, name, domain)
            user = user_by_address(session, member)
            removed = session.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == group.id, GroupMember.user_id == user.id
                )
            )
            if not removed.rowcount:  # type: ignore[attr-defined]
                raise InvalidInput(f"{member} is not a member of {group.name}")
            audit.record(
                session,
                actor,
                "group.member.remove",
                target=group.name,
                domain=domain_name,
                detail=member,
            )
        self._events.publish(AccessChanged.now())

    def remove(self, actor: Principal, name: str, domain: str | None = None) -> None:
        with self._db.write() as session:
            group, domain_name = self._changeable(session, actor, name, domain)
            session.delete(group)
            session.flush()
            for hook in self.on_name_freed:
                hook(session, group.name, domain_name)
            audit.record(session, actor, "group.remove", target=group.name, domain=domain_name)
        self._events.publish(AccessChanged.now())

    @classmethod
    def _changeable(
        cls, session: Session, actor: Principal, name: str, domain: str | None
    ) -> tuple[Group, str]:
        """`_managed`, and the actor outranks the group's roles: changing who is in a
        group that holds roles must not hand the actor more than it already holds."""
        group, domain_name = cls._managed(session, actor, name, domain)
        grants = access.grants_of_group(session, group.id)
        access.require_outranks(actor, f"group {group.name}@{domain_name}", grants)
        return group, domain_name

    @staticmethod
    def _managed(
        session: Session, actor: Principal, name: str, domain: str | None
    ) -> tuple[Group, str]:
        group = group_by_name(session, name.lower(), normalize_domain(domain) if domain else None)
        domain_name = session.get(Domain, group.domain_id).name  # type: ignore[union-attr]
        access.require(actor, "directory.groups.manage", group_resource(group.name, domain_name))
        return group, domain_name


def _member(session: Session, actor: Principal, address: str) -> User:
    """A user to put in a group: only from domains where the actor manages groups, checked
    before the lookup so that the refusal reveals nothing of other domains."""
    access.require(actor, "directory.groups.manage", Resource("user", address, domain_of(address)))
    return user_by_address(session, address)
