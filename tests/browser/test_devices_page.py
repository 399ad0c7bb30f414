"""Settings → Devices in a real browser: reached from Settings, the Apple profile link
downloads a profile plistlib reads, a phone link is made with an app password (its QR
code shown) and the app password appears in the list, where it is revoked. Screenshots
at 1280 and 360 px, light and dark.
"""

from __future__ import annotations

import plistlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from tests.browser.screens import shoot
from tests.browser.test_webmail import log_in
from tests.conftest import ADMIN_PASSWORD, Served, serving, with_listeners

RITA, RITA_PASSWORD = "rita@example.test", "Rita-pass-123456"


@pytest.fixture
def portal(config: Config) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    names = dict.fromkeys(("http", "imaps", "imap", "submissions", "submission"), "on")
    with serving(with_listeners(config, **names)) as served:
        served.services.directory.add_user(SYSTEM, RITA, RITA_PASSWORD, display_name="Rita")
        yield served


@pytest.mark.browser
def test_devices_page_sets_up_an_apple_device(portal: Served, new_page, shots: Path) -> None:
    page: Page = new_page(accept_downloads=True)
    base = portal.base_url
    log_in(page, base, RITA, RITA_PASSWORD)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Devices").click()
    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    rows = page.locator("#server-settings tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text(str(portal.ports["imaps"]))
    expect(rows.first).to_contain_text("SSL/TLS")

    with page.expect_download() as download:
        page.get_by_role("link", name="Apple").click()
    profile = plistlib.loads(Path(download.value.path()).read_bytes())
    kinds = {p["PayloadType"] for p in profile["PayloadContent"]}
    assert kinds == {
        "com.apple.mail.managed",
        "com.apple.caldav.account",
        "com.apple.carddav.account",
    }
    assert download.value.suggested_filename.endswith(".mobileconfig")

    page.get_by_label("Device name").fill("Rita's iPhone")
    page.get_by_label("Put a new app password in the profile").check()
    page.get_by_role("button", name="Make a link for a phone").click()
    expect(
        page.get_by_role("img", name="QR code of the profile link for Rita's iPhone")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Profile link for Rita's iPhone")).to_be_visible()
    shoot(page, shots, "devices")
    # The app password is made when the phone opens the link.
    link = page.get_by_role("link", name="Profile link for Rita's iPhone").get_attribute("href")
    assert link is not None
    answer = page.request.get(base + link.split("example.test", 1)[1])
    assert answer.ok and b"IncomingPassword" in answer.body()
    page.reload()
    row = page.get_by_role("row", name="Rita's iPhone")
    expect(row).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("App password Rita's iPhone revoked.")).to_be_visible()
    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    assert portal.services.credentials.app_passwords(SYSTEM, RITA) == []
