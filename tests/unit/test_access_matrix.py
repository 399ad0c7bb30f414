"""The permission matrix of `access.can`: every role × every permission × every scope.

Expectations are written out below from the role rules (admin: everything but
other people's mail; domain-admin: users, groups and aliases of its domain; user: own
data only; custom roles: their permissions, globally or on one domain), not derived
from `can` itself. Also `require`, `domains_with` and the built-in roles' agreement with
the first migration.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from groupware.errors import PermissionDenied
from groupware.services.core import access
from groupware.services.core.access import Grant, Principal, Resource

ORG, NET = "example.org", "example.net"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"

# The permission names, spelled out so that a new one forces this matrix to be extended.
USERS = "directory.users.manage"
GROUPS = "directory.groups.manage"
ALIASES = "directory.aliases.manage"
DOMAINS = "directory.domains.manage"
ROLES = "directory.roles.manage"
ACCOUNT = "account.manage"
MAIL_READ = "mail.read"
SEND_AS = "mail.send_as"
SHARE = "calendar.share"
CAL_READ = "calendar.read"
CAL_WRITE = "calendar.write"
BOOK = "calendar.book"  # restricted rooms and equipment
QUEUE = "queue.manage"
AUDIT = "audit.read"
ALL = frozenset(
    {USERS, GROUPS, ALIASES, DOMAINS, ROLES, ACCOUNT, MAIL_READ, SEND_AS, SHARE, QUEUE, AUDIT}
    | {CAL_READ, CAL_WRITE, BOOK}
)
# what anyone holds on their own data
OWN = frozenset({ACCOUNT, MAIL_READ, SEND_AS, SHARE, CAL_READ, CAL_WRITE})
PERSONAL = frozenset({MAIL_READ, CAL_READ, CAL_WRITE, SHARE})  # never through a wildcard
NONE: frozenset[str] = frozenset()

DOMAIN_ADMIN = frozenset({USERS, GROUPS, ALIASES})
SENDER = frozenset({SEND_AS, AUDIT})  # a custom role
HELPDESK = frozenset({USERS, DOMAINS, QUEUE, AUDIT})  # custom, held through a group

PRINCIPALS: dict[str, Principal] = {
    "admin": Principal(1, "admin@example.org", (Grant("admin", frozenset({"*"}), None),)),
    "domain-admin": Principal(2, "da@example.org", (Grant("domain-admin", DOMAIN_ADMIN, ORG),)),
    "user": Principal(3, "user@example.org"),
    "sender-global": Principal(4, "sg@example.org", (Grant("sender", SENDER, None),)),
    "sender-org": Principal(5, "so@example.org", (Grant("sender", SENDER, ORG),)),
    # A grant through a group reaches the Principal as a plain Grant (load_principal).
    "helpdesk-via-group": Principal(6, "hd@example.org", (Grant("helpdesk", HELPDESK, ORG),)),
    "wildcard-org": Principal(7, "wo@example.org", (Grant("org-all", frozenset({"*"}), ORG),)),
}

ADMIN = PRINCIPALS["admin"]
SCOPES = ("in-org", "in-net", "global", "own", "other-in-org")


def resource(scope: str, principal: Principal) -> Resource:
    if scope == "in-org":
        return Resource("alias", "sales@example.org", ORG)
    if scope == "in-net":
        return Resource("user", "bob@example.net", NET, owner_id=900)
    if scope == "global":
        return Resource("queue", "all", None)
    if scope == "own":
        return Resource("mailbox", "INBOX", ORG, owner_id=principal.user_id)
    if scope == "other-in-org":
        return Resource("mailbox", "INBOX", ORG, owner_id=901)
    raise AssertionError(scope)


# role → scope → the permissions it must have there; every other cell must be False.
ADMIN_ANYWHERE = ALL - PERSONAL
ORG_WILDCARD = frozenset({USERS, GROUPS, ALIASES, ACCOUNT, SEND_AS, AUDIT, BOOK})
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    "admin": {
        "in-org": ADMIN_ANYWHERE,
        "in-net": ADMIN_ANYWHERE,
        "global": ADMIN_ANYWHERE,
        "own": ALL,
        "other-in-org": ADMIN_ANYWHERE,
    },
    "domain-admin": {
        "in-org": DOMAIN_ADMIN,
        "in-net": NONE,
        "global": NONE,
        "own": DOMAIN_ADMIN | OWN,
        "other-in-org": DOMAIN_ADMIN,
    },
    "user": {
        "in-org": NONE,
        "in-net": NONE,
        "global": NONE,
        "own": OWN,
        "other-in-org": NONE,
    },
    "sender-global": {
        "in-org": SENDER,
        "in-net": SENDER,
        "global": SENDER,
        "own": OWN | {AUDIT},
        "other-in-org": SENDER,
    },
    "sender-org": {
        "in-org": SENDER,
        "in-net": NONE,
        "global": NONE,
        "own": OWN | {AUDIT},
        "other-in-org": SENDER,
    },
    "helpdesk-via-group": {
        "in-org": frozenset({USERS, AUDIT}),
        "in-net": NONE,
        "global": NONE,
        "own": OWN | {USERS, AUDIT},
        "other-in-org": frozenset({USERS, AUDIT}),
    },
    "wildcard-org": {
        "in-org": ORG_WILDCARD,
        "in-net": NONE,
        "global": NONE,
        "own": ORG_WILDCARD | PERSONAL,
        "other-in-org": ORG_WILDCARD,
    },
}

CELLS = [
    (role, scope, permission)
    for role in PRINCIPALS
    for scope in SCOPES
    for permission in sorted(access.PERMISSIONS)
]


def test_permission_names_are_the_ones_this_matrix_knows() -> None:
    assert set(access.PERMISSIONS) == ALL
    assert access.GLOBAL_ONLY == {DOMAINS, ROLES, QUEUE}
    assert access.PERSONAL == PERSONAL
    assert access.OWNER_PERMISSIONS == OWN


def test_matrix_is_complete() -> None:
    assert set(EXPECTED) == set(PRINCIPALS)
    for role, scopes in EXPECTED.items():
        assert set(scopes) == set(SCOPES), role
        for scope, allowed in scopes.items():
            assert allowed <= ALL, (role, scope)


@pytest.mark.parametrize(("role", "scope", "permission"), CELLS)
def test_can(role: str, scope: str, permission: str) -> None:
    principal = PRINCIPALS[role]
    expected = permission in EXPECTED[role][scope]
    assert access.can(principal, permission, resource(scope, principal)) is expected


@pytest.mark.parametrize("permission", sorted(access.PERMISSIONS))
def test_system_principal_is_admin_but_owns_nothing(permission: str) -> None:
    for scope in ("in-org", "in-net", "global"):
        expected = permission not in PERSONAL
        assert access.can(access.SYSTEM, permission, resource(scope, access.SYSTEM)) is expected
    # A resource with no owner is nobody's own data, even for a principal with no user id.
    orphan = Resource("mailbox", "INBOX", ORG, owner_id=None)
    assert access.can(Principal(None, "nobody"), permission, orphan) is False


def test_grants_add_up() -> None:
    both = Principal(
        8,
        "two@example.org",
        (Grant("domain-admin", DOMAIN_ADMIN, ORG), Grant("domain-admin", DOMAIN_ADMIN, NET)),
    )
    for scope in ("in-org", "in-net"):
        assert access.can(both, USERS, resource(scope, both))
    assert not access.can(both, USERS, resource("global", both))
    assert not access.can(both, AUDIT, resource("in-net", both))


def test_unknown_permission_raises() -> None:
    with pytest.raises(ValueError, match="directory.users.delete"):
        access.can(PRINCIPALS["admin"], "directory.users.delete", resource("in-org", ADMIN))
    with pytest.raises(ValueError):
        access.can(PRINCIPALS["user"], "*", resource("in-org", PRINCIPALS["user"]))
    with pytest.raises(ValueError):
        access.require(PRINCIPALS["admin"], "", resource("global", PRINCIPALS["admin"]))


def test_require_refuses_clearly_on_another_domain() -> None:
    principal = PRINCIPALS["domain-admin"]
    access.require(principal, USERS, Resource("user", "alice@example.org", ORG))  # no raise
    with pytest.raises(PermissionDenied) as refused:
        access.require(principal, USERS, Resource("user", "bob@example.net", NET))
    message = str(refused.value)
    assert USERS in message
    assert "example.net" in message
    assert "da@example.org" in message
    assert "bob@example.net" in message


def test_require_names_a_global_refusal_without_a_domain() -> None:
    with pytest.raises(PermissionDenied) as refused:
        access.require(PRINCIPALS["domain-admin"], QUEUE, Resource("queue", "all"))
    assert QUEUE in str(refused.value)
    assert "in domain" not in str(refused.value)


def test_personal_permissions_are_not_in_the_admin_wildcard() -> None:
    admin = PRINCIPALS["admin"]
    someone_else = Resource("mailbox", "INBOX", ORG, owner_id=42)
    for permission in access.PERSONAL:
        assert not access.can(admin, permission, someone_else)
        # …but a role naming it explicitly does confer it.
        reader = Principal(9, "r@example.org", (Grant("reader", frozenset({permission}), None),))
        assert access.can(reader, permission, someone_else)


@pytest.mark.parametrize("permission", sorted(access.GLOBAL_ONLY))
def test_global_only_permissions_never_come_from_a_domain_grant(permission: str) -> None:
    explicit = Principal(10, "x@example.org", (Grant("r", frozenset({permission}), ORG),))
    wildcard = PRINCIPALS["wildcard-org"]
    for principal in (explicit, wildcard):
        for scope in SCOPES:
            assert not access.can(principal, permission, resource(scope, principal))
        assert access.domains_with(principal, permission) == set()
    granted_globally = Principal(11, "y@example.org", (Grant("r", frozenset({permission}), None),))
    assert access.can(granted_globally, permission, resource("in-net", granted_globally))


def test_domains_with() -> None:
    p = PRINCIPALS
    assert access.domains_with(p["admin"], USERS) is None
    assert access.domains_with(p["admin"], MAIL_READ) == set()
    assert access.domains_with(p["domain-admin"], USERS) == {ORG}
    assert access.domains_with(p["domain-admin"], AUDIT) == set()
    assert access.domains_with(p["user"], ACCOUNT) == set()
    assert access.domains_with(p["sender-global"], AUDIT) is None
    assert access.domains_with(p["sender-org"], AUDIT) == {ORG}
    assert access.domains_with(p["helpdesk-via-group"], USERS) == {ORG}
    assert access.domains_with(p["helpdesk-via-group"], QUEUE) == set()
    assert access.domains_with(p["wildcard-org"], GROUPS) == {ORG}
    assert access.domains_with(p["wildcard-org"], MAIL_READ) == set()
    mixed = Principal(
        12,
        "m@example.org",
        (Grant("domain-admin", DOMAIN_ADMIN, ORG), Grant("domain-admin", DOMAIN_ADMIN, NET)),
    )
    assert access.domains_with(mixed, ALIASES) == {ORG, NET}
    everywhere = Principal(13, "e@example.org", (*mixed.grants, Grant("a", DOMAIN_ADMIN, None)))
    assert access.domains_with(everywhere, ALIASES) is None


def test_principal_roles_and_via() -> None:
    principal = Principal(
        14,
        "r@example.org",
        (Grant("domain-admin", DOMAIN_ADMIN, ORG), Grant("sender", SENDER, None)),
    )
    assert principal.roles() == ["domain-admin@example.org", "sender"]
    moved = principal.via("imap", "192.0.2.1")
    assert (moved.service, moved.peer_ip, moved.grants) == ("imap", "192.0.2.1", principal.grants)
    assert not principal.is_system
    assert access.SYSTEM.is_system


def _migration(number: str) -> object:
    (path,) = MIGRATIONS.glob(f"{number}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{number}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _migration_builtin_roles() -> dict[str, frozenset[str]]:
    """The built-in roles as 0001 seeds them, with what later migrations add to "user"."""
    roles = {
        name: frozenset(perms)
        for name, (_, perms) in _migration("0001").BUILTIN_ROLES.items()  # type: ignore[attr-defined]
    }
    roles["user"] |= frozenset(_migration("0007")._OWNER)  # type: ignore[attr-defined]
    return roles


def test_builtin_roles_match_the_migrations() -> None:
    assert _migration_builtin_roles() == dict(access.BUILTIN_ROLES)


def test_builtin_roles_are_as_documented() -> None:
    assert access.BUILTIN_ROLES["admin"] == {"*"}
    assert access.BUILTIN_ROLES["domain-admin"] == {USERS, GROUPS, ALIASES}
    assert access.BUILTIN_ROLES[access.IMPLICIT_ROLE] == OWN
    for permissions in access.BUILTIN_ROLES.values():
        assert permissions <= ALL | {"*"}


# -- outranks: who may take over whose account or group -----------------------------------

OUTRANKS = [
    # (actor, target grants, expected)
    ("admin", (Grant("admin", frozenset({"*"}), None),), True),
    ("admin", (Grant("reader", frozenset({"mail.read"}), None),), True),
    ("domain-admin", (), True),
    ("domain-admin", (Grant("domain-admin", DOMAIN_ADMIN, ORG),), True),
    ("domain-admin", (Grant("domain-admin", DOMAIN_ADMIN, NET),), False),
    ("domain-admin", (Grant("domain-admin", DOMAIN_ADMIN, None),), False),
    ("domain-admin", (Grant("admin", frozenset({"*"}), None),), False),
    ("domain-admin", (Grant("org-all", frozenset({"*"}), ORG),), False),
    ("domain-admin", (Grant("sender", SENDER, ORG),), False),
    ("sender-global", (Grant("sender", SENDER, ORG),), True),
    ("sender-org", (Grant("sender", SENDER, None),), False),
    ("wildcard-org", (Grant("admin", frozenset({"*"}), None),), False),
    ("wildcard-org", (Grant("domain-admin", DOMAIN_ADMIN, ORG),), True),
    ("wildcard-org", (Grant("roles", frozenset({"directory.roles.manage"}), ORG),), False),
]


@pytest.mark.parametrize(("actor", "grants", "expected"), OUTRANKS)
def test_outranks(actor: str, grants: tuple[Grant, ...], expected: bool) -> None:
    assert access.outranks(PRINCIPALS[actor], grants) is expected


def test_require_outranks_names_what_the_target_holds() -> None:
    with pytest.raises(PermissionDenied, match=r"user admin@example\.org.*\(admin\)"):
        access.require_outranks(
            PRINCIPALS["domain-admin"],
            "user admin@example.org",
            (Grant("admin", frozenset({"*"}), None),),
        )
