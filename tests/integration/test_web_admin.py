"""Every admin console form over HTTP, as a browser posts it (with its CSRF token):
domains, users (edit, quota, disable, reset password, remove), aliases, groups and
members, roles and grants, login locks, and the audit log that records each action with
its origin.
"""

from __future__ import annotations

import re

import pytest

from groupware.errors import AuthFailed
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served
from tests.integration.test_web import Browser


def post(client: Browser, page: str, action: str, **form: str) -> tuple[int, str]:
    """Post a form found on `page` (its CSRF token) to `action`; follow the redirect."""
    status, _, body = client.request(action, {"csrf_token": client.csrf(page), **form})
    return status, body


def test_admin_manages_users_through_the_console(web_server: Served) -> None:
    client = Browser(web_server.base_url)
    assert client.log_in(ADMIN, ADMIN_PASSWORD)[0] == 200
    directory = web_server.services.directory

    status, body = post(
        client,
        "/admin/users",
        "/admin/users",
        address="Zoe@Example.Test",
        display_name="Zoë",
        password="Zoe-pass-123456",
        quota_mib="100",
    )
    assert status == 200 and "User Zoe@Example.Test created." in body
    zoe = directory.get_user(SYSTEM, "zoe@example.test")
    assert (zoe.display_name, zoe.quota_bytes) == ("Zoë", 100 * 1024 * 1024)

    status, body = post(
        client, "/admin/users", "/admin/users", address="weak@example.test", password="short"
    )
    assert "password too short" in body
    assert "weak@example.test" not in {u.address for u in directory.list_users(SYSTEM)}

    page = "/admin/users/zoe@example.test"
    status, body = post(client, page, page, display_name="Zoë Z", quota_mib="0")
    assert "saved" in body  # the unchecked "active" box disables the account
    zoe = directory.get_user(SYSTEM, "zoe@example.test")
    assert (zoe.display_name, zoe.quota_bytes, zoe.active) == ("Zoë Z", 0, False)
    post(client, page, page, display_name="Zoë Z", quota_mib="0", active="y")
    assert directory.get_user(SYSTEM, "zoe@example.test").active

    post(client, page, page + "/password", password="Zoe-new-pass-987")
    login = web_server.services.auth.authenticate(
        "zoe@example.test", "Zoe-new-pass-987", "imap", "127.0.0.1"
    )
    assert login.principal.address == "zoe@example.test"

    status, body = post(client, page, page + "/remove")
    assert status == 200 and "User zoe@example.test removed." in body
    assert "zoe@example.test" not in {u.address for u in directory.list_users(SYSTEM)}

    # Removing oneself is refused with a message, not done.
    mine = f"/admin/users/{ADMIN}"
    _, body = post(client, mine, mine + "/remove")
    assert "you cannot remove your own account" in body


def test_admin_manages_aliases_groups_roles_and_reads_the_audit(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, "amy@example.test", "Amy-pass-123456")
    client = Browser(web_server.base_url)
    assert client.log_in(ADMIN, ADMIN_PASSWORD)[0] == 200

    _, body = post(
        client,
        "/admin/aliases",
        "/admin/aliases",
        address="@example.test",
        targets="amy@example.test\nfar@elsewhere.example",
    )
    assert "Alias @example.test created." in body and "catch-all" in body
    [alias] = services.aliases.list_all(SYSTEM)
    assert alias.local_targets == ("amy@example.test",)
    assert alias.external_targets == ("far@elsewhere.example",)
    _, body = post(client, "/admin/aliases", "/admin/aliases/@example.test/remove")
    assert services.aliases.list_all(SYSTEM) == []

    _, body = post(
        client,
        "/admin/groups",
        "/admin/groups",
        name="sales",
        domain="example.test",
        address="sales@example.test",
        members="",
    )
    assert "Group sales created." in body
    group_page = "/admin/groups/example.test/sales"
    _, body = post(client, group_page, group_page + "/members", member="amy@example.test")
    assert "amy@example.test added to sales." in body
    assert services.groups.get(SYSTEM, "sales").members == ("amy@example.test",)
    post(client, group_page, group_page + "/members/amy@example.test/remove")
    assert services.groups.get(SYSTEM, "sales").members == ()

    _, body = post(
        client,
        "/admin/roles",
        "/admin/roles",
        name="auditor",
        description="reads the log",
        permissions="audit.read",
    )
    assert "Role auditor created." in body
    _, body = post(
        client,
        "/admin/roles",
        "/admin/grants",
        role="auditor",
        grantee_kind="group",
        grantee="sales",
        domain="example.test",
    )
    assert "auditor granted to sales." in body
    [grant] = [g for g in services.roles.grants(SYSTEM) if g.role == "auditor"]
    assert (grant.grantee, grant.domain) == ("group:sales@example.test", "example.test")
    post(client, "/admin/roles", f"/admin/grants/{grant.id}/revoke")
    assert not [g for g in services.roles.grants(SYSTEM) if g.role == "auditor"]

    status, _, body = client.request("/admin/audit?action=group.member.add")
    assert status == 200
    rows = re.findall(r'<tr class="outcome-ok">(.*?)</tr>', body, re.S)
    assert len(rows) == 1
    assert ADMIN in rows[0] and "web 127.0.0.1" in rows[0] and "amy@example.test" in rows[0]
    actions = {e.action for e in services.audit.entries(SYSTEM) if e.service == "web"}
    assert {
        "alias.add",
        "alias.remove",
        "group.add",
        "group.member.add",
        "group.member.remove",
        "role.create",
        "role.grant",
        "role.revoke",
    } <= actions


