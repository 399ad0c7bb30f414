"""The one directory through `Services` on SQLite and PostgreSQL: domains, users, aliases,
groups, roles and grants (also through a group), what a domain-admin and a plain user may
and may not do, refusals that change nothing, and the audit log and its per-viewer view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from groupware.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.core.audit import AuditRecord

PASSWORD = "S3cret-pass-1"
NEW_PASSWORD = "An0ther-secret"
ORG, NET = "example.org", "example.net"


@dataclass(frozen=True)
class Seeded:
    """Two domains and four accounts: a global admin, a domain-admin of example.org, a
    plain user of example.org and a plain user of example.net."""

    admin: Principal
    domain_admin: Principal
    alice: Principal
    bob: Principal


def seed(services: Services) -> Seeded:
    directory, roles = services.directory, services.roles
    directory.add_domain(SYSTEM, ORG)
    directory.add_domain(SYSTEM, NET)
    ids = {
        address: directory.add_user(SYSTEM, address, PASSWORD).id
        for address in ("admin@example.org", "da@example.org", "alice@example.org")
    }
    ids["bob@example.net"] = directory.add_user(SYSTEM, "bob@example.net", PASSWORD).id
    roles.grant(SYSTEM, "admin", user="admin@example.org")
    roles.grant(SYSTEM, "domain-admin", user="da@example.org", domain=ORG)

    def principal(address: str) -> Principal:
        loaded = services.auth.principal(ids[address])
        assert loaded is not None
        return loaded.via("web", "192.0.2.7")

    return Seeded(
        principal("admin@example.org"),
        principal("da@example.org"),
        principal("alice@example.org"),
        principal("bob@example.net"),
    )


def snapshot(services: Services) -> tuple[object, ...]:
    """Everything a refused call must leave as it was."""
    return (
        services.directory.list_domains(SYSTEM),
        services.directory.list_users(SYSTEM),
        services.aliases.list_all(SYSTEM),
        services.groups.list_all(SYSTEM),
        services.roles.list_all(),
        services.roles.grants(SYSTEM),
        services.audit.entries(SYSTEM, limit=1000),
    )


def last_audit(services: Services) -> AuditRecord:
    return services.audit.entries(SYSTEM, limit=1)[0]


def addresses(services: Services, actor: Principal, domain: str | None = None) -> list[str]:
    return [u.address for u in services.directory.list_users(actor, domain)]


# -- domains -----------------------------------------------------------------------------


def test_domains_add_list_remove(services: Services) -> None:
    directory = services.directory
    added = directory.add_domain(SYSTEM, "Example.ORG.")
    assert (added.name, added.users) == ("example.org", 0)
    directory.add_domain(SYSTEM, "bücher.example")
    directory.add_domain(SYSTEM, NET)
    assert [d.name for d in directory.list_domains(SYSTEM)] == [
        "example.net",
        "example.org",
        "xn--bcher-kva.example",
    ]
    with pytest.raises(AlreadyExists, match="example.org"):
        directory.add_domain(SYSTEM, "EXAMPLE.org")
    with pytest.raises(InvalidInput):
        directory.add_domain(SYSTEM, "not a domain")

    directory.add_user(SYSTEM, "alice@example.org", PASSWORD)
    counts = {d.name: d.users for d in directory.list_domains(SYSTEM)}
    assert counts == {"example.net": 0, "example.org": 1, "xn--bcher-kva.example": 0}
    before = snapshot(services)
    with pytest.raises(InvalidInput, match="still has 1 users"):
        directory.remove_domain(SYSTEM, ORG)
    assert snapshot(services) == before

    directory.remove_domain(SYSTEM, "bücher.example")
    assert [d.name for d in directory.list_domains(SYSTEM)] == ["example.net", "example.org"]
    with pytest.raises(NotFound, match="unknown domain"):
        directory.remove_domain(SYSTEM, "bücher.example")
    entry = last_audit(services)
    assert (entry.actor, entry.action, entry.target, entry.domain) == (
        "system",
        "domain.remove",
        "xn--bcher-kva.example",
        "xn--bcher-kva.example",
    )


def test_domain_removal_refused_while_aliases_or_groups_exist(services: Services) -> None:
    services.directory.add_domain(SYSTEM, NET)
    services.aliases.add(SYSTEM, "info@example.net", ["someone@elsewhere.test"])
    with pytest.raises(InvalidInput, match="aliases"):
        services.directory.remove_domain(SYSTEM, NET)
    services.aliases.remove(SYSTEM, "info@example.net")
    services.groups.add(SYSTEM, "staff", domain=NET)
    with pytest.raises(InvalidInput, match="groups"):
        services.directory.remove_domain(SYSTEM, NET)
    services.groups.remove(SYSTEM, "staff", NET)
    services.directory.remove_domain(SYSTEM, NET)
    assert services.directory.list_domains(SYSTEM) == []


# -- users -------------------------------------------------------------------------------


def test_user_lifecycle(services: Services) -> None:
    s = seed(services)
    directory = services.directory
    carol = directory.add_user(
        s.admin, " Carol@Example.ORG ", PASSWORD, display_name=" Carol C ", quota_bytes=10**9
    )
    assert (carol.address, carol.domain, carol.display_name) == (
        "carol@example.org",
        ORG,
        "Carol C",
    )
    assert (carol.active, carol.quota_bytes, carol.totp_enabled) == (True, 10**9, False)
    assert directory.get_user(s.admin, "CAROL@example.org") == carol
    assert addresses(services, s.admin) == [
        "admin@example.org",
        "alice@example.org",
        "bob@example.net",
        "carol@example.org",
        "da@example.org",
    ]
    assert addresses(services, s.admin, NET) == ["bob@example.net"]
    entry = last_audit(services)
    assert (entry.actor, entry.action, entry.target, entry.domain, entry.outcome) == (
        "admin@example.org",
        "user.add",
        "carol@example.org",
        ORG,
        "ok",
    )
    assert (entry.service, entry.peer_ip) == ("web", "192.0.2.7")

    updated = directory.update_user(
        s.admin, carol.address, display_name="Carol", quota_bytes=0, active=False
    )
    assert (updated.display_name, updated.quota_bytes, updated.active) == ("Carol", 0, False)
    assert directory.get_user(s.admin, carol.address) == updated
    entry = last_audit(services)
    assert (entry.action, entry.target) == ("user.update", carol.address)
    assert "disabled" in entry.detail and "quota 0" in entry.detail
    directory.update_user(s.admin, carol.address, active=True)

    directory.set_password(s.admin, carol.address, NEW_PASSWORD)
    assert last_audit(services).action == "user.password.reset"
    login = services.auth.authenticate(carol.address, NEW_PASSWORD, "imap", "192.0.2.8")
    assert login.principal.address == carol.address

    directory.remove_user(s.admin, carol.address)
    with pytest.raises(NotFound, match="unknown user"):
        directory.get_user(s.admin, carol.address)
    assert last_audit(services).action == "user.remove"
    with pytest.raises(NotFound):
        directory.remove_user(s.admin, carol.address)


def test_change_own_password(services: Services) -> None:
    s = seed(services)
    directory = services.directory
    before = snapshot(services)
    with pytest.raises(InvalidInput, match="current password"):
        directory.change_own_password(s.alice, "wrong-password", NEW_PASSWORD)
    with pytest.raises(InvalidInput, match="too short"):
        directory.change_own_password(s.alice, PASSWORD, "short")
    assert snapshot(services) == before
    directory.change_own_password(s.alice, PASSWORD, NEW_PASSWORD)
    entry = last_audit(services)
    assert (entry.actor, entry.action, entry.target) == (
        "alice@example.org",
        "account.password.change",
        "alice@example.org",
    )
    services.auth.authenticate("alice@example.org", NEW_PASSWORD, "web", "192.0.2.9")


def test_user_cannot_disable_or_remove_themself(services: Services) -> None:
    s = seed(services)
    before = snapshot(services)
    with pytest.raises(InvalidInput, match="disable your own"):
        services.directory.update_user(s.admin, "admin@example.org", active=False)
    with pytest.raises(InvalidInput, match="remove your own"):
        services.directory.remove_user(s.admin, "admin@example.org")
    assert snapshot(services) == before


def test_removing_a_user_removes_aliases_left_without_target(services: Services) -> None:
    s = seed(services)
    aliases = services.aliases
    aliases.add(s.admin, "only-alice@example.org", ["alice@example.org"])
    aliases.add(s.admin, "shared@example.org", ["alice@example.org", "admin@example.org"])
    aliases.add(s.admin, "@example.org", ["alice@example.org"])
    services.groups.add(s.admin, "team", domain=ORG, members=["alice@example.org"])
    services.credentials.add_app_password(s.alice, "alice@example.org", "phone")
    services.directory.remove_user(s.admin, "alice@example.org")
    remaining = {a.address: a for a in aliases.list_all(s.admin)}
    assert set(remaining) == {"shared@example.org"}
    assert remaining["shared@example.org"].local_targets == ("admin@example.org",)
    assert services.groups.get(s.admin, "team").members == ()
    # The address is free again.
    services.directory.add_user(s.admin, "alice@example.org", PASSWORD)
    assert services.credentials.app_passwords(s.admin, "alice@example.org") == []


ADD_USER_REFUSALS: list[tuple[str, str, type[Exception], str]] = [
    ("alice@example.org", PASSWORD, AlreadyExists, "already a user"),
    ("ALICE@example.org", PASSWORD, AlreadyExists, "already a user"),
    ("sales@example.org", PASSWORD, AlreadyExists, "already an alias"),
    ("team@example.org", PASSWORD, AlreadyExists, "already a group"),
    ("not an address", PASSWORD, InvalidInput, "not a valid e-mail address"),
    ("carol@", PASSWORD, InvalidInput, "not a valid"),
    ("carol@example.com", PASSWORD, NotFound, "unknown domain: example.com"),
    ("carol@example.org", "short", InvalidInput, "too short"),
    ("carol@example.org", "aaaaaaaaaaaa", InvalidInput, "too weak"),
]


def test_add_user_refusals_change_nothing(services: Services) -> None:
    s = seed(services)
    services.aliases.add(s.admin, "sales@example.org", ["alice@example.org"])
    services.groups.add(s.admin, "team", address="team@example.org")
    before = snapshot(services)
    for address, password, error, message in ADD_USER_REFUSALS:
        with pytest.raises(error, match=message):
            services.directory.add_user(s.admin, address, password)
        assert snapshot(services) == before, address


def test_update_user_refusals(services: Services) -> None:
    s = seed(services)
    before = snapshot(services)
    with pytest.raises(InvalidInput, match="quota"):
        services.directory.update_user(s.admin, "alice@example.org", quota_bytes=-1)
    with pytest.raises(InvalidInput, match="quota"):
        services.directory.add_user(s.admin, "carol@example.org", PASSWORD, quota_bytes=2**63)
    with pytest.raises(InvalidInput, match="display name"):
        services.directory.update_user(s.admin, "alice@example.org", display_name="a\nb")
    with pytest.raises(NotFound):
        services.directory.update_user(s.admin, "nobody@example.org", display_name="x")
    with pytest.raises(InvalidInput, match="too short"):
        services.directory.set_password(s.admin, "alice@example.org", "short")
    assert snapshot(services) == before


# -- aliases -----------------------------------------------------------------------------


def test_aliases(services: Services) -> None:
    s = seed(services)
    aliases = services.aliases
    sales = aliases.add(
        s.admin,
        "Sales@Example.org",
        ["alice@example.org", "Partner@Elsewhere.TEST", "bob@example.net"],
    )
    assert sales.address == "sales@example.org"
    assert sales.local_targets == ("alice@example.org", "bob@example.net")
    assert sales.external_targets == ("partner@elsewhere.test",)
    assert not sales.is_catch_all
    catch_all = aliases.add(s.admin, "@example.org", ["admin@example.org"])
    assert catch_all.is_catch_all and catch_all.domain == ORG
    assert aliases.list_all(s.admin) == [catch_all, sales]
    assert aliases.list_all(s.admin, NET) == []
    assert aliases.list_all(s.admin, "Example.ORG.") == [catch_all, sales]
    entry = last_audit(services)
    assert (entry.action, entry.target, entry.domain) == ("alias.add", "@example.org", ORG)

    before = snapshot(services)
    with pytest.raises(InvalidInput, match="no such local user: nobody@example.org"):
        aliases.add(s.admin, "help@example.org", ["alice@example.org", "nobody@example.org"])
    with pytest.raises(AlreadyExists, match="already an alias"):
        aliases.add(s.admin, "sales@example.org", ["alice@example.org"])
    with pytest.raises(AlreadyExists, match="already a user"):
        aliases.add(s.admin, "alice@example.org", ["admin@example.org"])
    with pytest.raises(AlreadyExists):
        aliases.add(s.admin, "@example.org", ["alice@example.org"])
    with pytest.raises(InvalidInput, match="itself"):
        aliases.add(s.admin, "loop@example.org", ["loop@example.org"])
    with pytest.raises(InvalidInput, match="at least one target"):
        aliases.add(s.admin, "empty@example.org", [])
    with pytest.raises(InvalidInput):
        aliases.add(s.admin, "bad@example.org", ["not an address"])
    with pytest.raises(NotFound, match="unknown domain"):
        aliases.add(s.admin, "x@example.com", ["alice@example.org"])
    with pytest.raises(NotFound, match="unknown alias"):
        aliases.remove(s.admin, "nothing@example.org")
    assert snapshot(services) == before

    aliases.remove(s.admin, "@Example.org")
    assert aliases.list_all(s.admin) == [sales]
    assert last_audit(services).action == "alias.remove"


# -- groups ------------------------------------------------------------------------------


def test_groups_and_members(services: Services) -> None:
    s = seed(services)
    groups = services.groups
    team = groups.add(
        s.admin,
        "Team",
        address="team@example.org",
        members=["alice@example.org", "da@example.org"],
    )
    assert team.name == "team" and team.domain == ORG and team.address == "team@example.org"
    assert team.members == ("alice@example.org", "da@example.org")
    groups.add(s.admin, "ops", domain=NET)
    assert [(g.name, g.domain) for g in groups.list_all(s.admin)] == [
        ("ops", NET),
        ("team", ORG),
    ]
    assert [g.name for g in groups.list_all(s.admin, "EXAMPLE.net.")] == ["ops"]

    groups.add_member(s.admin, "team", "admin@example.org")
    assert groups.get(s.admin, "team").members == (
        "admin@example.org",
        "alice@example.org",
        "da@example.org",
    )
    entry = last_audit(services)
    assert (entry.action, entry.target, entry.domain, entry.detail) == (
        "group.member.add",
        "team",
        ORG,
        "admin@example.org",
    )
    groups.remove_member(s.admin, "team", "da@example.org", ORG)
    assert groups.get(s.admin, "team", ORG).members == ("admin@example.org", "alice@example.org")

    before = snapshot(services)
    with pytest.raises(AlreadyExists, match="already a member"):
        groups.add_member(s.admin, "team", "alice@example.org")
    with pytest.raises(InvalidInput, match="not a member"):
        groups.remove_member(s.admin, "team", "da@example.org")
    with pytest.raises(NotFound, match="unknown user"):
        groups.add_member(s.admin, "team", "nobody@example.org")
    with pytest.raises(NotFound, match="unknown group"):
        groups.add_member(s.admin, "nobody", "alice@example.org")
    with pytest.raises(AlreadyExists, match="group already exists"):
        groups.add(s.admin, "team", domain=ORG)
    with pytest.raises(AlreadyExists, match="already a user"):
        groups.add(s.admin, "alices", address="alice@example.org")
    with pytest.raises(InvalidInput, match="must be in example.net"):
        groups.add(s.admin, "mixed", domain=NET, address="mixed@example.org")
    with pytest.raises(InvalidInput, match="domain or an address"):
        groups.add(s.admin, "nowhere")
    with pytest.raises(InvalidInput, match="not a valid group name"):
        groups.add(s.admin, "bad name!", domain=ORG)
    with pytest.raises(NotFound, match="unknown user"):
        groups.add(s.admin, "ghosts", domain=ORG, members=["ghost@example.org"])
    with pytest.raises(AlreadyExists, match="already a group"):
        services.aliases.add(s.admin, "team@example.org", ["alice@example.org"])
    assert snapshot(services) == before

    groups.remove(s.admin, "team")
    assert [g.name for g in groups.list_all(s.admin)] == ["ops"]


# -- roles and grants --------------------------------------------------------------------


def test_roles_create_grant_revoke_delete(services: Services) -> None:
    s = seed(services)
    roles = services.roles
    catalogue = {r.name: r for r in roles.list_all()}
    assert {n for n, r in catalogue.items() if r.builtin} == {"admin", "domain-admin", "user"}
    assert catalogue["domain-admin"].permissions == (
        "directory.aliases.manage",
        "directory.groups.manage",
        "directory.users.manage",
    )

    auditor = roles.create(s.admin, "Auditor", ["audit.read", "mail.send_as"], "reads the log")
    assert (auditor.name, auditor.builtin) == ("auditor", False)
    assert auditor.permissions == ("audit.read", "mail.send_as")
    assert last_audit(services).action == "role.create"

    before = snapshot(services)
    with pytest.raises(InvalidInput, match="unknown permission 'mail.delete'"):
        roles.create(s.admin, "bad", ["mail.delete"])
    with pytest.raises(InvalidInput, match="at least one permission"):
        roles.create(s.admin, "empty", [])
    with pytest.raises(InvalidInput, match="not a valid role name"):
        roles.create(s.admin, "9lives", ["audit.read"])
    with pytest.raises(AlreadyExists):
        roles.create(s.admin, "auditor", ["audit.read"])
    with pytest.raises(InvalidInput, match="user role"):
        roles.grant(s.admin, "user", user="alice@example.org")
    with pytest.raises(NotFound, match="unknown role"):
        roles.grant(s.admin, "superuser", user="alice@example.org")
    with pytest.raises(NotFound, match="unknown user"):
        roles.grant(s.admin, "auditor", user="nobody@example.org")
    with pytest.raises(NotFound, match="unknown domain"):
        roles.grant(s.admin, "auditor", user="alice@example.org", domain="example.com")
    with pytest.raises(InvalidInput, match="exactly one"):
        roles.grant(s.admin, "auditor")
    with pytest.raises(AlreadyExists, match="already holds"):
        roles.grant(s.admin, "domain-admin", user="da@example.org", domain=ORG)
    with pytest.raises(InvalidInput, match="built-in"):
        roles.delete(s.admin, "domain-admin")
    with pytest.raises(NotFound):
        roles.revoke(s.admin, "auditor", user="alice@example.org")
    assert snapshot(services) == before

    grant = roles.grant(s.admin, "auditor", user="alice@example.org", domain=ORG)
    assert (grant.role, grant.grantee, grant.domain) == ("auditor", "alice@example.org", ORG)
    entry = last_audit(services)
    assert (entry.action, entry.target, entry.domain, entry.detail) == (
        "role.grant",
        "alice@example.org",
        ORG,
        "auditor on example.org",
    )
    alice = services.auth.principal(s.alice.user_id or 0)
    assert alice is not None and alice.roles() == ["auditor@example.org"]
    assert grant in roles.grants(s.admin)

    roles.revoke(s.admin, "auditor", user="alice@example.org", domain=ORG)
    assert last_audit(services).action == "role.revoke"
    assert grant not in roles.grants(s.admin)
    roles.grant(s.admin, "auditor", user="alice@example.org")
    roles.delete(s.admin, "auditor")  # its grants go with it
    alice = services.auth.principal(s.alice.user_id or 0)
    assert alice is not None and alice.grants == ()
    assert "auditor" not in {r.name for r in roles.list_all()}


def test_role_granted_to_a_group_reaches_its_members(services: Services) -> None:
    s = seed(services)
    services.directory.add_user(s.admin, "carol@example.org", PASSWORD)
    services.groups.add(s.admin, "helpdesk", domain=ORG, members=["carol@example.org"])
    grant = services.roles.grant(s.admin, "domain-admin", group="helpdesk", domain=ORG)
    assert grant.grantee == "group:helpdesk@example.org"

    login = services.auth.authenticate("carol@example.org", PASSWORD, "web", "192.0.2.20")
    carol = login.principal
    assert carol.roles() == ["domain-admin@example.org"]
    services.directory.add_user(carol, "dave@example.org", PASSWORD)
    services.groups.add_member(carol, "helpdesk", "dave@example.org")
    services.aliases.add(carol, "desk@example.org", ["carol@example.org"])
    assert addresses(services, carol) == [
        "admin@example.org",
        "alice@example.org",
        "carol@example.org",
        "da@example.org",
        "dave@example.org",
    ]
    with pytest.raises(PermissionDenied, match="example.net"):
        services.directory.add_user(carol, "eve@example.net", PASSWORD)

    # A member added later holds it too; revoking the group's grant takes it from all.
    dave = services.auth.authenticate("dave@example.org", PASSWORD, "imap", "192.0.2.21")
    assert dave.principal.roles() == ["domain-admin@example.org"]
    services.roles.revoke(s.admin, "domain-admin", group="helpdesk", domain=ORG)
    reloaded = services.auth.principal(carol.user_id or 0)
    assert reloaded is not None and reloaded.grants == ()
    with pytest.raises(PermissionDenied):
        services.directory.add_user(reloaded, "frank@example.org", PASSWORD)


# -- what a domain-admin may do ----------------------------------------------------------


def test_domain_admin_manages_its_domain_only(services: Services) -> None:
    s = seed(services)
    da = s.domain_admin
    directory, aliases, groups = services.directory, services.aliases, services.groups
    directory.add_user(da, "carol@example.org", PASSWORD)
    directory.update_user(da, "alice@example.org", display_name="Alice")
    directory.set_password(da, "alice@example.org", NEW_PASSWORD)
    aliases.add(da, "info@example.org", ["alice@example.org"])
    groups.add(da, "team", domain=ORG, members=["alice@example.org"])
    services.aliases.add(s.admin, "info@example.net", ["bob@example.net"])
    services.groups.add(s.admin, "ops", domain=NET, members=["bob@example.net"])

    assert addresses(services, da) == [
        "admin@example.org",
        "alice@example.org",
        "carol@example.org",
        "da@example.org",
    ]
    assert addresses(services, da, NET) == []
    assert [d.name for d in directory.list_domains(da)] == [ORG]
    assert [a.address for a in aliases.list_all(da)] == ["info@example.org"]
    assert [g.name for g in groups.list_all(da)] == ["team"]

    before = snapshot(services)
    refusals: list[Callable[[], object]] = [
        lambda: directory.add_user(da, "eve@example.net", PASSWORD),
        lambda: directory.get_user(da, "bob@example.net"),
        lambda: directory.update_user(da, "bob@example.net", active=False),
        lambda: directory.set_password(da, "bob@example.net", NEW_PASSWORD),
        lambda: directory.remove_user(da, "bob@example.net"),
        lambda: aliases.add(da, "sales@example.net", ["bob@example.net"]),
        lambda: aliases.add(da, "@example.net", ["bob@example.net"]),
        lambda: aliases.remove(da, "info@example.net"),
        lambda: groups.add(da, "staff", domain=NET),
        lambda: groups.add_member(da, "ops", "bob@example.net"),
        lambda: groups.remove_member(da, "ops", "bob@example.net"),
        lambda: groups.remove(da, "ops"),
        lambda: groups.get(da, "ops"),
    ]
    for refuse in refusals:
        with pytest.raises(PermissionDenied) as refused:
            refuse()
        assert "example.net" in str(refused.value)
        assert "da@example.org" in str(refused.value)
    # Server-wide things are not a domain-admin's, not even on its own domain.
    server_wide: list[Callable[[], object]] = [
        lambda: directory.add_domain(da, "example.com"),
        lambda: directory.remove_domain(da, ORG),
        lambda: services.roles.create(da, "mine", ["audit.read"]),
        lambda: services.roles.grant(da, "domain-admin", user="alice@example.org", domain=ORG),
        lambda: services.roles.grants(da),
    ]
    for refuse in server_wide:
        with pytest.raises(PermissionDenied):
            refuse()
    assert snapshot(services) == before


# A domain-admin manages every account of its domain, but not one that holds more than
# it does: resetting such an account's password, or joining a group that holds a global
# grant, would turn a domain-admin into a global admin (access.outranks).


def test_domain_admin_cannot_take_over_a_global_admins_account(services: Services) -> None:
    s = seed(services)
    before = snapshot(services)
    directory, credentials = services.directory, services.credentials
    takeovers: list[Callable[[], object]] = [
        lambda: directory.set_password(s.domain_admin, "admin@example.org", NEW_PASSWORD),
        lambda: directory.update_user(s.domain_admin, "admin@example.org", active=False),
        lambda: directory.remove_user(s.domain_admin, "admin@example.org"),
        lambda: credentials.add_app_password(s.domain_admin, "admin@example.org", "mine"),
        lambda: credentials.disable_totp(s.domain_admin, "admin@example.org"),
    ]
    for takeover in takeovers:
        with pytest.raises(PermissionDenied, match="holds roles beyond the actor's"):
            takeover()
    assert snapshot(services) == before
    # Plain accounts of the domain stay the domain-admin's to manage; admins manage all.
    directory.set_password(s.domain_admin, "alice@example.org", NEW_PASSWORD)
    directory.set_password(s.admin, "da@example.org", NEW_PASSWORD)


def test_domain_admin_cannot_join_a_group_holding_a_global_grant(services: Services) -> None:
    s = seed(services)
    services.groups.add(s.admin, "admins", domain=ORG)
    services.roles.grant(s.admin, "admin", group="admins")
    with pytest.raises(PermissionDenied, match="group admins@example.org"):
        services.groups.add_member(s.domain_admin, "admins", "da@example.org")
    with pytest.raises(PermissionDenied):
        services.groups.remove(s.domain_admin, "admins")
    # A group holding only what the domain-admin holds is fine.
    services.groups.add(s.admin, "helpers", domain=ORG)
    services.roles.grant(s.admin, "domain-admin", group="helpers", domain=ORG)
    services.groups.add_member(s.domain_admin, "helpers", "alice@example.org")


def test_refusals_do_not_reveal_which_accounts_exist_elsewhere(services: Services) -> None:
    s = seed(services)
    for address in ("bob@example.net", "ghost@example.net"):
        with pytest.raises(PermissionDenied):
            services.directory.get_user(s.domain_admin, address)
        with pytest.raises(PermissionDenied):
            services.directory.set_password(s.domain_admin, address, NEW_PASSWORD)
        with pytest.raises(PermissionDenied):
            services.directory.get_user(s.alice, address)
    services.groups.add(s.admin, "org-team", domain=ORG)
    with pytest.raises(PermissionDenied):
        services.groups.add_member(s.domain_admin, "org-team", "bob@example.net")


# -- what a plain user may do ------------------------------------------------------------


def test_plain_user_sees_and_changes_only_their_own_account(services: Services) -> None:
    s = seed(services)
    alice = s.alice
    directory, credentials = services.directory, services.credentials
    assert directory.get_user(alice, "alice@example.org").address == "alice@example.org"
    assert directory.list_users(alice) == []
    assert directory.list_domains(alice) == []
    assert services.aliases.list_all(alice) == []
    assert services.groups.list_all(alice) == []

    info, secret = credentials.add_app_password(alice, "alice@example.org", "Thunderbird")
    assert info.name == "Thunderbird" and info.last_used_at is None
    assert len(secret.replace("-", "")) == 16
    assert [a.name for a in credentials.app_passwords(alice, "alice@example.org")] == [
        "Thunderbird"
    ]
    with pytest.raises(AlreadyExists):
        credentials.add_app_password(alice, "alice@example.org", "Thunderbird")
    with pytest.raises(InvalidInput):
        credentials.add_app_password(alice, "alice@example.org", " ")
    credentials.revoke_app_password(alice, "alice@example.org", "Thunderbird")
    assert credentials.app_passwords(alice, "alice@example.org") == []
    with pytest.raises(NotFound):
        credentials.revoke_app_password(alice, "alice@example.org", "Thunderbird")
    directory.change_own_password(alice, PASSWORD, NEW_PASSWORD)

    before = snapshot(services)
    refusals: list[Callable[[], object]] = [
        lambda: directory.get_user(alice, "admin@example.org"),
        lambda: directory.update_user(alice, "alice@example.org", quota_bytes=0),
        lambda: directory.update_user(alice, "admin@example.org", active=False),
        lambda: directory.set_password(alice, "admin@example.org", NEW_PASSWORD),
        lambda: directory.add_user(alice, "carol@example.org", PASSWORD),
        lambda: directory.remove_user(alice, "bob@example.net"),
        lambda: directory.add_domain(alice, "example.com"),
        lambda: credentials.add_app_password(alice, "admin@example.org", "mine"),
        lambda: credentials.app_passwords(alice, "bob@example.net"),
        lambda: credentials.disable_totp(alice, "admin@example.org"),
        lambda: services.aliases.add(alice, "me@example.org", ["alice@example.org"]),
        lambda: services.groups.add(alice, "mine", domain=ORG),
        lambda: services.roles.create(alice, "mine", ["audit.read"]),
        lambda: services.roles.grant(alice, "admin", user="alice@example.org"),
    ]
    for refuse in refusals:
        with pytest.raises(PermissionDenied) as refused:
            refuse()
        assert "alice@example.org" in str(refused.value)
    assert snapshot(services) == before

    # The admin manages the account (app passwords too) but the owner's secret stays theirs.
    credentials.add_app_password(s.admin, "alice@example.org", "set up by IT")
    assert [a.name for a in credentials.app_passwords(alice, "alice@example.org")] == [
        "set up by IT"
    ]


# -- the audit log -----------------------------------------------------------------------


def test_audit_records_admin_actions_and_filters_by_viewer(services: Services) -> None:
    s = seed(services)
    services.directory.add_user(s.admin, "carol@example.org", PASSWORD)
    services.directory.add_user(s.admin, "dan@example.net", PASSWORD)
    services.directory.change_own_password(s.bob, PASSWORD, NEW_PASSWORD)
    services.auth.authenticate("alice@example.org", PASSWORD, "imap", "198.51.100.4")
    services.roles.create(s.admin, "org-auditor", ["audit.read"])
    services.roles.grant(s.admin, "org-auditor", user="da@example.org", domain=ORG)

    everything = services.audit.entries(s.admin, limit=1000)
    assert everything == services.audit.entries(SYSTEM, limit=1000)
    by_action = {(e.action, e.target): e for e in everything}
    carol = by_action[("user.add", "carol@example.org")]
    assert (carol.actor, carol.domain, carol.outcome, carol.service, carol.peer_ip) == (
        "admin@example.org",
        ORG,
        "ok",
        "web",
        "192.0.2.7",
    )
    assert by_action[("user.add", "dan@example.net")].domain == NET
    assert by_action[("account.password.change", "bob@example.net")].actor == "bob@example.net"
    login = by_action[("login", "alice@example.org")]
    assert (login.outcome, login.service, login.peer_ip) == ("ok", "imap", "198.51.100.4")
    assert [e.at for e in everything] == sorted((e.at for e in everything), reverse=True)
    assert {e.domain for e in everything} >= {ORG, NET, None}

    # A plain user sees only what they did or what was done to them.
    alice_view = services.audit.entries(s.alice)
    assert alice_view
    assert all("alice@example.org" in (e.actor, e.target) for e in alice_view)
    assert ("login", "alice@example.org") in {(e.action, e.target) for e in alice_view}
    bob_view = services.audit.entries(s.bob)
    assert {(e.action, e.target) for e in bob_view} == {
        ("user.add", "bob@example.net"),
        ("account.password.change", "bob@example.net"),
    }

    # audit.read granted on example.org: example.org entries (and own) only.
    auditor = services.auth.principal(s.domain_admin.user_id or 0)
    assert auditor is not None
    org_view = services.audit.entries(auditor, limit=1000)
    assert org_view
    assert all(e.domain == ORG or "da@example.org" in (e.actor, e.target) for e in org_view)
    assert ("user.add", "carol@example.org") in {(e.action, e.target) for e in org_view}
    assert not any(e.domain == NET for e in org_view)
    assert len(org_view) < len(everything)

    # Filters by actor and action.
    mine = services.audit.entries(s.admin, actor="ADMIN@example.org", action="user.add")
    assert {e.target for e in mine} == {"carol@example.org", "dan@example.net"}
    assert len(services.audit.entries(s.admin, limit=2)) == 2


def test_refused_actions_are_not_audited_as_done(services: Services) -> None:
    s = seed(services)
    count = len(services.audit.entries(SYSTEM, limit=1000))
    with pytest.raises(PermissionDenied):
        services.directory.add_user(s.alice, "carol@example.org", PASSWORD)
    with pytest.raises(AlreadyExists):
        services.directory.add_user(s.admin, "alice@example.org", PASSWORD)
    assert len(services.audit.entries(SYSTEM, limit=1000)) == count
    # Front doors record refusals themselves, in a transaction of their own.
    services.audit.record(
        s.alice, "user.add", outcome="denied", target="carol@example.org", domain=ORG
    )
    entry = last_audit(services)
    assert (entry.actor, entry.outcome, entry.service, entry.peer_ip) == (
        "alice@example.org",
        "denied",
        "web",
        "192.0.2.7",
    )
