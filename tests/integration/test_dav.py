"""CalDAV and CardDAV at /dav with real clients over a real socket: the `caldav` library
(discovery from /.well-known, calendars, events with recurrence, time-range search,
todos, deletes) and plain HTTP for what a library hides (redirects, limits, headers)."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote

import caldav
import pytest

from groupware.errors import PermissionDenied
from groupware.services.core.access import SYSTEM
from tests.conftest import Served

PASSWORD = "Calendar-pass-1"
ALICE = "alice@example.test"
BOB = "bob@example.test"

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//tests//groupware//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:{start}
DTEND:{end}
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def dav(web_server: Served) -> Iterator[Served]:
    for address in (ALICE, BOB):
        web_server.services.directory.add_user(SYSTEM, address, PASSWORD)
    yield web_server


def client(served: Served, user: str = ALICE, path: str = "/") -> caldav.DAVClient:
    return caldav.DAVClient(url=served.base_url + path, username=user, password=PASSWORD)


@pytest.mark.parametrize("start", ["/.well-known/caldav", "/", "/dav/"])
def test_discovery_finds_the_default_collections(dav: Served, start: str) -> None:
    principal = client(dav, path=start).principal()
    names = sorted(c.get_display_name() for c in principal.calendars())
    assert names == ["Calendar", "Tasks"]
    home = principal.calendar_home_set.url
    assert unquote(str(home)).endswith(f"/dav/{ALICE}/")


def test_events_with_recurrence_time_range_search_and_delete(dav: Served) -> None:
    calendar = client(dav).principal().calendar(name="Calendar")
    calendar.save_event(
        EVENT.format(uid="one", start="20261201T100000Z", end="20261201T110000Z", summary="One")
    )
    recurring = EVENT.format(
        uid="weekly", start="20261105T090000Z", end="20261105T093000Z", summary="Weekly"
    ).replace("SUMMARY:Weekly", "SUMMARY:Weekly\nRRULE:FREQ=WEEKLY;COUNT=10")
    exception = (
        "BEGIN:VEVENT\nUID:weekly\nDTSTAMP:20260101T000000Z\n"
        "RECURRENCE-ID:20261112T090000Z\nDTSTART:20261112T150000Z\n"
        "DTEND:20261112T153000Z\nSUMMARY:Weekly (moved)\nEND:VEVENT\n"
    )
    calendar.save_event(recurring.replace("END:VCALENDAR", exception + "END:VCALENDAR"))
    calendar.save_event(
        EVENT.format(uid="old", start="20250101T100000Z", end="20250101T110000Z", summary="Old")
    )
    utc = UTC
    december = calendar.search(
        start=datetime(2026, 12, 1, tzinfo=utc), end=datetime(2027, 1, 1, tzinfo=utc), event=True
    )
    found = sorted(e.icalendar_component["UID"] for e in december)
    assert found == ["one", "weekly"]  # the weekly series runs into December
    moved = calendar.search(
        start=datetime(2026, 11, 12, 14, tzinfo=utc),
        end=datetime(2026, 11, 12, 16, tzinfo=utc),
        event=True,
        expand=True,
    )
    assert [str(e.icalendar_component["SUMMARY"]) for e in moved] == ["Weekly (moved)"]
    # Between two occurrences the series spans the window but has nothing in it. The
    # server keeps that answer per version of the item: an edited series is asked again.
    between = datetime(2026, 11, 6, 9, tzinfo=utc), datetime(2026, 11, 6, 10, tzinfo=utc)
    for _ in range(2):
        assert calendar.search(start=between[0], end=between[1], event=True) == []
    calendar.save_event(recurring.replace("FREQ=WEEKLY", "FREQ=DAILY"))
    daily = calendar.search(start=between[0], end=between[1], event=True)
    assert [e.icalendar_component["UID"] for e in daily] == ["weekly"]
    calendar.event_by_uid("old").delete()
    assert sorted(e.icalendar_component["UID"] for e in calendar.events()) == ["one", "weekly"]


def test_todos_created_and_completed(dav: Served) -> None:
    tasks = client(dav).principal().calendar(name="Tasks")
    todo = tasks.save_todo(summary="Write the report", uid="todo-1")
    assert [t.icalendar_component["UID"] for t in tasks.todos()] == ["todo-1"]
    todo.complete()
    assert tasks.todos() == []
    assert [t.icalendar_component["STATUS"] for t in tasks.todos(include_completed=True)] == [
        "COMPLETED"
    ]


def test_a_new_calendar_and_its_removal(dav: Served) -> None:
    principal = client(dav).principal()
    made = principal.make_calendar(name="Projects", cal_id="projects")
    made.save_event(
        EVENT.format(uid="p1", start="20261201T100000Z", end="20261201T110000Z", summary="P")
    )
    assert "Projects" in [c.get_display_name() for c in principal.calendars()]
    made.delete()
    assert "Projects" not in [c.get_display_name() for c in principal.calendars()]


def test_sync_collection_returns_only_what_changed(dav: Served) -> None:
    calendar = client(dav).principal().calendar(name="Calendar")
    for n in range(3):
        calendar.save_event(
            EVENT.format(
                uid=f"s{n}", start="20261201T100000Z", end="20261201T110000Z", summary=f"S{n}"
            )
        )
    first = calendar.objects_by_sync_token(load_objects=False)
    assert len(list(first)) == 3
    again = calendar.objects_by_sync_token(first.sync_token, load_objects=False)
    assert list(again) == []
    calendar.event_by_uid("s1").delete()
    calendar.save_event(
        EVENT.format(uid="s3", start="20261202T100000Z", end="20261202T110000Z", summary="S3")
    )
    changed = calendar.objects_by_sync_token(again.sync_token, load_objects=False)
    assert len(list(changed)) == 2  # the new one and the deleted one
    # A listing reads no calendar data unless a property needs it (the length, here).
    status, _, body = request(
        dav,
        "PROPFIND",
        f"/dav/{ALICE}/calendar/",
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
        "<D:getlastmodified/><D:getcontentlength/></D:prop></D:propfind>",
        Depth="1",
    )
    assert status == 207 and body.count("GMT</") == 4  # the calendar and its 3 items
    lengths = re.findall(r"<getcontentlength>(\d+)</getcontentlength>", body)
    for uid, length in zip(("s0", "s2", "s3"), lengths[1:], strict=True):  # after the calendar
        assert int(length) == len(request(dav, "GET", f"/dav/{ALICE}/calendar/{uid}.ics")[2])


def test_other_users_calendars_are_out_of_reach(dav: Served) -> None:
    alice = client(dav).principal().calendar(name="Calendar")
    alice.save_event(
        EVENT.format(uid="private", start="20261201T100000Z", end="20261201T110000Z", summary="X")
    )
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"])
    auth = {"Authorization": basic(BOB), "Depth": "1"}
    for method, path in (
        ("PROPFIND", f"/dav/{ALICE}/"),
        ("PROPFIND", f"/dav/{ALICE}/calendar/"),
        ("GET", f"/dav/{ALICE}/calendar/private.ics"),
        ("PUT", f"/dav/{ALICE}/calendar/new.ics"),
        ("DELETE", f"/dav/{ALICE}/calendar/"),
        ("MKCALENDAR", f"/dav/{ALICE}/bobs/"),
    ):
        body = (
            ""
            if method != "PUT"
            else EVENT.format(
                uid="x", start="20261201T100000Z", end="20261201T110000Z", summary="X"
            )
        )
        connection.request(method, path, body=body, headers=auth)
        response = connection.getresponse()
        response.read()
        assert response.status in (403, 404), (method, path, response.status)


def test_well_known_redirects_for_every_method(dav: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"])
    for method in ("GET", "PROPFIND", "OPTIONS"):
        for path in ("/.well-known/caldav", "/.well-known/carddav"):
            connection.request(method, path)
            response = connection.getresponse()
            response.read()
            assert response.status == 301 and response.getheader("Location") == "/dav/"


def test_identity_headers_from_the_client_are_ignored(dav: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"])
    headers = {"X-Remote-User": ALICE, "Remote-User": ALICE, "Depth": "0"}
    connection.request("PROPFIND", f"/dav/{ALICE}/", headers=headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 401


def test_bodies_over_the_limit_are_refused(dav: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"], timeout=30)
    limit = dav.runtime.config.dav.max_body_bytes
    body = b"x" * (limit + 1)  # waitress reads the whole body before the app answers
    connection.request(
        "PUT", f"/dav/{ALICE}/calendar/big.ics", body=body, headers={"Authorization": basic(ALICE)}
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 413


def basic(user: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:{name}\r\nN:{name};;;;\r\n"
    "EMAIL:carol@example.test\r\nEND:VCARD\r\n"
)


def request(
    served: Served, method: str, path: str, body: str = "", **headers: str
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.ports["http"], timeout=30)
    connection.request(
        method, path, body=body.encode(), headers={"Authorization": basic(ALICE), **headers}
    )
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def test_vcards_created_updated_and_deleted_over_carddav(dav: Served) -> None:
    path = f"/dav/{ALICE}/contacts/card-1.vcf"
    vcard = {"Content-Type": "text/vcard"}
    status, headers, _ = request(dav, "PUT", path, CARD.format(name="Carol"), **vcard)
    assert status == 201
    etag = headers["etag"]
    status, headers, body = request(dav, "GET", path)
    assert status == 200 and "FN:Carol" in body and headers["content-type"].startswith("text/vcard")
    stale = {"If-Match": '"not-the-etag"', **vcard}
    assert request(dav, "PUT", path, CARD.format(name="Caro"), **stale)[0] == 412
    fresh = {"If-Match": etag, **vcard}
    status, headers, _ = request(dav, "PUT", path, CARD.format(name="Caroline"), **fresh)
    assert status in (200, 201, 204) and headers["etag"] != etag
    listing = request(dav, "PROPFIND", f"/dav/{ALICE}/contacts/", Depth="1")[2]
    assert "card-1.vcf" in listing and "text/vcard" in listing
    assert "FN:Caroline" in request(dav, "GET", path)[2]
    assert request(dav, "DELETE", path)[0] in (200, 204)
    assert request(dav, "GET", path)[0] == 404
    # A second card with the same UID under another name is a conflict (RFC 6352 §6.3.2.1).
    request(dav, "PUT", path, CARD.format(name="Carol"), **vcard)
    other = f"/dav/{ALICE}/contacts/other.vcf"
    assert request(dav, "PUT", other, CARD.format(name="Twin"), **vcard)[0] == 409


# -- sharing: the access matrix over HTTP --------------------------------------------------

CAROL = "carol@example.test"


def status_of(served: Served, user: str, method: str, path: str, body: str = "", **h: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", served.ports["http"], timeout=30)
    auth = "Basic " + __import__("base64").b64encode(f"{user}:{PASSWORD}".encode()).decode()
    connection.request(method, path, body=body.encode(), headers={"Authorization": auth, **h})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def shared_names(served: Served, user: str) -> list[str]:
    return sorted(c.get_display_name() for c in client(served, user).principal().calendars())


def event(uid: str, summary: str = "Busy") -> str:
    return EVENT.format(uid=uid, start="20261201T100000Z", end="20261201T110000Z", summary=summary)


@pytest.fixture
def sharing(dav: Served) -> Served:
    dav.services.directory.add_user(SYSTEM, CAROL, PASSWORD)
    calendar = client(dav).principal().calendar(name="Calendar")
    calendar.save_event(event("secret", "Dentist"))
    client(dav, BOB).principal()  # Bob's home exists
    return dav


def test_shares_read_write_revoke(sharing: Served) -> None:
    services = sharing.services
    alice = services.calendars.principal_of(ALICE)
    assert alice is not None
    item = f"/dav/{ALICE}/calendar/secret.ics"
    new = f"/dav/{ALICE}/calendar/from-bob.ics"
    assert shared_names(sharing, BOB) == ["Calendar", "Tasks"]
    assert status_of(sharing, BOB, "GET", item) in (403, 404)

    share = services.sharing.share(alice, f"{ALICE}/calendar", BOB, "read")
    assert shared_names(sharing, BOB) == ["Calendar", "Calendar (alice@example.test)", "Tasks"]
    mapped = f"/dav/{BOB}/shared-{share.id}/"
    bobs_view = caldav.Calendar(client(sharing, BOB), url=sharing.base_url + mapped)
    assert [e.icalendar_component["UID"] for e in bobs_view.events()] == ["secret"]
    assert status_of(sharing, BOB, "GET", mapped + "secret.ics") == 200
    assert status_of(sharing, BOB, "PUT", mapped + "from-bob.ics", event("from-bob")) == 403
    assert status_of(sharing, BOB, "GET", item) in (403, 404)  # only through the share
    assert status_of(sharing, CAROL, "GET", mapped + "secret.ics") in (403, 404)

    services.sharing.share(alice, f"{ALICE}/calendar", BOB, "write")
    (share,) = services.sharing.shares_of(alice, f"{ALICE}/calendar")
    mapped = f"/dav/{BOB}/shared-{share.id}/"
    assert status_of(sharing, BOB, "PUT", mapped + "from-bob.ics", event("from-bob")) == 201
    assert status_of(sharing, ALICE, "GET", new) == 200  # it is Alice's calendar that changed
    assert status_of(sharing, BOB, "DELETE", mapped) in (403, 405)  # never the collection
    whole = event("replacement")  # a whole calendar PUT on the collection would replace it
    assert status_of(sharing, BOB, "PUT", mapped, whole) in (403, 405)
    assert status_of(sharing, ALICE, "GET", item) == 200
    # The owner may replace her own calendar whole; its shares stay.
    assert status_of(sharing, ALICE, "PUT", f"/dav/{ALICE}/calendar/", whole) in (201, 204)
    assert [s.sharee for s in services.sharing.shares_of(alice, f"{ALICE}/calendar")] == [BOB]
    assert status_of(sharing, ALICE, "GET", item) == 404
    assert status_of(sharing, ALICE, "PUT", item, event("secret", "Dentist")) == 201
    assert status_of(sharing, BOB, "MKCALENDAR", f"/dav/{ALICE}/bobs/") in (403, 405)

    services.sharing.unshare(alice, f"{ALICE}/calendar", BOB)
    assert shared_names(sharing, BOB) == ["Calendar", "Tasks"]
    assert status_of(sharing, BOB, "GET", mapped + "secret.ics") in (403, 404)


def test_free_busy_share_shows_no_details(sharing: Served) -> None:
    alice = sharing.services.calendars.principal_of(ALICE)
    assert alice is not None
    share = sharing.services.sharing.share(alice, f"{ALICE}/calendar", BOB, "freebusy")
    mapped = f"/dav/{BOB}/shared-{share.id}/"
    assert status_of(sharing, BOB, "GET", mapped + "secret.ics") in (403, 404)
    query = (
        '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<C:time-range start="20261201T000000Z" end="20261202T000000Z"/></C:free-busy-query>'
    )
    connection = http.client.HTTPConnection("127.0.0.1", sharing.ports["http"], timeout=30)
    auth = "Basic " + __import__("base64").b64encode(f"{BOB}:{PASSWORD}".encode()).decode()
    connection.request("REPORT", mapped, body=query, headers={"Authorization": auth, "Depth": "1"})
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200, body
    assert "FREEBUSY" in body and "20261201T100000Z" in body and "Dentist" not in body


def test_group_shares_and_group_calendars(sharing: Served) -> None:
    services = sharing.services
    services.groups.add(SYSTEM, "team", domain="example.test", members=[BOB])
    alice = services.calendars.principal_of(ALICE)
    assert alice is not None
    services.sharing.share(alice, f"{ALICE}/calendar", "+team@example.test", "read")
    assert "Calendar (alice@example.test)" in shared_names(sharing, BOB)
    assert "Calendar (alice@example.test)" not in shared_names(sharing, CAROL)

    props = {"tag": "VCALENDAR", "title": "Rota"}
    path = services.sharing.create_group_collection(SYSTEM, "team@example.test", "rota", props)
    assert "Rota (team@example.test)" in shared_names(sharing, BOB)
    assert "Rota (team@example.test)" not in shared_names(sharing, CAROL)
    (rota,) = [v for v in services.sharing.visible_to(BOB) if v.collection == path]
    assert status_of(sharing, BOB, "PUT", f"/dav/{rota.path}/shift.ics", event("shift")) == 201
    assert status_of(sharing, CAROL, "GET", f"/dav/{path}/shift.ics") in (403, 404)
    # A membership changed is seen at once (AccessChanged empties what DAV remembers).
    services.groups.add_member(SYSTEM, "team", CAROL, domain="example.test")
    assert "Rota (team@example.test)" in shared_names(sharing, CAROL)
    (carols,) = [v for v in services.sharing.visible_to(CAROL) if v.collection == path]
    assert status_of(sharing, CAROL, "GET", f"/dav/{carols.path}/shift.ics") == 200
    services.groups.remove_member(SYSTEM, "team", BOB, domain="example.test")
    assert "Rota (team@example.test)" not in shared_names(sharing, BOB)
    assert status_of(sharing, BOB, "GET", f"/dav/{rota.path}/shift.ics") in (403, 404)


def test_an_admin_role_gives_no_calendar_access(sharing: Served) -> None:
    services = sharing.services
    services.roles.grant(SYSTEM, "admin", user=CAROL)
    services.roles.grant(SYSTEM, "domain-admin", user=BOB, domain="example.test")
    for user in (CAROL, BOB):
        for method, path in (
            ("PROPFIND", f"/dav/{ALICE}/calendar/"),
            ("GET", f"/dav/{ALICE}/calendar/secret.ics"),
            ("PUT", f"/dav/{ALICE}/calendar/x.ics"),
        ):
            body = event("x") if method == "PUT" else ""
            assert status_of(sharing, user, method, path, body, Depth="1") in (403, 404)
    with pytest.raises(PermissionDenied):  # not even through the services
        services.sharing.share(
            services.calendars.principal_of(CAROL),  # type: ignore[arg-type]
            f"{ALICE}/calendar",
            CAROL,
            "read",
        )


def test_the_global_address_book_is_read_only_and_current(dav: Served) -> None:
    services = dav.services
    services.groups.add(SYSTEM, "sales", address="sales@example.test", members=[BOB])
    home = request(dav, "PROPFIND", f"/dav/{ALICE}/", Depth="1")[2]
    assert f"/dav/{ALICE}/directory/" in unquote(home)
    book = f"/dav/{ALICE}/directory/"
    listing = request(dav, "PROPFIND", book, Depth="1")[2]
    cards = sorted(re.findall(r"directory/([^<]+)\.vcf</href>", listing))
    assert len(cards) == 4 and cards.count("group-1") == 1  # admin, alice, bob; the group
    query = (
        '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop>'
        '<C:filter><C:prop-filter name="EMAIL"><C:text-match match-type="contains">'
        "bob@</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"
    )
    found = request(dav, "REPORT", book, query, Depth="1")[2]
    assert "EMAIL;TYPE=INTERNET:bob@example.test" in found
    assert "EMAIL;TYPE=INTERNET:alice@" not in found  # (hrefs name her: her home)
    assert "X-ADDRESSBOOKSERVER-KIND:group" in request(dav, "GET", book + "group-1.vcf")[2]
    card = CARD.format(name="Mallory")
    assert (
        request(dav, "PUT", book + "mallory.vcf", card, **{"Content-Type": "text/vcard"})[0] == 403
    )
    assert request(dav, "DELETE", book)[0] in (403, 405)
    services.directory.add_user(SYSTEM, "dave@example.test", PASSWORD)
    assert (
        "dave@example.test"
        in request(dav, "REPORT", book, query.replace("bob@", "dave@"), Depth="1")[2]
    )
    services.directory.update_user(SYSTEM, BOB, active=False)
    assert "bob@example.test" not in request(dav, "REPORT", book, query, Depth="1")[2]


def test_a_remembered_login_ends_when_the_password_changes(dav: Served) -> None:
    home = f"/dav/{ALICE}/"
    assert request(dav, "PROPFIND", home, Depth="0")[0] == 207
    assert request(dav, "PROPFIND", home, Depth="0")[0] == 207  # remembered: no argon2
    dav.services.directory.set_password(SYSTEM, ALICE, "Another-pass-2")
    assert request(dav, "PROPFIND", home, Depth="0")[0] == 401  # the old one, at once
    name, secret = dav.services.credentials.add_app_password(SYSTEM, ALICE, "phone")
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"], timeout=30)
    app = "Basic " + __import__("base64").b64encode(f"{ALICE}:{secret}".encode()).decode()
    for expected in (207, 207):
        connection.request("PROPFIND", home, headers={"Authorization": app, "Depth": "0"})
        response = connection.getresponse()
        response.read()
        assert response.status == expected
    dav.services.credentials.revoke_app_password(SYSTEM, ALICE, "phone")
    connection.request("PROPFIND", home, headers={"Authorization": app, "Depth": "0"})
    response = connection.getresponse()
    response.read()
    assert response.status == 401


CAL = "urn:ietf:params:xml:ns:caldav"
TWO_EVENTS = EVENT.format(
    uid="a", start="20261201T100000Z", end="20261201T110000Z", summary="x"
) + EVENT.format(uid="b", start="20261201T100000Z", end="20261201T110000Z", summary="y")
BAD_TIME_RANGE = (
    f"<?xml version='1.0'?><C:calendar-query xmlns:C='{CAL}'><C:filter>"
    "<C:comp-filter name='VCALENDAR'><C:comp-filter name='VEVENT'>"
    "<C:time-range start='yesterday'/></C:comp-filter></C:comp-filter></C:filter>"
    "</C:calendar-query>"
)
UNKNOWN_TOKEN = (
    "<?xml version='1.0'?><D:sync-collection xmlns:D='DAV:'><D:sync-token>"
    "http://groupware.invalid/ns/sync/nope-999</D:sync-token><D:prop/></D:sync-collection>"
)
MOVE_TO_BOB = {"Destination": "/dav/bob@example.test/calendar/x.ics"}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("PUT", "calendar/bad.ics", "BEGIN:VCALENDAR\r\ngarbage", {}),
        ("PUT", "calendar/bad.ics", "not a calendar at all", {}),
        ("PUT", "calendar/card.ics", CARD.format(name="Card in a calendar"), {}),
        ("PUT", "calendar/two.ics", TWO_EVENTS, {}),
        ("PUT", "calendar/empty.ics", "", {}),
        ("PUT", "calendar/bad%00name.ics", "x", {}),
        ("PUT", "untyped/", "X:1\r\n", {}),  # a collection of neither calendars nor cards
        ("PUT", "contacts/c.vcf", "BEGIN:VCARD\r\nEMAIL;TYPE" + "," * 40 + "\r\n", {}),
        ("PROPFIND", "calendar/", "<not xml", {"Depth": "1"}),
        ("PROPFIND", "calendar/", "<?xml version='1.0'?><D:propfind xmlns:D='DAV:'><D:prop>", {}),
        ("REPORT", "calendar/", "<?xml version='1.0'?><x:unknown-report xmlns:x='urn:x'/>", {}),
        ("REPORT", "calendar/", BAD_TIME_RANGE, {"Depth": "1"}),
        ("REPORT", "calendar/", UNKNOWN_TOKEN, {}),
        ("MKCALENDAR", "calendar/", "", {}),
        ("MOVE", "calendar/nothing.ics", "", MOVE_TO_BOB),
        ("PROPFIND", "../bob@example.test/", "", {"Depth": "1"}),
        ("GET", "calendar/" + "x" * 5000 + ".ics", "", {}),
    ],
)
def test_bad_requests_get_a_clear_answer(
    dav: Served, method: str, path: str, body: str, headers: dict[str, str]
) -> None:
    """Malformed, truncated and hostile requests: refused (4xx; an unknown REPORT gets
    Radicale's multistatus), never a 500, and the server answers normally afterwards."""
    status = request(dav, method, f"/dav/{ALICE}/{path}", body, **headers)[0]
    assert status < 500 and status not in (200, 201, 204), (method, path, status)
    assert request(dav, "PROPFIND", f"/dav/{ALICE}/calendar/", Depth="0")[0] == 207


def test_a_sharee_cannot_send_invitations_in_the_owners_name(sharing: Served) -> None:
    services = sharing.services
    alice = services.calendars.principal_of(ALICE)
    assert alice is not None
    share = services.sharing.share(alice, f"{ALICE}/calendar", BOB, "write")
    invite = event("meeting", "Meeting").replace(
        "SUMMARY:Meeting",
        f"SUMMARY:Meeting\r\nORGANIZER:mailto:{ALICE}\r\nATTENDEE:mailto:{CAROL}",
    )
    path = f"/dav/{BOB}/shared-{share.id}/meeting.ics"
    assert status_of(sharing, BOB, "PUT", path, invite) == 201
    assert services.calendars.find_uid(CAROL, "meeting") is None  # Bob wrote: nothing sent
    own = f"/dav/{ALICE}/calendar/meeting.ics"
    again = invite.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nSEQUENCE:1")
    assert status_of(sharing, ALICE, "PUT", own, again) == 204
    assert services.calendars.find_uid(CAROL, "meeting") is not None  # Alice did: invited


def test_the_server_schedules_unless_the_client_says_it_does(sharing: Served) -> None:
    """calendar-auto-schedule is advertised (clients such as Thunderbird then leave
    invitations to us instead of mailing them twice); an attendee marked
    SCHEDULE-AGENT=CLIENT (RFC 6638 §7.1) is left to the client."""
    status, headers, _ = request(sharing, "OPTIONS", "/dav/")
    assert status == 200 and "calendar-auto-schedule" in headers["dav"]
    assert "calendar-access" in headers["dav"]
    services = sharing.services
    invite = event("by-client", "Meeting").replace(
        "SUMMARY:Meeting",
        f"SUMMARY:Meeting\r\nORGANIZER:mailto:{ALICE}\r\n"
        f"ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:{BOB}\r\nATTENDEE:mailto:{CAROL}",
    )
    path = f"/dav/{ALICE}/calendar/by-client.ics"
    assert status_of(sharing, ALICE, "PUT", path, invite) == 201
    assert services.calendars.find_uid(BOB, "by-client") is None  # left to Alice's client
    assert services.calendars.find_uid(CAROL, "by-client") is not None
    # The organizer marked so: her client sends everything, even the cancellation.
    mine = invite.replace(
        f"ORGANIZER:mailto:{ALICE}", f"ORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:{ALICE}"
    )
    mine = mine.replace("SUMMARY:Meeting", "SUMMARY:Moved\r\nSEQUENCE:1")
    assert status_of(sharing, ALICE, "PUT", path, mine) == 204
    carols = services.calendars.find_uid(CAROL, "by-client")
    assert carols is not None and "Moved" not in carols[1].text
    assert status_of(sharing, ALICE, "DELETE", path) == 200
    carols = services.calendars.find_uid(CAROL, "by-client")
    assert carols is not None and "CANCELLED" not in carols[1].text


def test_saving_one_event_after_another_keeps_the_connection(dav: Served) -> None:
    """Every answer carries its length (Radicale gives none for a PUT's 201 or OPTIONS),
    so the connection stays open for the next request."""
    connection = http.client.HTTPConnection("127.0.0.1", dav.ports["http"], timeout=30)
    auth = {"Authorization": basic(ALICE), "Content-Type": "text/calendar"}
    sockets = set()
    for n in range(3):
        body = event(f"kept-{n}").encode()
        connection.request("PUT", f"/dav/{ALICE}/calendar/kept-{n}.ics", body=body, headers=auth)
        response = connection.getresponse()
        assert response.status == 201 and response.getheader("Content-Length") == "0"
        assert response.getheader("Connection") != "close"
        response.read()
        sockets.add(id(connection.sock))
    connection.request("OPTIONS", "/dav/", headers=auth)
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == "0"
    response.read()
    sockets.add(id(connection.sock))
    connection.close()
    assert len(sockets) == 1
