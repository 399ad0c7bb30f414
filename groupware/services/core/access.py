"""The one permission check: `can(principal, permission, resource)`, used by every caller.

To add a permission: name it in PERMISSIONS (and in GLOBAL_ONLY or PERSONAL if it is
such), then call `require` where the action happens. Roles are sets of these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from groupware.errors import PermissionDenied
from groupware.model.directory import (
    Domain,
    GroupMember,
    Role,
    RoleGrant,
    RolePermission,
    User,
)

PERMISSIONS: dict[str, str] = {
    "directory.domains.manage": "add and remove domains",
    "directory.users.manage": "create, edit, disable and remove users",
    "directory.groups.manage": "create groups and change their members",
    "directory.aliases.manage": "create and remove aliases",
    "directory.roles.manage": "define roles and grant them",
    "account.manage": "change a password, TOTP and app passwords",
    "mail.read": "read a mailbox",
    "mail.send_as": "send with an address as sender",
    "calendar.read": "read calendars, task lists and address books",
    "calendar.write": "change calendars, task lists and address books",
    "calendar.share": "share calendars, task lists and address books",
    "calendar.book": "book rooms and equipment whose booking is restricted",
    "queue.manage": "inspect, retry and delete queued mail",
    "audit.read": "read the audit log",
}
# Server-wide things: a grant scoped to one domain never confers these.
GLOBAL_ONLY = frozenset({"directory.domains.manage", "directory.roles.manage", "queue.manage"})
# Other people's data: only owners and explicit shares reach it, never the "*" wildcard, so
# an admin can manage an account without reading its mail or calendars.
PERSONAL = frozenset({"mail.read", "calendar.read", "calendar.write", "calendar.share"})
# What every active user may do to what is their own (the built-in "user" role).
OWNER_PERMISSIONS = frozenset(
    {
        "account.manage",
        "mail.read",
        "mail.send_as",
        "calendar.read",
        "calendar.write",
        "calendar.share",
    }
)
WILDCARD = "*"

BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({WILDCARD}),
    "domain-admin": frozenset(
        {"directory.users.manage", "directory.groups.manage", "directory.aliases.manage"}
    ),
    "user": OWNER_PERMISSIONS,
}
IMPLICIT_ROLE = "user"  # held by every active user on their own data; never granted


@dataclass(frozen=True)
class Grant:
    role: str
    permissions: frozenset[str]
    domain: str | None  # None: everywhere


@dataclass(frozen=True)
class Principal:
    """Who is acting, with every grant they hold (direct and through groups), and from where."""

    user_id: int | None
    address: str
    grants: tuple[Grant, ...] = ()
    service: str = ""
    peer_ip: str = ""

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def via(self, service: str, peer_ip: str = "") -> Principal:
        return replace(self, service=service, peer_ip=peer_ip)

    def roles(self) -> list[str]:
        return sorted({g.role if g.domain is None else f"{g.role}@{g.domain}" for g in self.grants})


SYSTEM = Principal(None, "system", (Grant("admin", frozenset({WILDCARD}), None),), "cli")


@dataclass(frozen=True)
class Resource:
    """What an action touches: its kind and name, the domain it lives in, and its owner."""

    kind: str  # domain, user, group, alias, role, address, queue, audit, mailbox, calendar
    name: str
    domain: str | None = None
    owner_id: int | None = field(default=None)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def can(principal: Principal, permission: str, resource: Resource) -> bool:
    """True when the principal may use `permission` on `resource`.

    Owners always hold OWNER_PERMISSIONS on their own things; otherwise some grant must
    name the permission (or "*", except for PERSONAL ones) and cover the resource's
    domain: global grants cover everything, domain grants only that domain.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if (
        resource.owner_id is not None
        and resource.owner_id == principal.user_id
        and permission in OWNER_PERMISSIONS
    ):
        return True
    for grant in principal.grants:
        named = permission in grant.permissions or (
            WILDCARD in grant.permissions and permission not in PERSONAL
        )
        if not named:
            continue
        if grant.domain is None:
            return True
        if (
            permission not in GLOBAL_ONLY
            and resource.domain is not None
            and resource.domain == grant.domain
        ):
            return True
    return False


