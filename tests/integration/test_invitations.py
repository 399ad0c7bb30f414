"""Invitations (iMIP) end to end over real sockets, between two instances: an organizer
on example.org invites a colleague there and someone on example.net (another server, by
SMTP); answers come back from the colleague's own calendar and, by mail, from the other
server; cancelling reaches both."""

from __future__ import annotations

import base64
import dataclasses
import http.client
from contextlib import ExitStack

from groupware.config import Endpoint
from groupware.mime import imip
from groupware.services.core.access import SYSTEM
from tests.conftest import Served, serving
from tests.integration.test_outbound import PASSWORD, inbox, pair, publish, wait_for

__all__ = ["pair"]  # the fixture

ORGANIZER, COLLEAGUE, OUTSIDER = "user@example.org", "bob@example.org", "user@example.net"
EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//tests//groupware//EN\r
BEGIN:VEVENT\r
UID:meeting-1\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261210T100000Z\r
DTEND:20261210T110000Z\r
SEQUENCE:{sequence}\r
SUMMARY:Planning\r
ORGANIZER:mailto:user@example.org\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:user@example.org\r
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:user@example.net\r
END:VEVENT\r
END:VCALENDAR\r
"""


def dav(served: Served, user: str, method: str, path: str, body: str = "") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.ports["http"], timeout=30)
    auth = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "text/calendar"}
    connection.request(method, path, body=body.encode(), headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def copy_of(served: Served, user: str) -> tuple[str, str] | None:
    """(href, text) of the meeting in the user's calendars."""
    found = served.services.calendars.find_uid(user, "meeting-1")
    return (found[1].href, found[1].text) if found is not None else None


def partstat(text: str, who: str) -> str:
    return imip.read(text).attendees[who]


def test_invitation_round_trip_local_and_to_another_server(pair: dict) -> None:
    for name in ("org", "net"):
        listen = dataclasses.replace(pair[name].listen, http=Endpoint("127.0.0.1", 0))
        pair[name] = dataclasses.replace(pair[name], listen=listen)
    with ExitStack() as stack:
        org = stack.enter_context(serving(pair["org"]))
        net = stack.enter_context(serving(pair["net"]))
        publish(org, "example.org")
        publish(net, "example.net")
        org.services.directory.add_user(SYSTEM, COLLEAGUE, PASSWORD)
        for served, user in ((org, ORGANIZER), (org, COLLEAGUE), (net, OUTSIDER)):
            assert dav(served, user, "PROPFIND", f"/dav/{user}/")[0] == 207  # homes made

        # The organizer saves the meeting: both attendees are invited.
        path = f"/dav/{ORGANIZER}/calendar/meeting-1.ics"
        assert dav(org, ORGANIZER, "PUT", path, EVENT.format(sequence=0))[0] == 201
        local = copy_of(org, COLLEAGUE)
        assert local is not None and partstat(local[1], COLLEAGUE) == "NEEDS-ACTION"
        assert "METHOD" not in local[1]
        (mail,) = inbox(org, COLLEAGUE)
        assert b"text/calendar; charset=utf-8; method=REQUEST" in mail
        wait_for(lambda: len(inbox(net, OUTSIDER)) == 1)
        wait_for(lambda: copy_of(net, OUTSIDER) is not None)  # placed by the other server

        # The colleague accepts in their own calendar: the organizer's copy says so.
        href, text = local
        accepted = imip.set_partstat(text, COLLEAGUE, "ACCEPTED")
        status = dav(org, COLLEAGUE, "PUT", f"/dav/{COLLEAGUE}/calendar/{href}", accepted)[0]
        assert status in (201, 204)
        mine = copy_of(org, ORGANIZER)
        assert mine is not None and partstat(mine[1], COLLEAGUE) == "ACCEPTED"

        # The outsider declines on the other server: the REPLY comes back by mail.
        remote = copy_of(net, OUTSIDER)
        assert remote is not None
        declined = imip.set_partstat(remote[1], OUTSIDER, "DECLINED")
        put = dav(net, OUTSIDER, "PUT", f"/dav/{OUTSIDER}/calendar/{remote[0]}", declined)
        assert put[0] in (201, 204)

        def declined_at_home() -> bool:
            copy = copy_of(org, ORGANIZER)
            return copy is not None and partstat(copy[1], OUTSIDER) == "DECLINED"

        wait_for(declined_at_home)

        # Moving the meeting (SEQUENCE 1) asks again: the colleague's answer is reset.
        moved = EVENT.format(sequence=1).replace("20261210T1", "20261211T1")
        moved = moved.replace(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob", "PARTSTAT=ACCEPTED:mailto:bob"
        )
        assert dav(org, ORGANIZER, "PUT", path, moved)[0] in (201, 204)
        again = copy_of(org, COLLEAGUE)
        assert again is not None and "20261211T100000Z" in again[1]
        assert partstat(again[1], COLLEAGUE) == "NEEDS-ACTION"

        # Cancelling reaches both.
        assert dav(org, ORGANIZER, "DELETE", path)[0] in (200, 204)
        gone = copy_of(org, COLLEAGUE)
        assert gone is not None and "STATUS:CANCELLED" in gone[1]
        assert any(b"method=CANCEL" in m for m in inbox(org, COLLEAGUE))

        def cancelled_there() -> bool:
            copy = copy_of(net, OUTSIDER)
            return copy is not None and "STATUS:CANCELLED" in copy[1]

        wait_for(cancelled_there)
