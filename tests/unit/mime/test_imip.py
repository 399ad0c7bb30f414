"""iTIP on iCalendar text (mime/imip.py): what is read, what each method writes, and bad
input refused with NotScheduling only."""

from __future__ import annotations

import contextlib
import email
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mime import imip

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nSEQUENCE:2\r\n"
    "SUMMARY:Planning\r\nORGANIZER;CN=Alice:mailto:Alice@Example.ORG\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.org\r\n"
    "ATTENDEE;RSVP=TRUE:MAILTO:bob@example.org\r\n"
    "ATTENDEE;PARTSTAT=TENTATIVE:mailto:carol@example.net\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20261217T100000Z\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20261217T120000Z\r\nORGANIZER:mailto:alice@example.org\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_read_takes_the_master_and_normalises_addresses() -> None:
    facts = imip.read(EVENT)
    assert facts.uid == "u1" and facts.organizer == "alice@example.org"
    assert facts.attendees == {
        "alice@example.org": "ACCEPTED",
        "bob@example.org": "NEEDS-ACTION",  # RFC 5545 §3.2.12: the default
        "carol@example.net": "TENTATIVE",
    }
    assert facts.sequence == 2 and facts.summary == "Planning" and facts.method == ""


def test_schedule_agent_client_or_none_is_read() -> None:
    assert imip.read(EVENT).by_client == frozenset()
    marked = EVENT.replace("ATTENDEE;RSVP=TRUE:", "ATTENDEE;SCHEDULE-AGENT=client;RSVP=TRUE:")
    marked = marked.replace("ORGANIZER;CN=Alice:", "ORGANIZER;CN=Alice;SCHEDULE-AGENT=NONE:")
    marked = marked.replace("PARTSTAT=TENTATIVE:", "PARTSTAT=TENTATIVE;SCHEDULE-AGENT=SERVER:")
    assert imip.read(marked).by_client == {"bob@example.org", "alice@example.org"}
    # Never sent on, nor kept in a copy made from an iTIP message (RFC 6638 §7.1).
    marked = marked.replace("ACCEPTED:mailto:alice", "ACCEPTED;SCHEDULE-STATUS=1.2:mailto:alice")
    for text in (
        imip.with_method(marked, "REQUEST"),
        imip.cancelled(marked),
        imip.reply(marked, "bob@example.org"),
        imip.without_method(imip.with_method(marked, "REQUEST")),
    ):
        assert "SCHEDULE-" not in text
        assert imip.read(text).by_client == frozenset()


def test_partstat_is_set_in_every_component_and_rsvp_dropped() -> None:
    text = imip.set_partstat(EVENT, "bob@example.org", "ACCEPTED")
    assert imip.read(text).attendees["bob@example.org"] == "ACCEPTED"
    assert text.count("PARTSTAT=ACCEPTED") == 3 and "RSVP" not in text


def test_reply_keeps_only_the_replying_attendee() -> None:
    reply = imip.reply(
        imip.set_partstat(EVENT, "carol@example.net", "DECLINED"), "carol@example.net"
    )
    facts = imip.read(reply)
    assert facts.method == "REPLY" and facts.attendees == {"carol@example.net": "DECLINED"}


def test_cancel_marks_cancelled_with_a_higher_sequence() -> None:
    cancel = imip.cancelled(EVENT)
    facts = imip.read(cancel)
    assert facts.method == "CANCEL" and facts.sequence == 3 and "STATUS:CANCELLED" in cancel
    assert "METHOD" not in imip.without_method(cancel)


