"""Rooms and equipment: made with `groupware resource add`, booked by inviting them from a
CalDAV client. A free room accepts at once (the organizer's copy says so); the same room
invited twice for the same hour declines the second, and the organizer is told why by
mail; a restricted room takes bookings only from holders of calendar.book; nobody logs
in as a room; a cancelled booking frees the room again."""

from __future__ import annotations

import email
import email.policy
import imaplib
from collections.abc import Iterator
from pathlib import Path

import caldav
import pytest

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.mime import imip
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, serving, with_listeners
from tests.integration.test_cli import Groupware, write_config

PASSWORD = "Calendar-pass-1"
ALICE, BOB = "alice@example.test", "bob@example.test"
ROOM, BOARDROOM = "room-1@example.test", "board@example.test"


@pytest.fixture
def booked(config: Config, tmp_path: Path) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    cli = Groupware(write_config(tmp_path, config.database_url))
    done = cli.run("resource", "add", ROOM, "--name", "Room 1", "--capacity", "8")
    assert done.code == 0, done.err
    assert "anyone may book it" in done.out
    restricted = cli.run("resource", "add", BOARDROOM, "--name", "Board room", "--restricted")
    assert restricted.code == 0, restricted.err
    listed = cli.run("resource", "list")
    assert "Room 1" in listed.out and "restricted" in listed.out
    with serving(with_listeners(config, http="on", imap="on")) as served:
        for address in (ALICE, BOB):
            served.services.directory.add_user(SYSTEM, address, PASSWORD)
        yield served


def invite(served: Served, organizer: str, uid: str, start: str, end: str, *rooms: str) -> None:
    client = caldav.DAVClient(url=served.base_url + "/dav/", username=organizer, password=PASSWORD)
    attendees = "".join(f"ATTENDEE;PARTSTAT=NEEDS-ACTION;CUTYPE=ROOM:mailto:{r}\r\n" for r in rooms)
    client.principal().calendar(name="Calendar").save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
        f"SUMMARY:Meeting {uid}\r\nORGANIZER:mailto:{organizer}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}\r\n{attendees}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def answers(served: Served, organizer: str, uid: str) -> dict[str, str]:
    found = served.services.calendars.find_uid(organizer, uid)
    assert found is not None
    return imip.read(found[1].text).attendees


