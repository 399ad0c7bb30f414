"""The calendar, task and contact pages, route by route, against an insider: Eve, logged
in, points every route at Alice's calendar, task list, address book and items (by their
own paths and by the paths they have in Bob's home), and gets nothing: a 404 page or a
refusal, never Alice's titles, and nothing changed. Bob, who has Alice's calendar read
only, reads it and cannot write it; Eve, who has it for free/busy, sees busy blocks only.
Every change wants the form's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from groupware.services.core.access import SYSTEM
from tests.conftest import Served
from tests.integration.test_web import Browser

PASSWORD = "Calendar-pass-1"
ALICE, BOB, EVE = "alice@example.test", "bob@example.test", "eve@example.test"
SECRET = "Quarterly layoffs"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:secret-1\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20261214T090000Z\r\nDTEND:20261214T100000Z\r\n"
    f"SUMMARY:{SECRET}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
TASK = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:task-1\r\n"
    f"DTSTAMP:20260101T000000Z\r\nSUMMARY:{SECRET} list\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)
CARD = f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:{SECRET} contact\r\nEND:VCARD\r\n"


@pytest.fixture
def homes(web_server: Served) -> Iterator[Served]:
    from groupware.mime.icalitem import describe_text
    from groupware.services.calendar.rows import NewItem

    services = web_server.services
    for address in (ALICE, BOB, EVE):
        services.directory.add_user(SYSTEM, address, PASSWORD)
        services.calendars.ensure_home(address)
    for name, text, href in (
        ("calendar", EVENT, "e.ics"),
        ("tasks", TASK, "t.ics"),
        ("contacts", CARD, "c.vcf"),
    ):
        path = f"{ALICE}/{name}"
        collection = services.calendars.collection(path)
        assert collection is not None
        services.calendars.put_item(collection.id, NewItem.of(href, describe_text(path, text)))
    alice = services.calendars.principal_of(ALICE)
    assert alice is not None
    services.sharing.share(alice, f"{ALICE}/calendar", BOB, "read")
    services.sharing.share(alice, f"{ALICE}/calendar", EVE, "freebusy")
    yield web_server


def logged_in(served: Served, address: str) -> Browser:
    browser = Browser(served.base_url)
    assert browser.log_in(address, PASSWORD)[0] == 200
    return browser


def test_eve_reaches_nothing_of_alices_by_any_route(homes: Served) -> None:
    eve = logged_in(homes, EVE)
    calendar, tasks, contacts = (f"{ALICE}/{n}" for n in ("calendar", "tasks", "contacts"))
    reads = [
        f"/calendar/event?c={calendar}&h=e.ics",
        f"/calendar/event?c={ALICE}/calendar/&h=e.ics",
        f"/calendar/event?c={ALICE}/calendar/../calendar&h=e.ics",
        f"/calendar/export?c={calendar}",
        f"/calendar/export?c={tasks}&kind=tasks",
        f"/tasks/task?c={tasks}&h=t.ics",
        f"/contacts/contact?c={contacts}&h=c.vcf",
        f"/contacts/photo?c={contacts}&h=c.vcf",
        f"/contacts/export?c={contacts}",
        f"/contacts?book={contacts}",
        f"/contacts/contact?c={ALICE}/directory&h=c.vcf",
        f"/calendar/event?c={EVE}/shared-2&h=e.ics",
    ]
    for path in reads:
        status, _, body = eve.request(path)
        assert SECRET not in body, path
        assert status in (200, 400, 403, 404), (path, status)
    token = eve.csrf("/calendar")
    writes = [
        ("/calendar/event/delete", {"c": calendar, "h": "e.ics"}),
        (
            "/calendar/event",
            {
                "c": calendar,
                "h": "e.ics",
                "title": "pwned",
                "start": "2026-12-14T09:00",
                "end": "2026-12-14T10:00",
            },
        ),
        (
            "/calendar/event",
            {
                "calendar": calendar,
                "title": "planted",
                "start": "2026-12-14T09:00",
                "end": "2026-12-14T10:00",
            },
        ),
        ("/calendar/show", {"calendar": calendar, "on": "0"}),
        ("/tasks/tick", {"c": tasks, "h": "t.ics", "done": "1"}),
        ("/tasks/task", {"c": tasks, "h": "t.ics", "title": "pwned"}),
        ("/tasks/task", {"list": tasks, "title": "planted"}),
        ("/tasks/delete", {"c": tasks, "h": "t.ics"}),
        ("/contacts/contact", {"c": contacts, "h": "c.vcf", "name": "pwned"}),
        ("/contacts/contact", {"book": contacts, "name": "planted"}),
        ("/contacts/delete", {"c": contacts, "h": "c.vcf"}),
        ("/contacts/group", {"book": contacts, "name": "planted"}),
    ]
    for path, form in writes:
        status, _, body = eve.request(path, {"csrf_token": token, **form})
        assert SECRET not in body, path
    services = homes.services
    for name, href, wanted in (
        ("calendar", "e.ics", SECRET),
        ("tasks", "t.ics", SECRET),
        ("contacts", "c.vcf", SECRET),
    ):
        collection = services.calendars.collection(f"{ALICE}/{name}")
        assert collection is not None
        item = services.calendars.item(collection.id, href)
        assert item is not None and wanted in item.text, name  # still there, unchanged
        texts = services.calendars.texts(collection.id)
        assert len(texts) == 1 and not any("pwned" in t or "planted" in t for t in texts.values())


def test_shares_give_what_they_say_and_no_more(homes: Served) -> None:
    bob = logged_in(homes, BOB)
    status, _, week = bob.request("/calendar?view=week&date=2026-12-14")
    assert status == 200 and SECRET in week  # read share: he reads it
    status, _, form = bob.request(f"/calendar/event?c={ALICE}/calendar&h=e.ics")
    assert status == 200 and "read-only for you" in form
    token = bob.csrf("/calendar")
    edit = {
        "csrf_token": token,
        "c": f"{ALICE}/calendar",
        "h": "e.ics",
        "title": "changed",
        "start": "2026-12-14T09:00",
        "end": "2026-12-14T10:00",
        "zone": "UTC",
    }
    status, _, _ = bob.request("/calendar/event", edit)
    assert status == 403
    eve = logged_in(homes, EVE)
    status, _, week = eve.request("/calendar?view=week&date=2026-12-14")
    assert status == 200 and SECRET not in week and ">Busy<" in week
    status, _, body = eve.request(f"/calendar/event?c={ALICE}/calendar&h=e.ics")
    assert status == 404 and SECRET not in body
    status, _, body = eve.request(f"/calendar/export?c={ALICE}/calendar")
    assert status == 404 and SECRET not in body
    # The scheduling assistant gives times only, of people and rooms of this server.
    status, _, body = eve.request(
        f"/calendar/freebusy?who={ALICE},nobody@else.example&date=2026-12-14&zone=UTC"
    )
    assert status == 200 and SECRET not in body and '"known":false' in body.replace(" ", "")
    assert "[540,600," in body.replace(" ", "")  # 09:00-10:00 busy


def test_changes_want_the_forms_token(homes: Served) -> None:
    alice = logged_in(homes, ALICE)
    for path, form in (
        ("/calendar/event/delete", {"c": f"{ALICE}/calendar", "h": "e.ics"}),
        ("/tasks/tick", {"c": f"{ALICE}/tasks", "h": "t.ics", "done": "1"}),
        ("/contacts/delete", {"c": f"{ALICE}/contacts", "h": "c.vcf"}),
        ("/calendar/zone", {"zone": "Europe/Berlin"}),
    ):
        status, _, _ = alice.request(path, form)
        assert status == 400, path
    collection = homes.services.calendars.collection(f"{ALICE}/calendar")
    assert collection is not None and homes.services.calendars.item(collection.id, "e.ics")


def test_exports_and_photos_are_files_not_pages(homes: Served) -> None:
    alice = logged_in(homes, ALICE)
    for path, kind in (
        (f"/calendar/export?c={ALICE}/calendar", "text/calendar"),
        (f"/contacts/export?c={ALICE}/contacts", "text/vcard"),
    ):
        status, headers, body = alice.request(path)
        assert status == 200 and SECRET in body
        assert headers["Content-Type"].startswith(kind)
        assert headers["Content-Disposition"].startswith("attachment;")
        assert headers["Content-Security-Policy"].startswith("sandbox")
    status, _, _ = alice.request(f"/contacts/photo?c={ALICE}/contacts&h=c.vcf")
    assert status == 404  # no photo: nothing served


@pytest.mark.parametrize("organizer", [ALICE, BOB])
def test_a_forged_invitation_cannot_be_answered(homes: Served, tmp_path, organizer: str) -> None:
    """Regression (attack report): mail from outside, unproven, claiming an invitation
    organized by Alice herself (or by her colleague Bob). Her Accept made the mail an
    event of hers and sent invitations in her name (or filed a forged event as Bob's).
    Only copies scheduling placed from a proven sender are answered."""
    from groupware.mime import imip
    from groupware.services.transport.provenance import Provenance

    services = homes.services
    event = EVENT.replace("UID:secret-1", "UID:forged-1").replace(
        "END:VEVENT",
        f"ORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{ALICE}\r\n"
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{EVE}\r\n"
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:victim@external.example\r\nEND:VEVENT",
    )
    data = imip.compose(
        method="REQUEST",
        sender="attacker@evil.example",
        sender_name="",
        to=ALICE,
        body=imip.with_method(event, "REQUEST"),
        facts=imip.read(event),
    )
    spool = tmp_path / "forged.eml"
    spool.write_bytes(data)
    resolved = [services.delivery.resolve(ALICE)]
    services.router.route(spool, resolved, "attacker@evil.example", Provenance(frozenset()))
    alice = logged_in(homes, ALICE)
    me = services.calendars.principal_of(ALICE)
    assert me is not None
    [found] = services.mail_view.search(me, f"subject:{SECRET}")
    page = alice.request(f"/mail/message/INBOX/{found.message.uid}")[2]
    assert "its sender could not be verified" in page and ">Accept<" not in page
    token = alice.csrf(f"/mail/message/INBOX/{found.message.uid}")
    status, _, after = alice.request(
        f"/mail/invitation/INBOX/{found.message.uid}", {"csrf_token": token, "answer": "accept"}
    )
    assert "cannot be answered here" in after or "you are not invited" in after
    assert services.calendars.find_uid(ALICE, "forged-1") is None
    assert services.calendars.find_uid(EVE, "forged-1") is None  # no invitation in her name
    assert services.queue.list_all(SYSTEM) == []  # nothing to victim@external.example
    assert status == 200  # the message again, with why


def test_dates_and_zones_at_the_edges_are_refused_not_500s(homes: Served) -> None:
    """Regression (attack report): year 1 or 9999, a zone that is a folder or too long,
    a `back` with a line break: each was a 500."""
    alice = logged_in(homes, ALICE)
    for path in (
        "/calendar?view=week&date=9999-12-31",
        "/calendar?view=month&date=9999-12-15",
        "/calendar?view=day&date=0001-01-01",
        "/calendar?view=agenda&date=9999-12-31",
        "/calendar/event?date=9999-12-31",
        f"/calendar/freebusy?who={BOB}&date=9999-12-31",
        f"/calendar/freebusy?who={BOB}&date=0001-01-01&zone=Asia/Tokyo",
        f"/calendar/freebusy?who={BOB}&zone=America",
        f"/calendar/freebusy?who={BOB}&zone={'x' * 300}",
        f"/calendar/nextfree?who={BOB}&after=9999-12-25T00:00",
    ):
        status, _, _ = alice.request(path)
        assert status in (200, 400, 404), (path, status)
    token = alice.csrf("/calendar")
    for form in (
        {"zone": "America", "back": "/calendar"},
        {"zone": "Europe/Berlin", "back": "/calendar\r\nSet-Cookie: x=y"},
    ):
        status, _, _ = alice.request("/calendar/zone", {"csrf_token": token, **form})
        assert status == 200, form
    for start, end in (("0001-01-01T09:00", "0001-01-01T10:00"), ("9999-12-31", "9999-12-31")):
        form = {"csrf_token": token, "title": "edge", "start": start, "end": end, "zone": "UTC"}
        status, _, body = alice.request("/calendar/event", form)
        assert status == 200 and "a date" in body, start
