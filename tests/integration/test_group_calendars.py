"""Group calendars end with their group: removing a group removes its calendars (items,
tombstones and shares with them), and a new group of the same name starts with nothing of
the old one's, over CalDAV (real HTTP) and through the services."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator

import pytest

from groupware.services.core.access import SYSTEM
from tests.conftest import Served

PASSWORD = "Calendar-pass-1"
ANN, BEN, CARL = "ann@example.test", "ben@example.test", "carl@example.test"
TEAM = "+team@example.test"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
    "SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture
def dav(web_server: Served) -> Iterator[Served]:
    for address in (ANN, BEN, CARL):
        web_server.services.directory.add_user(SYSTEM, address, PASSWORD)
    yield web_server


def request(served: Served, user: str, method: str, path: str, body: str = "") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.ports["http"], timeout=30)
    auth = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth, "Depth": "1", "Content-Type": "text/calendar"}
    connection.request(method, f"/dav/{path}", body=body.encode(), headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def group_calendars(served: Served, user: str) -> list[str]:
    return [v.collection for v in served.services.sharing.visible_to(user)]


def test_a_new_group_of_the_same_name_reads_nothing_of_the_old_one(dav: Served) -> None:
    services = dav.services
    services.groups.add(SYSTEM, "team", domain="example.test", members=[ANN])
    props = {"tag": "VCALENDAR", "title": "Rota"}
    rota = services.sharing.create_group_collection(SYSTEM, "team@example.test", "rota", props)
    (view,) = services.sharing.visible_to(ANN)
    assert (
        request(dav, ANN, "PUT", f"{view.path}/shift.ics", EVENT.format(uid="s", summary="Shift"))[
            0
        ]
        == 201
    )
    assert request(dav, ANN, "DELETE", f"{view.path}/shift.ics")[0] in (200, 204)  # a tombstone
    secret = EVENT.format(uid="plan", summary="Secret plan")
    assert request(dav, ANN, "PUT", f"{view.path}/plan.ics", secret)[0] == 201
    carl = services.calendars.principal_of(CARL)
    assert carl is not None
    request(dav, CARL, "PROPFIND", f"{CARL}/")  # Carl's home and calendar
    services.sharing.share(carl, f"{CARL}/calendar", TEAM, "read")  # a share with the group
    assert sorted(group_calendars(dav, ANN)) == sorted([f"{CARL}/calendar", rota])

    services.groups.remove(SYSTEM, "team", domain="example.test")
    services.groups.add(SYSTEM, "team", domain="example.test", members=[BEN])
    status, home = request(dav, BEN, "PROPFIND", f"{BEN}/")
    assert status == 207 and "Rota" not in home and "Calendar (carl" not in home
    old_view = f"{BEN}/{view.path.split('/', 1)[1]}"
    assert request(dav, BEN, "GET", f"{old_view}/plan.ics")[0] in (403, 404)
    assert request(dav, BEN, "GET", f"{rota}/plan.ics")[0] in (403, 404)
    assert group_calendars(dav, BEN) == []  # neither the old calendar nor the old share
    assert group_calendars(dav, ANN) == []
    # Gone, with its items and tombstones (and their shares), in the removal.
    assert services.calendars.collection(rota) is None
    assert services.calendars.collection(TEAM) is None
    # A calendar the new group makes under the old name starts empty.
    again = services.sharing.create_group_collection(SYSTEM, "team@example.test", "rota", props)
    (new_view,) = services.sharing.visible_to(BEN)
    status, listing = request(dav, BEN, "PROPFIND", f"{new_view.path}/")
    assert again == rota and status == 207 and "plan.ics" not in listing


def test_a_group_made_again_finds_no_calendar_left_from_before(dav: Served) -> None:
    """Calendars left under a group's name by a removal before this rule (or made while it
    was being removed) are not handed to a new group of that name."""
    services = dav.services
    services.calendars.create_collection(TEAM, {})
    services.calendars.create_collection(f"{TEAM}/left", {"tag": "VCALENDAR"})
    services.groups.add(SYSTEM, "team", domain="example.test", members=[BEN])
    assert group_calendars(dav, BEN) == []
    assert services.calendars.collection(f"{TEAM}/left") is None