def test_domain_admin_console_is_confined_to_its_domain(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_domain(SYSTEM, "example.org")
    services.directory.add_domain(SYSTEM, "example.net")
    services.directory.add_user(SYSTEM, "dana@example.org", "Dana-pass-12345")
    services.directory.add_user(SYSTEM, "ned@example.net", "Ned-pass-123456")
    services.roles.grant(SYSTEM, "domain-admin", user="dana@example.org", domain="example.org")
    client = Browser(web_server.base_url)
    assert client.log_in("dana@example.org", "Dana-pass-12345")[0] == 200

    _, _, body = client.request("/admin/users")
    assert "dana@example.org" in body and "ned@example.net" not in body
    main = re.search(r"<main>.*</main>", body, re.S)
    assert main is not None and "example.test" not in main.group(0)
    status, body = post(
        client,
        "/admin/aliases",
        "/admin/aliases",
        address="sales@example.net",
        targets="ned@example.net",
    )
    assert status == 403 and "may not directory.aliases.manage" in body
    status, body = post(
        client,
        "/admin/aliases",
        "/admin/aliases",
        address="sales@example.org",
        targets="dana@example.org",
    )
    assert status == 200 and "Alias sales@example.org created." in body
    status, _, _ = client.request("/admin/users/ned@example.net")
    assert status == 403
    status, _, _ = client.request("/admin/users/nobody@example.net")
    assert status == 403  # the same answer whether or not the account exists
    status, body = post(client, "/admin/domains", "/admin/domains", name="mine.example")
    assert status == 403
    audit_status, _, _ = client.request("/admin/audit")
    assert audit_status == 200  # own entries only
    assert {a.address for a in services.aliases.list_all(SYSTEM)} == {"sales@example.org"}


def test_domain_admin_sees_and_clears_only_its_domains_login_locks(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_domain(SYSTEM, "example.org")
    services.directory.add_domain(SYSTEM, "example.net")
    services.directory.add_user(SYSTEM, "dana@example.org", "Dana-pass-12345")
    services.roles.grant(SYSTEM, "domain-admin", user="dana@example.org", domain="example.org")
    for login in ("olga@example.org", "ned@example.net"):  # failures lock even the unknown
        for _ in range(5):
            with pytest.raises(AuthFailed):
                services.auth.authenticate(login, "guess", "imap", "203.0.113.5")
    client = Browser(web_server.base_url)
    assert client.log_in("dana@example.org", "Dana-pass-12345")[0] == 200

    status, _, body = client.request("/admin/locks")
    assert status == 200 and 'href="/admin/locks"' in body
    assert "olga@example.org" in body
    assert "ned@example.net" not in body and "ip:203.0.113.5" not in body
    for key in ("account-ip:ned@example.net|203.0.113.5", "ip:203.0.113.5"):
        status, body = post(client, "/admin/locks", "/admin/locks/clear", key=key)
        assert status == 403 and "may not directory.users.manage" in body
    status, body = post(client, "/admin/locks", "/admin/locks/clear", key="nonsense")
    assert status == 200 and "not a login lock key" in body
    key = "account-ip:olga@example.org|203.0.113.5"
    status, body = post(client, "/admin/locks", "/admin/locks/clear", key=key)
    assert status == 200 and f"Cleared {key}." in body
    assert f'value="{key}"' not in body
    left = {lock.key for lock in services.login_locks.entries(SYSTEM)}
    assert "account-ip:ned@example.net|203.0.113.5" in left and key not in left

    # A plain user has no such page, nor menu entry.
    services.directory.add_user(SYSTEM, "ursula@example.org", "Ursula-pass-123")
    plain = Browser(web_server.base_url)
    assert plain.log_in("ursula@example.org", "Ursula-pass-123")[0] == 200
    status, _, body = plain.request("/admin/locks")
    assert status == 403 and 'href="/admin/locks"' not in body


def test_domain_admin_cannot_lift_a_global_admins_lock(web_server: Served) -> None:
    """Regression: dadmin@example.test cleared the locks of admin@example.test (a global
    admin in its domain). Such rows are not shown to it, and clearing them is refused."""
    services = web_server.services
    services.directory.add_user(SYSTEM, "dadmin@example.test", "Dadmin-pass-123")
    services.roles.grant(SYSTEM, "domain-admin", user="dadmin@example.test", domain="example.test")
    for login in (ADMIN, "nobody@example.test"):
        for _ in range(5):
            with pytest.raises(AuthFailed):
                services.auth.authenticate(login, "guess", "imap", "203.0.113.5")
    client = Browser(web_server.base_url)
    assert client.log_in("dadmin@example.test", "Dadmin-pass-123")[0] == 200
    status, _, body = client.request("/admin/locks")
    assert status == 200 and "nobody@example.test" in body  # its domain's locks are there…
    assert ADMIN not in body.split("<main>", 1)[1]  # …but not the admin's
    for key in (f"account:{ADMIN}", f"account-ip:{ADMIN}|203.0.113.5"):
        status, body = post(client, "/admin/locks", "/admin/locks/clear", key=key)
        assert status == 403 and "holds roles beyond" in body
    left = {lock.key for lock in services.login_locks.entries(SYSTEM)}
    assert {f"account:{ADMIN}", f"account-ip:{ADMIN}|203.0.113.5"} <= left
    key = "account-ip:nobody@example.test|203.0.113.5"
    status, body = post(client, "/admin/locks", "/admin/locks/clear", key=key)
    assert status == 200 and f"Cleared {key}." in body
