"""vobject's loops over one long line (mime/vobjectloops.py, put in by dav/patches.py): the
linear ones give what vobject's own give, on random input, and a huge folded property is
read in linear time."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vobject import base, icalendar

from groupware.dav import patches

patches.install()
ORIGINALS = patches.originals
# The characters each loop treats apart, and some that are not ASCII.
TEXT = st.text(alphabet=st.sampled_from('\\,;nN"a =\t\r\nQUOTED-PRINTABLEquoted-printableé€𝄞'))


@settings(max_examples=400)
@given(TEXT, st.integers(min_value=5, max_value=90))
def test_folding_is_vobjects(text: str, width: int) -> None:
    mine, theirs = io.StringIO(), io.StringIO()
    base.foldOneLine(mine, text, width)
    ORIGINALS["foldOneLine"](theirs, text, width)
    assert mine.getvalue() == theirs.getvalue()


@settings(max_examples=400)
@given(TEXT)
def test_logical_lines_are_vobjects(text: str) -> None:
    mine = list(base.getLogicalLines(io.StringIO(text)))
    assert mine == list(ORIGINALS["getLogicalLines"](io.StringIO(text)))


@settings(max_examples=400)
@given(TEXT, st.sampled_from([",", ";"]), st.sampled_from([None, ";", "\\;,Nn"]))
def test_text_values_are_vobjects(text: str, separator: str, escapable: str | None) -> None:
    mine = icalendar.stringToTextValues(text, separator, escapable)
    assert mine == ORIGINALS["stringToTextValues"](text, separator, escapable)


@pytest.mark.timeout(120)  # a hang guard: minutes at this size before
def test_a_huge_folded_property_reads_in_linear_time() -> None:
    """2.3 MB of DESCRIPTION folded over 32,000 lines: 15 s through a DAV PUT before
    (quadratic unfolding, then folding and unescaping a character at a time)."""
    folded = "DESCRIPTION:" + "\r\n ".join(["y\\, z" * 14] * 32_000)
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:big\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\n{folded}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar = base.readOne(text)
    assert calendar.vevent.description.value == "y, z" * 14 * 32_000
    assert len(calendar.serialize()) > len(text) * 0.9
