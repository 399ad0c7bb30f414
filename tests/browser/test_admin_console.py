"""The admin console in a real browser: an admin sets up a domain, a user, a group and a
domain-admin grant; the domain-admin manages their domain and is refused on another;
a user enrols TOTP and logs in with a code; a plain user sees only their account; an
admin clears a login lock.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from groupware.errors import AuthFailed
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served


def log_in(page: Page, base: str, login: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#login-form input[name=login]", login)
    page.fill("#login-form input[name=password]", password)
    page.click("#login-form button[type=submit]")


def log_out(page: Page) -> None:
    page.click("form.logout button")
    expect(page.locator("#login-form")).to_be_visible()


def submit(page: Page, form: str, **fields: str) -> None:
    for name, value in fields.items():
        selector = f"{form} [name={name}]"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click(f"{form} button[type=submit]")


def test_admin_sets_up_and_domain_admin_is_confined(
    web_server: Served, new_page, shots: Path
) -> None:
    base = web_server.base_url
    page: Page = new_page()
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/users$"))

    page.goto(base + "/admin/domains")
    submit(page, "#domain-form", name="example.org")
    expect(page.locator(".flash.ok")).to_contain_text("example.org added")
    submit(page, "#domain-form", name="example.net")
    expect(page.locator("#domains")).to_contain_text("example.net")
    page.screenshot(path=shots / "domains.png", full_page=True)

    page.goto(base + "/admin/users")
    submit(
        page,
        "#user-form",
        address="alice@example.org",
        display_name="Alice Liddell",
        password="Alice-pass-1234",
        quota_mib="500",
    )
    expect(page.locator("h1")).to_have_text("alice@example.org")
    page.goto(base + "/admin/users")
    submit(page, "#user-form", address="nina@example.net", password="Nina-pass-12345")
    page.goto(base + "/admin/users")
    expect(page.locator("#users")).to_contain_text("alice@example.org")
    expect(page.locator("#users")).to_contain_text("500 MiB")

    page.goto(base + "/admin/groups")
    submit(
        page,
        "#group-form",
        name="team",
        domain="example.org",
        address="team@example.org",
        members="alice@example.org",
    )
    expect(page.locator("#members")).to_contain_text("alice@example.org")
    page.screenshot(path=shots / "group.png", full_page=True)

    page.goto(base + "/admin/roles")
    submit(
        page,
        "#grant-form",
        role="domain-admin",
        grantee_kind="user",
        grantee="alice@example.org",
        domain="example.org",
    )
    expect(page.locator("#grants")).to_contain_text("alice@example.org")
    expect(page.locator("#grants")).to_contain_text("example.org")
    page.screenshot(path=shots / "roles.png", full_page=True)
    log_out(page)

    # The domain-admin of example.org …
    log_in(page, base, "alice@example.org", "Alice-pass-1234")
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.locator("header nav")).not_to_contain_text("Roles")
    expect(page.locator("#users")).not_to_contain_text("nina@example.net")
    submit(page, "#user-form", address="bob@example.org", password="Bob-pass-123456")
    expect(page.locator(".flash.ok")).to_contain_text("bob@example.org created")

    # … is refused on example.net, clearly, and nothing is created there.
    page.goto(base + "/admin/users")
    submit(page, "#user-form", address="eve@example.net", password="Eve-pass-123456")
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator(".error-message")).to_contain_text(
        "may not directory.users.manage on user eve@example.net in domain example.net"
    )
    page.screenshot(path=shots / "refused.png", full_page=True)
    response = page.goto(base + "/admin/users/nina@example.net")
    assert response is not None and response.status == 403
    response = page.goto(base + "/admin/roles")
    assert response is not None and response.status == 403
    page.goto(base + "/admin/domains")
    expect(page.locator("#domains")).not_to_contain_text("example.net")

    users = web_server.services.directory.list_users(SYSTEM)
    assert "eve@example.net" not in {u.address for u in users}
    assert "bob@example.org" in {u.address for u in users}
    refusals = [e for e in web_server.services.audit.entries(SYSTEM) if e.action == "user.add"]
    assert {e.target for e in refusals} >= {"alice@example.org", "bob@example.org"}


def test_totp_enrolment_and_login_with_code(web_server: Served, new_page, shots: Path) -> None:
    base = web_server.base_url
    web_server.services.directory.add_user(SYSTEM, "carol@example.test", "Carol-pass-1234")
    page: Page = new_page()
    log_in(page, base, "carol@example.test", "Carol-pass-1234")
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))  # a user lands in the mail
    expect(page.locator("header nav")).not_to_contain_text("Users")
    page.goto(base + "/account")

    page.click("#totp button[type=submit]")
    secret = page.locator("#totp-secret").inner_text().strip()
    expect(page.locator("img.qr")).to_be_visible()
    page.screenshot(path=shots / "totp-enrol.png", full_page=True)
    submit(page, "#totp-confirm", code=pyotp.TOTP(secret).now())
    expect(page.locator(".flash.ok")).to_contain_text("Two-factor login is on")
    log_out(page)

    log_in(page, base, "carol@example.test", "Carol-pass-1234")
    expect(page).to_have_url(re.compile(r"/login/totp$"))
    valid = {pyotp.TOTP(secret).at(time.time() + step * 30) for step in (-1, 0, 1, 2)}
    submit(
        page, "#totp-form", code=next(c for c in ("000000", "111111", "222222") if c not in valid)
    )
    expect(page.locator(".flash.error")).to_contain_text("not right")
    page.goto(base + "/account")  # not logged in by a wrong code
    expect(page).to_have_url(re.compile(r"/login"))

    log_in(page, base, "carol@example.test", "Carol-pass-1234")
    # The enrolment spent this step's code; the next step's is accepted (one step of drift).
    submit(page, "#totp-form", code=pyotp.TOTP(secret).at(time.time() + 30))
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))
    page.goto(base + "/account")
    expect(page.locator("#totp")).to_contain_text("On.")


def test_user_sees_only_own_account_and_manages_app_passwords(web_server: Served, new_page) -> None:
    base = web_server.base_url
    web_server.services.directory.add_user(SYSTEM, "dan@example.test", "Dan-pass-123456")
    page: Page = new_page()
    log_in(page, base, "dan@example.test", "Dan-pass-123456")
    response = page.goto(base + "/admin/users")
    assert response is not None and response.status == 403

    page.goto(base + "/account")
    submit(page, "#app-password-form", name="phone")
    secret = page.locator("#new-app-password").inner_text().strip()
    login = web_server.services.auth.authenticate("dan@example.test", secret, "imap", "127.0.0.1")
    assert login.app_password == "phone"
    page.reload()
    expect(page.locator("#new-app-password")).to_have_count(0)  # shown once

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#app-passwords table button")
    expect(page.locator(".flash.ok")).to_contain_text("revoked")

    submit(page, "#password-form", current="Dan-pass-123456", new="Dan-new-pass-9876")
    expect(page.locator(".flash.ok")).to_contain_text("Password changed")
    # The change ends every session of the account but the browser that made it.
    page.goto(base + "/account")
    expect(page).to_have_url(re.compile(r"/account$"))
    log_out(page)
    log_in(page, base, "dan@example.test", "Dan-new-pass-9876")
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))


def test_admin_clears_a_login_lock(web_server: Served, new_page, shots: Path) -> None:
    peer_evil = "203.0.113.5"
    base = web_server.base_url
    services = web_server.services
    services.directory.add_user(SYSTEM, "alice@example.test", "Alice-pass-1234")
    for login, peer in [("alice@example.test", peer_evil)] * 5 + [
        ("nobody@example.test", "2001:db8:1:2::7")
    ] * 2:
        with pytest.raises(AuthFailed):
            services.auth.authenticate(login, "guess", "imap", peer)
    page: Page = new_page()
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("link", name="Login locks").click()
    expect(page.get_by_role("heading", name="Login locks")).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_contain_text("alice@example.test")
    expect(table).to_contain_text("2001:db8:1:2::/64")
    for width, height in ((1280, 800), (360, 740)):
        page.set_viewport_size({"width": width, "height": height})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=shots / f"locks-{width}-{scheme}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    clear = page.get_by_role(
        "button", name="Clear account from address alice@example.test from 203.0.113.5"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    clear.click()
    expect(page.locator(".flash.ok")).to_contain_text(
        "Cleared account-ip:alice@example.test|203.0.113.5."
    )
    expect(clear).to_have_count(0)
    # The effect, through the service every protocol logs in with.
    alice = services.auth.authenticate("alice@example.test", "Alice-pass-1234", "imap", peer_evil)
    assert alice.principal.address == "alice@example.test"


def test_a_stale_admin_confirms_the_password_and_comes_back_to_the_form(
    web_server: Served, new_page, shots: Path
) -> None:
    """Every admin change wants a fresh login; Chromium comes back to the form it posted."""
    from tests.integration.test_web_reauth import stale

    base = web_server.base_url
    services = web_server.services
    services.directory.add_user(SYSTEM, "alice@example.test", "Alice-pass-1234")
    page: Page = new_page()
    log_in(page, base, ADMIN, ADMIN_PASSWORD)
    stale(web_server, ADMIN)
    page.goto(base + "/admin/aliases")
    submit(page, "#alias-form", address="payroll@example.test", targets="attacker@evil.example")
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.screenshot(path=shots / "admin-confirm.png", full_page=True)
    assert services.aliases.list_all(SYSTEM) == []
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/admin/aliases$"))
    submit(page, "#alias-form", address="payroll@example.test", targets="alice@example.test")
    expect(page.locator(".flash.ok")).to_contain_text("Alias payroll@example.test created.")
