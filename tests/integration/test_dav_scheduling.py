"""RFC 6638 scheduling as CalDAV clients discover and use it, with the `caldav` library and
plain HTTP: the principal's mailto: addresses (its own and its aliases) and its inbox and
outbox; hrefs with "@" as it is (Thunderbird quotes what it is given once more); the
boxes themselves; a free-busy query on the outbox answered with busy time and no titles;
the password prompt naming the product and no version given away."""

from __future__ import annotations

import base64
import http.client
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import caldav
import icalendar
import pytest

from groupware.services.core.access import SYSTEM
from tests.conftest import Served

PASSWORD = "Calendar-pass-1"
ALICE, BOB = "alice@example.test", "bob@example.test"
PRINCIPAL_PROPS = """<?xml version="1.0"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>
<C:calendar-home-set/><C:calendar-user-address-set/><C:schedule-inbox-URL/>
<C:schedule-outbox-URL/><D:current-user-principal/></D:prop></D:propfind>"""


@pytest.fixture
def dav(web_server: Served) -> Iterator[Served]:
    for address in (ALICE, BOB):
        web_server.services.directory.add_user(SYSTEM, address, PASSWORD)
    web_server.services.aliases.add(SYSTEM, "a.smith@example.test", [ALICE])
    web_server.services.aliases.add(SYSTEM, "team@example.test", [ALICE, BOB])
    yield web_server


def request(
    served: Served,
    method: str,
    path: str,
    body: str = "",
    user: str = ALICE,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    port = int(served.base_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Content-Type": "application/xml; charset=utf-8", **(headers or {})}
    if user:
        token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        sent["Authorization"] = f"Basic {token}"
    connection.request(method, path, body.encode(), sent)
    answer = connection.getresponse()
    text = answer.read().decode("utf-8", "replace")
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, text


def test_the_principal_publishes_its_addresses_and_schedule_boxes(dav: Served) -> None:
    status, _, body = request(
        dav, "PROPFIND", f"/dav/{ALICE}/", PRINCIPAL_PROPS, headers={"Depth": "0"}
    )
    assert status == 207, body
    addresses = re.findall(r"<(?:D:)?href>mailto:([^<]+)</(?:D:)?href>", body)
    assert addresses == [ALICE, "a.smith@example.test"]  # not the alias shared with Bob
    assert f"href>/dav/{ALICE}/inbox/</" in body and f"href>/dav/{ALICE}/outbox/</" in body
    assert "%40" not in body  # "@" as it is: Thunderbird quotes hrefs once more
    # Thunderbird's own form of the path, "@" quoted, reaches the same principal.
    quoted = ALICE.replace("@", "%40")
    status, _, again = request(
        dav, "PROPFIND", f"/dav/{quoted}/", PRINCIPAL_PROPS, headers={"Depth": "0"}
    )
    assert status == 207 and "mailto:" + ALICE in again

    principal = caldav.DAVClient(
        url=dav.base_url + "/dav/", username=ALICE, password=PASSWORD
    ).principal()
    assert f"mailto:{ALICE}" in principal.calendar_user_address_set()
    assert principal.schedule_outbox().url.path == f"/dav/{ALICE}/outbox/"
    assert principal.schedule_inbox().url.path == f"/dav/{ALICE}/inbox/"


def test_the_boxes_are_empty_collections_of_their_owner_only(dav: Served) -> None:
    for box in ("inbox", "outbox"):
        status, _, body = request(dav, "PROPFIND", f"/dav/{ALICE}/{box}/", headers={"Depth": "1"})
        assert status == 207 and f"schedule-{box}" in body
        assert body.count("response>") == 2  # one element: open and close
        status, _, _ = request(dav, "PROPFIND", f"/dav/{BOB}/{box}/", headers={"Depth": "0"})
        assert status == 403
    status, _, body = request(dav, "REPORT", f"/dav/{ALICE}/inbox/", "<x/>")
    assert status == 207 and "response>" not in body
    status, headers, _ = request(dav, "PROPFIND", f"/dav/{ALICE}/inbox/", user="")
    assert status == 401 and 'realm="groupware"' in headers["www-authenticate"]


def test_allprop_gives_no_version_away(dav: Served) -> None:
    body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
    for path in (f"/dav/{ALICE}/", f"/dav/{ALICE}/calendar/"):
        status, _, answer = request(dav, "PROPFIND", path, body, headers={"Depth": "1"})
        assert status == 207, answer
        assert "radicale" not in answer.lower()  # its RADICALE:version property


def test_a_free_busy_query_on_the_outbox_gives_busy_time_only(dav: Served) -> None:
    bob = caldav.DAVClient(url=dav.base_url + "/dav/", username=BOB, password=PASSWORD)
    calendar = bob.principal().calendar(name="Calendar")
    calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:fb-1\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:20261208T100000Z\r\nDTEND:20261208T113000Z\r\n"
        "SUMMARY:Secret salary talks\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    alice = caldav.DAVClient(url=dav.base_url + "/dav/", username=ALICE, password=PASSWORD)
    answers = alice.principal().freebusy_request(
        datetime(2026, 12, 8, tzinfo=UTC),
        datetime(2026, 12, 9, tzinfo=UTC),
        [
            icalendar.vCalAddress(f"MAILTO:{BOB}"),
            icalendar.vCalAddress("MAILTO:nobody@example.test"),
        ],
    )
    errors = answers.pop("errors")
    assert set(errors) == {"mailto:nobody@example.test"}, errors
    [(recipient, freebusy)] = answers.items()
    text = str(freebusy.data)
    assert recipient.lower() == f"mailto:{BOB}"
    assert "20261208T100000Z/20261208T113000Z" in text.replace("\r\n ", "")
    assert "Secret" not in text

    query = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n"
        "BEGIN:VFREEBUSY\r\nUID:q-1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261208T000000Z\r\nDTEND:20261209T000000Z\r\n"
        f"ORGANIZER:mailto:{{organizer}}\r\nATTENDEE:mailto:{BOB}\r\n"
        "ATTENDEE:mailto:nobody@example.test\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
    calendar_type = {"Content-Type": "text/calendar; charset=utf-8"}
    status, _, body = request(
        dav, "POST", f"/dav/{ALICE}/outbox/", query.format(organizer=ALICE), headers=calendar_type
    )
    assert status == 200, body
    assert "2.0;Success" in body and "3.7;Invalid calendar user" in body
    assert re.search(r"FBTYPE=BUSY[;A-Z=]*:20261208T100000Z/20261208T113000Z", body)
    # Only as oneself, only on one's own outbox, only a free-busy request.
    forged = query.format(organizer=BOB)
    assert request(dav, "POST", f"/dav/{ALICE}/outbox/", forged, headers=calendar_type)[0] == 403
    mine = query.format(organizer=ALICE)
    assert request(dav, "POST", f"/dav/{BOB}/outbox/", mine, headers=calendar_type)[0] == 403
    for junk in ("", "BEGIN:VCALENDAR\r\n", "x" * 100_000, query.replace("REQUEST", "PUBLISH")):
        status, _, _ = request(dav, "POST", f"/dav/{ALICE}/outbox/", junk, headers=calendar_type)
        assert status in (400, 413), junk[:40]
