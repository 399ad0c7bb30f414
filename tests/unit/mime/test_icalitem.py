"""icalitem.describe_text: the stored facts of a calendar object or vCard, and ValueError
(nothing else, and soon) for text that is not one. Scheduling stores what it wrote from
mail through it; the broken texts below are what fuzzing found (tests/fuzz/corpus)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vobject import base as vobject_base

from groupware.dav import patches
from groupware.mime import imip
from groupware.mime.icalitem import describe_text

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
TAIL = "END:VCALENDAR\r\n"


def test_facts_of_an_event_and_of_a_card() -> None:
    event = HEAD + (
        "BEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\n"
        "DTEND:20261210T110000Z\r\nEND:VEVENT\r\n"
    )
    facts = describe_text("alice@example.test/calendar", event + TAIL)
    assert (facts.uid, facts.component) == ("e1", "VEVENT")
    assert facts.end_ts - facts.start_ts == 3600
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol\r\nEND:VCARD\r\n"
    assert describe_text("alice@example.test/contacts", card).uid == "c1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a calendar",
        HEAD + "BEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\n",  # never closed
        # Radicale's time-range walk raised TypeError on these dates:
        HEAD + "BEGIN:VTODO\r\nUID:t\r\nDUE;VALUE=X:P1D\r\nEND:VTODO\r\n" + TAIL,
        HEAD + "BEGIN:VEVENT\r\nUID:e\r\nDTSTART:\r\nEND:VEVENT\r\n" + TAIL,
        HEAD + "BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20261210T100000Z\r\nDTEND:20261210\r\n"
        "END:VEVENT\r\n" + TAIL,
        # ... and AttributeError on this one, as iTIP rewrote it for an attendee:
        imip.without_method(
            "BEGIN:VCALENDAR\n-:\nBEGIN:\x00\nEND:\nBEGIN:VEVENT\nORGANIZER:\nEND:\nEND:"
        ),
    ],
)
def test_text_that_is_no_object_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not one calendar object or vCard"):
        describe_text("alice@example.test/calendar", text)


def test_a_line_of_many_commas_is_read_in_bounded_time() -> None:
    """Found fuzzing: vobject's line expression backtracked exponentially over a
    parameter list of empty values (30 commas: minutes; this one: days)."""
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nEMAIL;TYPE" + "," * 40 + "x\r\nEND:VCARD\r\n"
    started = time.monotonic()
    with pytest.raises(ValueError):
        describe_text("alice@example.test/contacts", card)
    assert time.monotonic() - started < 10  # did not hang


ORIGINAL_LINE = re.compile(vobject_base.patterns["line"], re.DOTALL | re.VERBOSE)
PIECES = ["A", "b-1", ".", ";", "=", ",", '"', ":", "x", " ", "\t", "\r\n", "\x00", "é"]
PIECES += [";Y=", '"a;b:c"', '";"', '"="', "=="]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14).map("".join))
def test_lines_are_read_as_vobject_read_them(line: str) -> None:
    """The linear expression matches the lines vobject's matched, with the same groups
    (lines short enough for the original to finish)."""
    patches.install()
    before, after = ORIGINAL_LINE.match(line), vobject_base.line_re.match(line)
    assert (before and before.groupdict()) == (after and after.groupdict())
