"""Web sessions in a real browser: the account page lists where one is signed in, signs
out one other browser or every browser, and asks for the password again before a
sign-in change once the last one typed is stale. Screenshots at 1280 and 360 px wide,
in light and dark colour schemes, go to the test's screenshots folder.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import update

from groupware.model.base import utcnow
from groupware.model.websessions import WebSession
from groupware.services.core.access import SYSTEM
from tests.browser.screens import NARROW, WIDE, shoot
from tests.conftest import Served

USER = "erin@example.test"
PASSWORD = "Erin-pass-123456"
PHONE = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"  # Firefox on Android


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/mail/folder/INBOX$"))  # a user lands in the mail
    page.goto(base + "/account")


def test_the_session_list_and_signing_out_everywhere(
    web_server: Served, new_page, shots: Path
) -> None:
    base = web_server.base_url
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    laptop: Page = new_page(viewport=WIDE)
    phone: Page = new_page(viewport=NARROW, user_agent=PHONE)
    log_in(laptop, base)
    log_in(phone, base)

    laptop.reload()
    sessions = laptop.locator("#sessions")
    expect(sessions.get_by_role("row")).to_have_count(3)  # the header and two browsers
    expect(sessions.get_by_role("row", name=re.compile("This browser"))).to_contain_text(
        "Chrome on Linux"
    )
    expect(sessions.get_by_role("row", name=re.compile("Firefox on Android"))).to_contain_text(
        "127.0.0.1"
    )
    shoot(laptop, shots, "sessions")

    # One other browser signed out: the phone is back at the login page, the laptop stays.
    sessions.get_by_role("button", name=re.compile("^Sign out Firefox on Android")).click()
    expect(laptop.locator(".flash.ok")).to_contain_text("Signed out")
    expect(laptop.locator("#sessions").get_by_role("row")).to_have_count(2)
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/login"))

    # Sign out everywhere: both browsers are out.
    log_in(phone, base)
    laptop.once("dialog", lambda dialog: dialog.accept())
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop).to_have_url(re.compile(r"/login"))
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/login"))
    laptop.goto(base + "/account")
    expect(laptop).to_have_url(re.compile(r"/login"))


def test_a_stale_login_confirms_the_password_before_a_sign_in_change(
    web_server: Served, new_page, shots: Path
) -> None:
    base = web_server.base_url
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    page: Page = new_page(viewport=WIDE)
    log_in(page, base)
    minutes = web_server.runtime.config.web.reauth_minutes
    with web_server.runtime.database.write() as session:
        session.execute(
            update(WebSession).values(authenticated_at=utcnow() - timedelta(minutes=minutes + 1))
        )

    page.get_by_role("button", name="Set up two-factor login").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    shoot(page, shots, "confirm")
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".flash.error")).to_contain_text("not right")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_role("button", name="Set up two-factor login").click()
    expect(page.locator("#totp-secret")).to_be_visible()
    assert not services.directory.get_user(SYSTEM, USER).totp_enabled  # not before a code
