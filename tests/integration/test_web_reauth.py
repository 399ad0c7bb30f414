"""Sensitive account changes need a fresh password over a real socket: TOTP, app
passwords and the password itself; wrong passwords there count like failed logins.

Regression ("sensitive changes need no fresh login"): a cookie
alone could add an app password or turn two-factor login off, hours after the login.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import url_for

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from groupware.services.delivery.rulespec import Action, RuleSpec
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_web import Browser
from tests.integration.test_web_sessions import (
    PASSWORD,
    USER,
    age_sessions,
    browser,
    post,
)

CONFIRM = "Confirm your password"
ATTACKER = "203.0.113.9"


def stale(served: Served, address: str = USER) -> None:
    """Make the user's last password entry older than web.reauth_minutes."""
    minutes = served.runtime.config.web.reauth_minutes
    age_sessions(served, address, authenticated_at=timedelta(minutes=minutes, seconds=5))


def app_password_names(served: Served) -> set[str]:
    return {a.name for a in served.services.credentials.app_passwords(SYSTEM, USER)}


def confirm_form(page: str) -> tuple[str, str]:
    """The Confirm page's form action and CSRF token."""
    action = re.search(r'<form method="post" action="([^"]+)" id="confirm-form"', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert action and token, page
    return action.group(1).replace("&amp;", "&"), token.group(1)


def test_a_fresh_login_is_not_asked_again(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    status, page = post(client, "/account/app-passwords", name="phone")
    assert status == 200 and CONFIRM not in page and 'id="new-app-password"' in page
    assert app_password_names(web_server) == {"phone"}


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("/account/app-passwords", {"name": "tablet"}),
        ("/account/app-passwords/revoke", {"name": "phone"}),
        ("/account/totp/begin", {}),
        ("/account/totp/disable", {}),
    ],
)
def test_a_stale_login_must_confirm_the_password_first(
    web_server: Served, action: str, form: dict[str, str]
) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    services.credentials.add_app_password(SYSTEM, USER, "phone")
    client = browser(web_server)
    stale(web_server)
    status, page = post(client, action, **form)
    assert status == 200 and CONFIRM in page
    assert "<label>Password" in page and ">Confirm</button>" in page
    assert app_password_names(web_server) == {"phone"}  # nothing done
    assert 'id="totp-secret"' not in page

    target, token = confirm_form(page)
    status, _, page = client.request(target, {"csrf_token": token, "password": "wrong-one"})
    assert status == 401 and "not right" in page
    status, _, page = client.request(target, {"csrf_token": token, "password": PASSWORD})
    assert status == 200 and 'id="sessions"' in page  # back on the account page
    status, page = post(client, action, **form)
    assert CONFIRM not in page
    assert app_password_names(web_server) != {"phone"} or action.startswith("/account/totp")