def require(principal: Principal, permission: str, resource: Resource) -> None:
    """`can` or raise PermissionDenied with a message that names what was refused."""
    if not can(principal, permission, resource):
        where = f" in domain {resource.domain}" if resource.domain else ""
        raise PermissionDenied(
            f"permission denied: {principal.address} may not {permission} on {resource}{where}"
        )


def domains_with(principal: Principal, permission: str) -> set[str] | None:
    """The domains where `permission` is granted; None means everywhere (a global grant)."""
    domains: set[str] = set()
    for grant in principal.grants:
        if permission in grant.permissions or (
            WILDCARD in grant.permissions and permission not in PERSONAL
        ):
            if grant.domain is None:
                return None
            if permission not in GLOBAL_ONLY:
                domains.add(grant.domain)
    return domains


def outranks(actor: Principal, grants: tuple[Grant, ...]) -> bool:
    """True when the actor holds every permission of `grants` at least as widely.

    Taking over an account or a group (a password reset, a new member) would hand the
    actor whatever that account or group holds; this rule makes such a takeover gain
    nothing, so a domain-admin cannot become an admin through one.
    """
    if any(WILDCARD in g.permissions and g.domain is None for g in actor.grants):
        return True
    for grant in grants:
        for permission in grant.permissions:
            if permission == WILDCARD:
                return False
            scope = domains_with(actor, permission)
            if scope is None:
                continue
            if grant.domain is None or permission in GLOBAL_ONLY or grant.domain not in scope:
                return False
    return True


def require_outranks(actor: Principal, target: str, grants: tuple[Grant, ...]) -> None:
    if not outranks(actor, grants):
        held = ", ".join(
            sorted({g.role if g.domain is None else f"{g.role}@{g.domain}" for g in grants})
        )
        raise PermissionDenied(
            f"permission denied: {actor.address} may not manage {target}, "
            f"which holds roles beyond the actor's ({held})"
        )


def grants_of_user(session: Session, user_id: int) -> tuple[Grant, ...]:
    """Every grant a user holds, directly or through a group (active or not)."""
    return _grants(session, _GRANTS_OF_USER, user_id)


def grants_of_group(session: Session, group_id: int) -> tuple[Grant, ...]:
    return _grants(session, _GRANTS_OF_GROUP, group_id)


def load_principal(session: Session, user_id: int) -> Principal | None:
    """The principal of an active user with all grants, direct and through groups."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return Principal(user.id, user.address, grants_of_user(session, user_id))


# Built once (every remembered login reads a user's grants): SQLAlchemy then keys its
# compiled-statement cache without walking the statement each time.
_GRANT_ROWS = (
    select(Role.name, RolePermission.permission, Domain.name)
    .select_from(RoleGrant)
    .join(Role, Role.id == RoleGrant.role_id)
    .join(RolePermission, RolePermission.role_id == Role.id)
    .outerjoin(Domain, Domain.id == RoleGrant.domain_id)
)
_GRANTS_OF_USER = _GRANT_ROWS.where(
    (RoleGrant.user_id == bindparam("holder"))
    | RoleGrant.group_id.in_(
        select(GroupMember.group_id).where(GroupMember.user_id == bindparam("holder"))
    )
)
_GRANTS_OF_GROUP = _GRANT_ROWS.where(RoleGrant.group_id == bindparam("holder"))


def _grants(session: Session, query: Select[Any], holder: int) -> tuple[Grant, ...]:
    rows = session.execute(query, {"holder": holder}).all()
    collected: dict[tuple[str, str | None], set[str]] = {}
    for role, permission, domain in rows:
        collected.setdefault((role, domain), set()).add(permission)
    grants = tuple(
        Grant(role, frozenset(perms), domain)
        for (role, domain), perms in sorted(
            collected.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
        )
    )
    return grants
