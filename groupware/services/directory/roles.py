"""Roles (named sets of permissions) and their grants to users or groups.

Built-in roles come from the first migration; admins define custom ones from the
permission names in access.PERMISSIONS and grant them globally or on one domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput, NotFound
from groupware.model.directory import Domain, Group, Role, RoleGrant, RolePermission, User
from groupware.services.core import access, audit
from groupware.services.core.access import IMPLICIT_ROLE, PERMISSIONS, WILDCARD, Principal, Resource
from groupware.services.core.addresses import normalize_address, normalize_domain
from groupware.services.core.events import AccessChanged, EventHub
from groupware.store import Database
from groupware.store.directory import domain_by_name, group_by_name, role_by_name, user_by_address

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
ROLES_RESOURCE = Resource("roles", "all")


@dataclass(frozen=True)
class RoleInfo:
    name: str
    description: str
    builtin: bool
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class GrantInfo:
    id: int
    role: str
    grantee: str  # a user's address, or "group:name@domain"
    domain: str | None  # None: everywhere


class Roles:
    def __init__(self, database: Database, events: EventHub) -> None:
        self._db = database
        self._events = events  # told of each change, for what processes remember of rights

    def list_all(self) -> list[RoleInfo]:
        """Every role; the catalogue is not secret (anyone may see what roles exist)."""
        with self._db.read() as session:
            perms: dict[int, list[str]] = {}
            for role_id, perm in session.execute(
                select(RolePermission.role_id, RolePermission.permission)
            ):
                perms.setdefault(role_id, []).append(perm)
            return [
                RoleInfo(r.name, r.description, r.builtin, tuple(sorted(perms.get(r.id, []))))
                for r in session.scalars(select(Role).order_by(Role.builtin.desc(), Role.name))
            ]

    def create(
        self, actor: Principal, name: str, permissions: list[str], description: str = ""
    ) -> RoleInfo:
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        name = name.strip().lower()
        if not _NAME.match(name):
            raise InvalidInput(f"not a valid role name: {name!r} (a-z, 0-9 and -)")
        wanted = sorted(set(permissions))
        unknown = [p for p in wanted if p not in PERMISSIONS and p != WILDCARD]
        if unknown:
            raise InvalidInput(
                f"unknown permission {unknown[0]!r}; known: {', '.join(sorted(PERMISSIONS))}"
            )
        if not wanted:
            raise InvalidInput("a role needs at least one permission")
        with self._db.write() as session:
            if session.scalar(select(Role).where(Role.name == name)) is not None:
                raise AlreadyExists(f"role already exists: {name}")
            role = Role(name=name, description=description.strip()[:200], builtin=False)
            session.add(role)
            session.flush()
            session.add_all(RolePermission(role_id=role.id, permission=p) for p in wanted)
            audit.record(session, actor, "role.create", target=name, detail=" ".join(wanted))
            return RoleInfo(name, role.description, False, tuple(wanted))

    def delete(self, actor: Principal, name: str) -> None:
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        with self._db.write() as session:
            role = role_by_name(session, name)
            if role.builtin:
                raise InvalidInput(f"{name} is a built-in role and cannot be deleted")
            session.delete(role)
            audit.record(session, actor, "role.delete", target=name)
        self._events.publish(AccessChanged.now())

    def grant(
        self,
        actor: Principal,
        role: str,
        *,
        user: str | None = None,
        group: str | None = None,
        domain: str | None = None,
    ) -> GrantInfo:
        """Give `role` to a user or a group (group as "name" or "name@domain")."""
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        if role == IMPLICIT_ROLE:
            raise InvalidInput("every user holds the user role on their own data already")
        with self._db.write() as session:
            role_row = role_by_name(session, role)
            grantee = _grantee(session, user, group)
            domain_row = domain_by_name(session, normalize_domain(domain)) if domain else None
            query = select(RoleGrant).where(
                RoleGrant.role_id == role_row.id,
                RoleGrant.user_id == grantee[0] if grantee[0] else RoleGrant.user_id.is_(None),
                RoleGrant.group_id == grantee[1] if grantee[1] else RoleGrant.group_id.is_(None),
                RoleGrant.domain_id == domain_row.id
                if domain_row
                else RoleGrant.domain_id.is_(None),
            )
            if session.scalar(query) is not None:
                raise AlreadyExists(f"{grantee[2]} already holds {role} there")
            row = RoleGrant(
                role_id=role_row.id,
                user_id=grantee[0],
                group_id=grantee[1],
                domain_id=domain_row.id if domain_row else None,
            )
            session.add(row)
            session.flush()
            where = domain_row.name if domain_row else None
            audit.record(
                session,
                actor,
                "role.grant",
                target=grantee[2],
                domain=where,
                detail=f"{role} on {where or 'all domains'}",
            )
            made = GrantInfo(row.id, role, grantee[2], where)
        self._events.publish(AccessChanged.now())
        return made

    def revoke(
        self,
        actor: Principal,
        role: str,
        *,
        user: str | None = None,
        group: str | None = None,
        domain: str | None = None,
    ) -> None:
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        wanted_domain = normalize_domain(domain) if domain else None
        grantee = (normalize_address(user) if user else f"group:{group}").lower()
        for info in self.grants(actor):
            if info.role == role and info.domain == wanted_domain and _same(info.grantee, grantee):
                self.revoke_grant(actor, info.id)
                return
        raise NotFound(f"{grantee} does not hold {role} on {wanted_domain or 'all domains'}")

    def revoke_grant(self, actor: Principal, grant_id: int) -> None:
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        with self._db.write() as session:
            info = self._grant_infos(session, RoleGrant.id == grant_id)
            if not info:
                raise NotFound(f"no grant {grant_id}")
            row = session.get(RoleGrant, grant_id)
            session.delete(row)
            audit.record(
                session,
                actor,
                "role.revoke",
                target=info[0].grantee,
                domain=info[0].domain,
                detail=f"{info[0].role} on {info[0].domain or 'all domains'}",
            )
        self._events.publish(AccessChanged.now())

    def grants(self, actor: Principal) -> list[GrantInfo]:
        access.require(actor, "directory.roles.manage", ROLES_RESOURCE)
        with self._db.read() as session:
            return self._grant_infos(session, None)

    @staticmethod
    def _grant_infos(session: Session, condition: object) -> list[GrantInfo]:
        group_domain = Domain.__table__.alias("group_domain")
        query = (
            select(
                RoleGrant.id, Role.name, User.address, Group.name, group_domain.c.name, Domain.name
            )
            .join(Role, Role.id == RoleGrant.role_id)
            .outerjoin(User, User.id == RoleGrant.user_id)
            .outerjoin(Group, Group.id == RoleGrant.group_id)
            .outerjoin(group_domain, group_domain.c.id == Group.domain_id)
            .outerjoin(Domain, Domain.id == RoleGrant.domain_id)
            .order_by(Role.name, RoleGrant.id)
        )
        if condition is not None:
            query = query.where(condition)  # type: ignore[arg-type]
        return [
            GrantInfo(gid, role, address or f"group:{gname}@{gdomain}", domain)
            for gid, role, address, gname, gdomain, domain in session.execute(query)
        ]


def _same(grantee: str, wanted: str) -> bool:
    """ "group:team" matches "group:team@example.test" when no domain was given."""
    return grantee == wanted or (
        wanted.startswith("group:") and "@" not in wanted and grantee.startswith(wanted + "@")
    )


def _grantee(
    session: Session, user: str | None, group: str | None
) -> tuple[int | None, int | None, str]:
    if (user is None) == (group is None):
        raise InvalidInput("grant to exactly one of a user or a group")
    if user is not None:
        row = user_by_address(session, normalize_address(user))
        return row.id, None, row.address
    name, _, domain = (group or "").lower().partition("@")
    group_row = group_by_name(session, name, domain or None)
    domain_name = session.get(Domain, group_row.domain_id).name  # type: ignore[union-attr]
    return None, group_row.id, f"group:{group_row.name}@{domain_name}"