def test_compose_is_a_mail_with_the_calendar_and_its_method() -> None:
    body = imip.with_method(EVENT, "REQUEST")
    data = imip.compose(
        method="REQUEST",
        sender="alice@example.org",
        sender_name="Alice",
        to="carol@example.net",
        body=body,
        facts=imip.read(body),
    )
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["Subject"] == "Invitation: Planning"
    parts = {p.get_content_type(): p for p in message.walk()}
    calendar = parts["text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert imip.read(calendar.get_content()).method == "REQUEST"
    assert all(len(line) <= 998 for line in data.split(b"\r\n")) and data.isascii()


def test_compose_writes_only_addresses_a_header_can_carry() -> None:
    """Found by fuzzing: an attendee's address is calendar text, and went into To: as it
    was (UnicodeEncodeError, or a line break starting a field of the sender's choice)."""
    facts = imip.read(EVENT)
    kwargs = {"method": "REQUEST", "sender": "alice@example.org", "sender_name": ""}
    data = imip.compose(**kwargs, to="bob@bücher.example", body=EVENT, facts=facts)
    assert b"\r\nTo: <bob@xn--bcher-kva.example>\r\n" in data  # RFC 5890 A-labels
    for address in ("jörg@example.org", "a@b\nBcc: victim@example.net", "a@b>", "a b@c", "x"):
        with pytest.raises(ValueError, match="cannot write the address"):
            imip.compose(**kwargs, to=address, body=EVENT, facts=facts)
    odd = imip.read(EVENT.replace("SUMMARY:Planning", "SUMMARY:Plan\x01ning"))
    data = imip.compose(**kwargs, to="bob@example.org", body=EVENT, facts=odd)
    assert b"Subject: =?utf-8?" in data and b"\x01" not in data  # RFC 2047, not raw


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a calendar",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        EVENT[: len(EVENT) // 2],
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n",
        EVENT.replace("SEQUENCE:2", "SEQUENCE:" + "9" * 5000),
        # found fuzzing: read() took it, then cancelled() refused the override's SEQUENCE
        EVENT.replace("RECURRENCE-ID:", "SEQUENCE:x\r\nRECURRENCE-ID:"),
    ],
)
def test_bad_input_is_not_scheduling(text: str) -> None:
    with pytest.raises(imip.NotScheduling):
        imip.read(text)


@given(st.lists(st.sampled_from(EVENT.split("\r\n")) | st.text(max_size=30), max_size=25))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_or_is_not_scheduling(lines: list[str]) -> None:
    with contextlib.suppress(imip.NotScheduling):
        imip.read("\r\n".join(lines))


def test_faster_timezones_keeps_radicale_time_ranges() -> None:
    """The vobject shortcut (dav/patches.py) changes no time range: checked on zones
    with and without DST, a UTC-named zone, and a recurring event."""
    from vobject import icalendar as vobject_icalendar

    from groupware.dav import patches
    from groupware.mime import icalitem

    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n"
        "TZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;"
        "BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;"
        "BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    )
    flat = (
        "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0000\r\n"
        "TZOFFSETTO:+0000\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    cases = []
    for n, (tzid, body) in enumerate(
        [("Europe/Berlin", zone), ("W. Europe Standard Time", zone), ("UTC", flat)]
    ):
        for rule in ("", "RRULE:FREQ=WEEKLY;COUNT=10\r\n"):
            cases.append(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                + body.format(tzid=tzid)
                + f"BEGIN:VEVENT\r\nUID:tz{n}{len(rule)}\r\nDTSTAMP:20260101T000000Z\r\n"
                f"DTSTART;TZID={tzid}:20260328T230000\r\nDTEND;TZID={tzid}:20260329T030000\r\n"
                f"{rule}SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
    patches.install()
    after = [icalitem.describe_text("a/b", text) for text in cases]
    shortcut = vobject_icalendar.TimezoneComponent.pickTzid
    vobject_icalendar.TimezoneComponent.pickTzid = staticmethod(patches.originals["pickTzid"])
    try:
        before = [icalitem.describe_text("a/b", text) for text in cases]
    finally:
        vobject_icalendar.TimezoneComponent.pickTzid = staticmethod(shortcut)
    assert [(f.start_ts, f.end_ts) for f in after] == [(f.start_ts, f.end_ts) for f in before]
