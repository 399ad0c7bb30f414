"""The recurrence limit on every path, over real sockets: an invitation by mail through the
MX (ignored, still delivered as mail), a DAV PUT (403 CALDAV:max-instances), an import
(skipped and said); and REPORTs over items stored before the limit, or recurring for
decades, answer from the range asked for, not from the start of the series."""

from __future__ import annotations

import base64
import http.client
import json
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.dav.importer import import_radicale
from groupware.mime import imip
from groupware.services.calendar.rows import TIMESTAMP_MAX, NewItem
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, TEST_DNS, Served, serving, with_listeners
from tests.integration.test_smtp import inbox

PASSWORD = "Calendar-pass-1"
ALICE = "alice@example.test"
ORGANIZER = "boss@partner.example"
MONSTERS = [
    "FREQ=SECONDLY;COUNT=3000000",
    "FREQ=SECONDLY;COUNT=2147483647",
    "FREQ=SECONDLY",
    # Overflowed the walk begun near a range: every REPORT answered 500.
    "FREQ=SECONDLY;INTERVAL=999999999999999999999",
]
START = 1767225600  # 2026-01-01T00:00:00Z, the DTSTART of every event here


def event(uid: str, rule: str, start: str = "20260101T000000Z") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1S\r\n"
        f"RRULE:{rule}\r\nSUMMARY:{uid}\r\nSEQUENCE:0\r\nORGANIZER:mailto:{ORGANIZER}\r\n"
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{ALICE}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def server(config: Config) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    # SPF passes from loopback, so invitations from the organizer's domain count.
    TEST_DNS.set("partner.example", "TXT", ["v=spf1 ip4:127.0.0.1 -all"])
    try:
        with serving(with_listeners(config, smtp="on", http="on")) as served:
            served.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
            served.services.calendars.ensure_home(ALICE)
            yield served
    finally:  # the DNS server is shared by the whole session
        TEST_DNS.set("partner.example", "TXT", [])


def dav(served: Served, method: str, path: str, body: str = "", **headers: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.ports["http"], timeout=60)
    auth = "Basic " + base64.b64encode(f"{ALICE}:{PASSWORD}".encode()).decode()
    connection.request(
        method,
        f"/dav/{ALICE}/{path}",
        body=body.encode(),
        headers={"Authorization": auth, **headers},
    )
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def query(start: str, end: str, inside: str = "") -> str:
    return (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>'
        f'{inside}</D:prop><C:filter><C:comp-filter name="VCALENDAR">'
        f'<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def free_busy(start: str, end: str) -> str:
    return (
        '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{start}" end="{end}"/></C:free-busy-query>'
    )


def found(served: Served, start: str, end: str) -> list[str]:
    """The names (without .ics) of the items a time-range query finds."""
    status, body = dav(served, "REPORT", "calendar/", query(start, end), Depth="1")
    assert status == 207, body
    return sorted(part.split(".ics<", 1)[0] for part in body.split("/calendar/")[1:])


def mail_request(served: Served, text: str) -> None:
    body = imip.with_method(text, "REQUEST")
    data = imip.compose(
        method="REQUEST",
        sender=ORGANIZER,
        sender_name="Boss",
        to=ALICE,
        body=body,
        facts=imip.read(body),
    )
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=120) as client:
        client.sendmail(ORGANIZER, [ALICE], data)


def test_an_invitation_by_mail_over_the_limit_is_ignored_but_delivered(server: Served) -> None:
    """Each of these held the scheduling lock for seconds to hours before the limit."""
    for number, rule in enumerate(MONSTERS):
        mail_request(server, event(f"monster-{number}", rule))
        assert server.services.calendars.find_uid(ALICE, f"monster-{number}") is None
    assert len(inbox(server, ALICE)) == len(MONSTERS)  # the mail itself is delivered
    # Scheduling goes on: a sane invitation after them is placed.
    mail_request(server, event("weekly", "FREQ=WEEKLY;COUNT=10"))
    copy = server.services.calendars.find_uid(ALICE, "weekly")
    assert copy is not None
    assert found(server, "20300101T000000Z", "20300102T000000Z") == []
    assert found(server, "20260108T000000Z", "20260109T000000Z") == [copy[1].href[:-4]]