def test_an_admin_resetting_a_password_confirms_their_own_first(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    stale(web_server, ADMIN)
    page = f"/admin/users/{USER}"
    form = {"csrf_token": admin.csrf(page), "password": "Taken-over-123"}
    status, _, body = admin.request(page + "/password", form)
    assert status == 200 and CONFIRM in body
    services.auth.authenticate(USER, PASSWORD, "imap", "127.0.0.1")  # unchanged
    target, token = confirm_form(body)
    assert target.endswith("next=/admin/users/" + USER)
    status, _, body = admin.request(target, {"csrf_token": token, "password": ADMIN_PASSWORD})
    assert status == 200 and f"<h1>{USER}</h1>" in body  # back on the user's page
    status, _, body = admin.request(page + "/password", form)
    assert "reset" in body
    services.auth.authenticate(USER, "Taken-over-123", "imap", "127.0.0.1")


def test_wrong_passwords_on_the_confirm_page_are_throttled_and_audited(
    tmp_path: Path, database_url: str
) -> None:
    config: Config = make_config(tmp_path, database_url, max_failures=3, lockout=600)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        served.services.directory.add_user(SYSTEM, USER, PASSWORD)
        client = browser(served)
        stale(served)
        _, page = post(client, "/account/app-passwords", name="tablet")
        target, token = confirm_form(page)
        for _ in range(3):
            status, _, page = client.request(target, {"csrf_token": token, "password": "nope"})
            assert status == 401
        status, _, page = client.request(target, {"csrf_token": token, "password": PASSWORD})
        assert status == 429 and "too many failed logins" in page
        logins = [e for e in served.services.audit.entries(SYSTEM) if e.target == USER]
        outcomes = [e.outcome for e in reversed(logins) if e.action == "login"]
        assert outcomes == ["ok", "failed", "failed", "failed", "throttled"]
        assert app_password_names(served) == set()


def test_a_wrong_current_password_counts_as_a_failed_login(
    tmp_path: Path, database_url: str
) -> None:
    config: Config = make_config(tmp_path, database_url, max_failures=2, lockout=600)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        served.services.directory.add_user(SYSTEM, USER, PASSWORD)
        client = browser(served)
        for _ in range(2):
            _, page = post(
                client, "/account/password", current="guess-1234567", new="N3w-pass-12345"
            )
            assert "current password is not right" in page
        _, page = post(client, "/account/password", current=PASSWORD, new="N3w-pass-12345")
        assert "too many failed logins" in page
        failed = [
            e
            for e in served.services.audit.entries(SYSTEM)
            if e.action == "login" and e.outcome == "failed"
        ]
        assert len(failed) == 2 and all(e.service == "web" for e in failed)


def test_the_confirm_page_sends_back_only_to_our_own_pages(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    stale(web_server)
    _, _, page = client.request("/confirm-password?next=//evil.example")
    _, token = confirm_form(page)
    status, headers, page = client.request(
        "/confirm-password?next=//evil.example", {"csrf_token": token, "password": PASSWORD}
    )
    assert status == 200 and "evil" not in headers.get("Location", "")
    assert 'id="sessions"' in page or "My account" in page


def test_the_confirm_page_needs_its_csrf_token_and_a_login(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    status, _, page = client.request("/confirm-password", {"password": PASSWORD})
    assert status == 400 and "Form expired" in page
    stranger = Browser(web_server.base_url)
    status, _, page = stranger.request("/confirm-password")
    assert 'id="login-form"' in page


# -- every admin console change (the fresh-login rule was easy to skirt)


def admin_posts(served: Served) -> list[str]:
    """The URL of every POST route of the admin blueprint, read from the app's URL map
    (placeholders filled with some value: the refusal comes before the view runs)."""
    from groupware.web import create_app

    app = create_app(served.runtime.config, served.services, "any key")
    values = {"address": USER, "domain": "example.test", "name": "x", "member": USER}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin.") and "POST" in (rule.methods or ()):
                arguments = {arg: values.get(arg, 1) for arg in rule.arguments}
                urls.append(url_for(rule.endpoint, **arguments))
    return urls


def test_every_admin_change_wants_a_fresh_login(web_server: Served) -> None:
    """Regression: with a session whose password was typed hours ago, creating a user,
    granting it admin and forwarding an address all went through (only a password or
    TOTP reset asked). The walk covers every POST route, so a view added later is too."""
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    stale(web_server, ADMIN)
    urls = admin_posts(web_server)
    assert len(urls) >= 15, urls  # domains, users, aliases, groups, roles, grants, locks
    before = services.audit.entries(SYSTEM)
    token = admin.csrf("/admin/users")
    form = {
        "csrf_token": token,
        "address": "mallory@example.test",
        "password": "Mallory-pass-123",
        "name": "evil.example",
        "targets": "attacker@evil.example",
        "role": "admin",
        "grantee_kind": "user",
        "grantee": USER,
        "domain": "",
        "member": USER,
        "key": f"ip:{ATTACKER}",
        "permissions": "audit.read",
        "display_name": "M",
        "quota_mib": "0",
    }
    for url in urls:
        status, _, page = admin.request(url, form)
        assert status == 200 and CONFIRM in page, url
    assert services.audit.entries(SYSTEM) == before  # nothing done, nothing refused
    assert "mallory@example.test" not in {u.address for u in services.directory.list_users(SYSTEM)}
    services.auth.authenticate(USER, PASSWORD, "imap", "127.0.0.1")  # password unchanged


def test_a_stale_admin_confirms_then_lands_back_on_the_form(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    stale(web_server, ADMIN)
    grant = {
        "csrf_token": admin.csrf("/admin/roles"),
        "role": "admin",
        "grantee_kind": "user",
        "grantee": USER,
        "domain": "",
    }
    # A browser names the page of the form (Referer; our policy is same-origin)…
    status, _, page = admin.request(
        "/admin/grants", grant, headers={"Referer": web_server.base_url + "/admin/roles"}
    )
    assert status == 200 and CONFIRM in page
    target, token = confirm_form(page)
    assert target.endswith("next=/admin/roles")
    # …a Referer from elsewhere is not believed: the nearest page up the path instead.
    _, _, page = admin.request(
        "/admin/users/" + USER + "/totp/disable",
        {"csrf_token": token},
        headers={"Referer": "http://evil.example/admin/roles"},
    )
    assert confirm_form(page)[0].endswith("next=/admin/users/" + USER)
    _, _, page = admin.request("/admin/aliases", {"csrf_token": token})  # a form's own page
    assert confirm_form(page)[0].endswith("next=/admin/aliases")
    assert not [g for g in services.roles.grants(SYSTEM) if g.grantee == USER]

    status, _, page = admin.request(target, {"csrf_token": token, "password": ADMIN_PASSWORD})
    assert status == 200 and 'id="grant-form"' in page  # back on the Roles page
    status, _, page = admin.request("/admin/grants", grant)
    assert status == 200 and f"admin granted to {USER}." in page
    assert [g.role for g in services.roles.grants(SYSTEM) if g.grantee == USER] == ["admin"]


def test_a_stale_admin_session_still_reads_the_console(web_server: Served) -> None:
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    stale(web_server, ADMIN)
    for page in ("/admin/users", "/admin/roles", "/admin/locks", "/admin/audit"):
        status, _, body = admin.request(page)
        assert status == 200 and CONFIRM not in body, page


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("/settings/forwarding", {"target": "thief@elsewhere.example"}),
        (
            "/settings/rules",
            {
                "name": "Out",
                "field": "from",
                "op": "contains",
                "value": "a",
                "action": "forward",
                "target": "thief@elsewhere.example",
            },
        ),
    ],
)
def test_sending_mail_elsewhere_wants_a_fresh_login(
    web_server: Served, action: str, form: dict[str, str]
) -> None:
    """Forwarding all mail, or a rule, set from a stolen session cookie alone: the
    password is asked first, and nothing changes until it is given."""
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    stale(web_server)
    status, _, page = client.request(action, {"csrf_token": client.csrf("/settings"), **form})
    assert status == 200 and CONFIRM in page
    owner = services.auth.principal(services.directory.get_user(SYSTEM, USER).id)
    assert owner is not None and services.rules.list_all(owner, USER) == []


def test_turning_a_rule_on_again_wants_a_fresh_login(web_server: Served) -> None:
    """A rule that forwards, turned off, then on again from a stale session: asked."""
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    owner = services.auth.principal(services.directory.get_user(SYSTEM, USER).id)
    assert owner is not None
    spec = RuleSpec("Out", (), (Action("forward", "thief@elsewhere.example"),), enabled=False)
    rule = services.rules.add(owner, USER, spec)
    client = browser(web_server)
    stale(web_server)
    status, _, page = client.request(
        f"/settings/rules/{rule.id}/toggle", {"csrf_token": client.csrf("/settings")}
    )
    assert status == 200 and CONFIRM in page
    assert not services.rules.list_all(owner, USER)[0].spec.enabled