def test_a_room_accepts_when_free_and_declines_a_double_booking(booked: Served) -> None:
    invite(booked, ALICE, "m-1", "20261214T090000Z", "20261214T100000Z", ROOM)
    assert answers(booked, ALICE, "m-1")[ROOM] == "ACCEPTED"
    # Bob wants the same room for an overlapping half hour: declined, and told why.
    invite(booked, BOB, "m-2", "20261214T093000Z", "20261214T103000Z", ROOM)
    assert answers(booked, BOB, "m-2")[ROOM] == "DECLINED"
    with imaplib.IMAP4("127.0.0.1", booked.ports["imap"]) as imap:
        imap.login(BOB, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, found = imap.search(None, "FROM", f'"{ROOM}"')
        [number] = found[0].split()
        _, data = imap.fetch(number, "(BODY[])")
    message = email.message_from_bytes(data[0][1], policy=email.policy.default)  # type: ignore[index,arg-type]
    said = message.get_body(("plain",))
    assert said is not None and "DECLINED" in said.get_content()
    assert "Room 1 is already booked at 2026-12-14 09:30 UTC" in said.get_content()
    # A later hour is free; the room's own calendar holds both bookings it took.
    invite(booked, BOB, "m-3", "20261214T100000Z", "20261214T110000Z", ROOM)
    assert answers(booked, BOB, "m-3")[ROOM] == "ACCEPTED"
    # Alice cancels hers: the hour is free again for Bob's next try.
    found = booked.services.calendars.find_uid(ALICE, "m-1")
    assert found is not None
    booked.services.calendars.delete_item(found[0].id, found[1].href, by=ALICE)
    invite(booked, BOB, "m-4", "20261214T090000Z", "20261214T093000Z", ROOM)
    assert answers(booked, BOB, "m-4")[ROOM] == "ACCEPTED"


def test_a_restricted_room_takes_only_those_allowed_and_nobody_logs_in_as_it(
    booked: Served,
) -> None:
    invite(booked, ALICE, "b-1", "20261215T090000Z", "20261215T100000Z", BOARDROOM)
    assert answers(booked, ALICE, "b-1")[BOARDROOM] == "DECLINED"
    services = booked.services
    services.roles.create(SYSTEM, "booker", ["calendar.book"])
    services.roles.grant(SYSTEM, "booker", user=BOB)
    invite(booked, BOB, "b-2", "20261215T090000Z", "20261215T100000Z", BOARDROOM)
    assert answers(booked, BOB, "b-2")[BOARDROOM] == "ACCEPTED"
    for password in ("", PASSWORD, "!resource"):
        with (
            imaplib.IMAP4("127.0.0.1", booked.ports["imap"]) as imap,
            pytest.raises(imaplib.IMAP4.error),
        ):
            imap.login(ROOM, password or "x")


def test_a_uid_taken_from_someone_elses_booking_changes_nothing(booked: Served) -> None:
    """Regression (attack report): Bob, knowing the UID of Alice's booking, invited the
    room under that UID as his own: the room declined Alice's booking (and mailed Bob
    her event). The room's copy of another organizer's event is left alone."""
    services = booked.services
    services.roles.create(SYSTEM, "booker", ["calendar.book"])
    services.roles.grant(SYSTEM, "booker", user=ALICE)
    invite(booked, ALICE, "a-board", "20261216T090000Z", "20261216T100000Z", BOARDROOM)
    assert answers(booked, ALICE, "a-board")[BOARDROOM] == "ACCEPTED"
    invite(booked, BOB, "a-board", "20261216T090000Z", "20261216T100000Z", BOARDROOM)
    found = services.calendars.find_uid(BOARDROOM, "a-board")
    assert found is not None
    kept = imip.read(found[1].text)
    assert kept.organizer == ALICE and kept.attendees[BOARDROOM] == "ACCEPTED"
    with imaplib.IMAP4("127.0.0.1", booked.ports["imap"]) as imap:
        imap.login(BOB, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, hits = imap.search(None, "FROM", f'"{BOARDROOM}"')
    assert hits[0] == b""  # Bob was told nothing, least of all about Alice's meeting


def test_over_long_or_repeated_bookings_are_declined_and_leave_no_hold(booked: Served) -> None:
    """Regression (attack report): an event of over a year left the room's copy
    undecided (busy-tentative over other bookings); a declined booking stayed in the
    room's calendar, where free/busy expanded it on every look-up."""
    invite(booked, BOB, "long-1", "20261201T000000Z", "20280101T000000Z", ROOM)
    assert answers(booked, BOB, "long-1")[ROOM] == "DECLINED"
    assert booked.services.calendars.find_uid(ROOM, "long-1") is None
    client = caldav.DAVClient(url=booked.base_url + "/dav/", username=BOB, password=PASSWORD)
    client.principal().calendar(name="Calendar").save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:many-1\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:20261220T090000Z\r\nDTEND:20261220T090100Z\r\n"
        "RRULE:FREQ=MINUTELY;INTERVAL=2;COUNT=9999\r\nSUMMARY:Hold\r\n"
        f"ORGANIZER:mailto:{BOB}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{BOB}\r\n"
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{ROOM}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert answers(booked, BOB, "many-1")[ROOM] == "DECLINED"
    assert booked.services.calendars.find_uid(ROOM, "many-1") is None
    invite(booked, ALICE, "after-1", "20261220T100000Z", "20261220T110000Z", ROOM)
    assert answers(booked, ALICE, "after-1")[ROOM] == "ACCEPTED"