def test_a_dav_put_over_the_limit_is_refused_with_max_instances(server: Served) -> None:
    for number, rule in enumerate(MONSTERS):
        path = f"calendar/monster-{number}.ics"
        status, body = dav(server, "PUT", path, event(f"monster-{number}", rule))
        assert status == 403 and "max-instances" in body, (status, body)
        assert dav(server, "GET", path)[0] == 404
    never = event("never", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    status, body = dav(server, "PUT", "calendar/never.ics", never)
    assert status == 403 and "max-instances" in body
    # A whole calendar PUT holds to it too; a sane event is stored as ever.
    whole = event("a", "FREQ=DAILY;COUNT=3").replace(
        "END:VCALENDAR", event("b", MONSTERS[0]).split("VERSION:2.0\r\n", 1)[1]
    )
    whole = whole.replace("END:VCALENDAR\r\nPRODID:-//t//t//EN\r\n", "")
    assert dav(server, "PUT", "calendar/", whole)[0] == 403
    assert dav(server, "PUT", "calendar/sane.ics", event("sane", "FREQ=DAILY"))[0] == 201


def test_reports_over_items_stored_before_the_limit_answer(server: Served) -> None:
    """Items stored as the code before the limit stored them (range computed by walking):
    a REPORT over any window answers at once; only their first instance counts."""
    calendars = server.services.calendars
    calendar = calendars.collection(f"{ALICE}/calendar")
    assert calendar is not None
    for number, rule in enumerate(MONSTERS):
        end = START + 3_000_000 if number == 0 else TIMESTAMP_MAX
        stored = NewItem(
            f"monster-{number}.ics",
            f"monster-{number}",
            f'"old-{number}"',
            "VEVENT",
            START,
            end,
            event(f"monster-{number}", rule),
        )
        calendars.put_item(calendar.id, stored, quiet=True)
    assert found(server, "20260203T000000Z", "20260204T000000Z") == []
    assert found(server, "20300101T000000Z", "20300102T000000Z") == []
    assert found(server, "20260101T000000Z", "20260101T000001Z") == [
        f"monster-{number}" for number in range(len(MONSTERS))
    ]
    status, body = dav(
        server, "REPORT", "calendar/", free_busy("20260203T000000Z", "20260204T000000Z")
    )
    assert status == 200 and "FREEBUSY:" not in body, body


def test_expansions_start_near_the_range_asked(server: Served) -> None:
    """A daily event since 1990, an hourly one since 2020: a week in 2030 expands to the
    week's instances (time-range filter, expand and free-busy), not to decades of them."""
    daily = event("daily", "FREQ=DAILY", "19900101T090000Z")
    hourly = event("hourly", "FREQ=HOURLY;INTERVAL=5", "20200101T000000Z")
    for name, text in (("daily", daily), ("hourly", hourly)):
        assert dav(server, "PUT", f"calendar/{name}.ics", text)[0] == 201
    assert found(server, "20300107T000000Z", "20300114T000000Z") == ["daily", "hourly"]
    expand = (
        '<C:calendar-data><C:expand start="20300107T000000Z" end="20300114T000000Z"/>'
        "</C:calendar-data>"
    )
    status, body = dav(
        server,
        "REPORT",
        "calendar/",
        query("20300107T000000Z", "20300114T000000Z", expand),
        Depth="1",
    )
    assert status == 207, body
    starts = [line for line in body.splitlines() if line.startswith("RECURRENCE-ID")]
    hours = 7 * 24 // 5
    assert len([s for s in starts if "T090000Z" in s]) >= 7  # a daily 09:00
    assert 7 + hours <= len(starts) <= 7 + hours + 2
    assert any(line == "RECURRENCE-ID:20300107T090000Z" for line in starts)
    status, body = dav(
        server, "REPORT", "calendar/", free_busy("20300107T000000Z", "20300108T000000Z")
    )
    assert status == 200 and "20300107T090000Z/20300107T090001Z" in body, body


def test_an_import_skips_items_over_the_limit_and_says_so(server: Served, tmp_path: Path) -> None:
    folder = tmp_path / "radicale" / "collection-root" / ALICE / "old"
    folder.mkdir(parents=True)
    folder.joinpath(".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}))
    folder.joinpath("monster.ics").write_text(event("monster", MONSTERS[1]))
    folder.joinpath("weekly.ics").write_text(event("weekly", "FREQ=WEEKLY;COUNT=10"))
    said: list[str] = []
    progress = import_radicale(server.services, tmp_path / "radicale", said.append)
    assert (progress.added, progress.refused) == (1, 1)
    assert any("monster.ics: refused, too many recurrences" in line for line in said), said
    old = server.services.calendars.collection(f"{ALICE}/old")
    assert old is not None
    assert [item.uid for item in server.services.calendars.items(old.id)] == ["weekly"]


def test_a_range_at_the_edge_of_time_is_a_bad_request(server: Served) -> None:
    """An expansion from the year 1 overflowed in Radicale (500): now 400; free-busy from
    then answers."""
    assert dav(server, "PUT", "calendar/daily.ics", event("daily", "FREQ=DAILY"))[0] == 201
    expand = (
        '<C:calendar-data><C:expand start="00010101T000000Z" end="20260201T000000Z"/>'
        "</C:calendar-data>"
    )
    everything = query("00010101T000000Z", "20260201T000000Z", expand)
    assert dav(server, "REPORT", "calendar/", everything, Depth="1")[0] == 400
    since_year_1 = free_busy("00010101T000000Z", "20260102T000000Z")
    status, body = dav(server, "REPORT", "calendar/", since_year_1)
    assert status == 200 and "BUSY:20260101T000000Z/20260101T000001Z" in body, body
    assert found(server, "20260101T000000Z", "20260102T000000Z") == ["daily"]
