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
