"""Tasks and contacts in a real browser, on the rows CalDAV and CardDAV clients use: a
task made and ticked in the browser is COMPLETED over CalDAV (and unticked, NEEDS-ACTION
again); a task from CalDAV is listed and filtered by its due date; a contact made in the
browser is found over CardDAV, found by search as one types, and offered by the compose
autocomplete; a .vcf import brings many cards at once; someone else's contact URL gives
nothing. Screenshots at 1280 and 360 px, light and dark.
"""

from __future__ import annotations

import base64
import http.client
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import caldav
import pytest
from playwright.sync_api import Page, expect

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from tests.browser.screens import WIDE, shoot
from tests.browser.test_webmail import log_in
from tests.conftest import ADMIN_PASSWORD, Served, serving, with_listeners

NINA, NINA_PASSWORD = "nina@example.test", "Nina-pass-123456"
OTTO, OTTO_PASSWORD = "otto@example.test", "Otto-pass-123456"


@pytest.fixture
def portal(config: Config) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        for address, password in ((NINA, NINA_PASSWORD), (OTTO, OTTO_PASSWORD)):
            user = served.services.directory.add_user(SYSTEM, address, password)
            person = served.services.auth.principal(user.id)
            assert person is not None
            served.services.agenda.set_zone(person, "UTC")
        yield served


def carddav_cards(served: Served, user: str, password: str) -> list[str]:
    """Every card of the user's Contacts book, as a CardDAV client reads it."""
    host = urlsplit(served.base_url)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Depth": "1", "Content-Type": "application/xml"}
    body = (
        '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop>'
        "</C:addressbook-query>"
    )
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    connection.request("REPORT", f"/dav/{user}/contacts/", body, headers)
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    assert answer.status == 207, text
    return re.findall(r"BEGIN:VCARD.*?END:VCARD", text, re.S)


def test_tasks_are_made_ticked_and_filtered_in_the_browser(
    portal: Served, new_page, shots: Path
) -> None:
    client = caldav.DAVClient(url=portal.base_url + "/dav/", username=NINA, password=NINA_PASSWORD)
    tasks = client.principal().calendar(name="Tasks")
    yesterday = (date.today() - timedelta(days=1)).strftime("%Y%m%d")
    tasks.save_todo(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:late-1\r\n"
        f"DTSTAMP:20260101T000000Z\r\nSUMMARY:File the expenses\r\nDUE;VALUE=DATE:{yesterday}\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n"
    )

    page: Page = new_page(viewport=WIDE)
    log_in(page, portal.base_url, NINA, NINA_PASSWORD)
    page.get_by_role("link", name="Tasks", exact=True).click()
    expect(page.get_by_role("link", name="File the expenses")).to_be_visible()
    page.get_by_role("link", name="New task").click()
    page.get_by_label("Title").fill("Write the report")
    page.get_by_label("Due").fill(date.today().isoformat())
    page.get_by_label("Priority").select_option("high")
    page.get_by_label("Notes").fill("Two pages at most.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Write the report")).to_be_visible()
    shoot(page, shots, "tasks")

    page.get_by_role("link", name="Due today").click()
    expect(page.get_by_role("link", name="Write the report")).to_be_visible()
    expect(page.get_by_role("link", name="File the expenses")).to_have_count(0)
    page.get_by_role("link", name="Overdue").click()
    expect(page.get_by_role("link", name="File the expenses")).to_be_visible()
    expect(page.get_by_role("link", name="Write the report")).to_have_count(0)

    # Ticked in the browser: COMPLETED over CalDAV; unticked: needs action again.
    page.get_by_role("link", name="Open", exact=True).click()
    with page.expect_navigation():  # click, not check: it submits itself, the page goes on
        page.get_by_role("checkbox", name=re.compile("Write the report")).click()
    expect(page.get_by_role("link", name="Write the report")).to_have_count(0)  # not open

    def report() -> str:
        found = [t for t in tasks.todos(include_completed=True) if "Write the report" in t.data]
        assert len(found) == 1
        return str(found[0].data)

    assert "STATUS:COMPLETED" in report() and "COMPLETED:" in report()
    assert "PRIORITY:1" in report()
    page.get_by_role("link", name="Done", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("checkbox", name=re.compile("Write the report")).click()
    assert "STATUS:NEEDS-ACTION" in report() and "\nCOMPLETED:" not in report()


def test_contacts_are_made_found_searched_and_offered_when_writing(
    portal: Served, new_page, shots: Path
) -> None:
    page: Page = new_page(viewport=WIDE)
    log_in(page, portal.base_url, NINA, NINA_PASSWORD)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="New contact").click()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@engines.example\nada.l@home.example")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_label("Organisation").fill("Analytical Engines")
    page.get_by_label("Birthday").fill("1815-12-10")
    shoot(page, shots, "contact-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()

    cards = carddav_cards(portal, NINA, NINA_PASSWORD)
    [ada] = [c for c in cards if "Ada Lovelace" in c]
    assert "ada@engines.example" in ada and "ada.l@home.example" in ada
    assert "+44 20 7946 0000" in ada and "BDAY:1815-12-10" in ada

    # Many at once from a .vcf file; then search as one types narrows the list.
    vcf = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:imported-{n}\r\nFN:Person {n:03d}\r\n"
        f"EMAIL:person{n}@example.org\r\nEND:VCARD\r\n"
        for n in range(120)
    )
    page.get_by_text("Groups, import and export").click()
    page.get_by_label("vCard file (.vcf)").set_input_files(
        files=[{"name": "people.vcf", "mimeType": "text/vcard", "buffer": vcf.encode()}]
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("120 contacts imported.")).to_be_visible()
    assert len(carddav_cards(portal, NINA, NINA_PASSWORD)) == 121
    page.get_by_role("searchbox", name="Search contacts").fill("person 07")
    expect(page.locator("#contact-list > li")).to_have_count(10)  # Person 070 … 079
    page.get_by_role("searchbox", name="Search contacts").fill("engines")
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#contact-list > li")).to_have_count(1)
    shoot(page, shots, "contacts")

    # A group: made, then Ada put in it from her card.
    page.get_by_text("Groups, import and export").click()
    page.get_by_label("Group name").fill("Pioneers")
    page.get_by_role("button", name="New group").click()
    expect(page.get_by_text("Group Pioneers made.")).to_be_visible()
    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_label("Pioneers").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("group · 1")).to_be_visible()
    [group] = [c for c in carddav_cards(portal, NINA, NINA_PASSWORD) if "Pioneers" in c]
    assert "X-ADDRESSBOOKSERVER-KIND:group" in group
    assert "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:" in group

    # The compose autocomplete offers her.
    page.get_by_role("link", name="Mail", exact=True).click()
    page.goto(portal.base_url + "/mail/compose")
    page.get_by_role("combobox", name="To").press_sequentially("lovel")
    expect(page.get_by_role("option", name=re.compile("Ada Lovelace <ada@engines"))).to_be_visible()

    # Someone else at her card's URL reaches nothing.
    page.goto(portal.base_url + "/contacts?q=ada")
    page.get_by_role("link", name="Ada Lovelace").click()
    other: Page = new_page(viewport=WIDE)
    log_in(other, portal.base_url, OTTO, OTTO_PASSWORD)
    answer = other.goto(page.url)
    assert answer is not None and answer.status == 404
