"""The recurrence limit (mime/recurrence.py): which recurrence sets pass, walks that stay
bounded, and the property that a walk begun near a time range finds in it exactly the
instances a walk from DTSTART finds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import vobject
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from groupware.mime import recurrence
from groupware.mime.recurrence import MAX_INSTANCES, TooManyInstances

BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def calendar(lines: str, start: str = "DTSTART:20260105T090000Z") -> Any:
    return vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        f"{BERLIN}BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\n{start}\r\n"
        f"DURATION:PT1H\r\n{lines}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def many_dates(count: int) -> str:
    first = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return ",".join(f"{first + timedelta(hours=i):%Y%m%dT%H%M%SZ}" for i in range(count))


ACCEPTED = [
    "RRULE:FREQ=WEEKLY;COUNT=10",
    "RRULE:FREQ=DAILY",  # no end: 366 a year
    "RRULE:FREQ=HOURLY",  # no end: 8,784 a year
    "RRULE:FREQ=MINUTELY;INTERVAL=90",
    f"RRULE:FREQ=DAILY;COUNT={MAX_INSTANCES}",
    "RRULE:FREQ=SECONDLY;COUNT=60",
    "RRULE:FREQ=DAILY;UNTIL=20500101T000000Z",
    "RRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",  # Friday the 13th
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",  # every 28 years or so
    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\nEXDATE:20260107T090000Z\r\nRDATE:20260110T090000Z",
    f"RDATE:{many_dates(MAX_INSTANCES)}",
]

REFUSED = [
    ("RRULE:FREQ=SECONDLY;COUNT=3000000", "3000000 instances"),
    ("RRULE:FREQ=SECONDLY;COUNT=2147483647", "2147483647 instances"),
    ("RRULE:FREQ=SECONDLY", "no end"),
    ("RRULE:FREQ=MINUTELY", "no end"),
    ("RRULE:FREQ=MINUTELY;UNTIL=20270101T000000Z", "instances"),
    (f"RRULE:FREQ=DAILY;COUNT={MAX_INSTANCES + 1}", "instances"),
    (  # 12 months of 10 days of 10 hours, for 14 years
        "RRULE:FREQ=YEARLY;UNTIL=20400101T000000Z;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10;"
        "BYHOUR=0,1,2,3,4,5,6,7,8,9",
        "instances",
    ),
    ("RRULE:FREQ=MINUTELY;BYHOUR=1;COUNT=5", "BYHOUR"),
    ("RRULE:FREQ=SECONDLY;BYMINUTE=1;COUNT=5", "BYMINUTE"),
    ("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "not found within"),  # never
    ("RRULE:FREQ=MONTHLY;COUNT=2;BYMONTH=4;BYMONTHDAY=31", "not found within"),
    ("RRULE:FREQ=DAILY;COUNT=6000\r\nRRULE:FREQ=WEEKLY;COUNT=6000", "together"),
    ("EXRULE:FREQ=SECONDLY\r\nRRULE:FREQ=DAILY", "no end"),
    (f"RDATE:{many_dates(MAX_INSTANCES + 1)}", "RDATE"),
]


@pytest.mark.parametrize("lines", ACCEPTED)
def test_sets_within_the_limit_pass(lines: str) -> None:
    recurrence.check(calendar(lines))


@pytest.mark.parametrize(("lines", "why"), REFUSED)
def test_sets_over_the_limit_are_refused_quickly(lines: str, why: str) -> None:
    began = time.monotonic()
    with pytest.raises(TooManyInstances, match=why):
        recurrence.check(calendar(lines))
    assert time.monotonic() - began < 60  # did not walk millions of instances


def test_an_unreadable_rule_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unreadable"):
        recurrence.check(calendar("RRULE:FREQ=FORTNIGHTLY"))


def test_a_stored_rule_over_the_limit_counts_only_its_first_instance() -> None:
    """Stored before the limit: walked not at all, only DTSTART stays (no instance lost
    from the start of the series, and no REPORT walks three million of them)."""
    recurrence.install()
    event = calendar("RRULE:FREQ=SECONDLY;COUNT=3000000").vevent
    first = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert list(event.getrruleset(addRDate=True)) == [first]
    with recurrence.expanding_from(datetime(2026, 1, 20, tzinfo=UTC)):
        assert list(event.rruleset) == [first]


def test_every_walk_stops_within_its_steps() -> None:
    recurrence.install()
    never = calendar("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30").vevent
    assert list(never.getrruleset()) == []  # the budget ends it (else: every day to 9999)
    dense = calendar("RRULE:FREQ=YEARLY;BYYEARDAY=1,2,3,4,5,6,7,8,9,10;BYHOUR=1,2,3").vevent
    assert len(list(dense.getrruleset())) <= recurrence.MAX_STEPS


# -- a walk begun near a range ------------------------------------------------------------

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
FREQUENCIES = ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(FREQUENCIES))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 4))}"]
    if draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    if freq != "WEEKLY" and draw(st.booleans()):
        days = st.integers(-3, 31).filter(bool)
        monthdays = draw(st.lists(days, min_size=1, max_size=4, unique=True))
        parts.append("BYMONTHDAY=" + ",".join(map(str, monthdays)))
    if draw(st.booleans()):
        weekdays = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            weekdays = [f"{draw(st.sampled_from([1, 2, -1]))}{d}" for d in weekdays]
        parts.append("BYDAY=" + ",".join(weekdays))
    if freq != "HOURLY" and draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, 2, -1]))}")
    if draw(st.booleans()):
        parts.append("UNTIL=20290101T000000Z")
    return ";".join(parts)


@st.composite
def starts(draw: st.DrawFn) -> str:
    day = draw(st.dates(date(2025, 1, 1), date(2025, 12, 31)))
    moment = f"{day:%Y%m%d}T{draw(st.integers(0, 23)):02d}{draw(st.sampled_from([0, 30])):02d}00"
    form = draw(st.sampled_from(["utc", "berlin", "floating", "date"]))
    return {
        "utc": f"DTSTART:{moment}Z",
        "berlin": f"DTSTART;TZID=Europe/Berlin:{moment}",
        "floating": f"DTSTART:{moment}",
        "date": f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
    }[form]


@contextmanager
def unbounded() -> Iterator[None]:
    kept = recurrence.MAX_STEPS
    recurrence.MAX_STEPS = 10**9
    try:
        yield
    finally:
        recurrence.MAX_STEPS = kept


def in_range(instances: Any, start: datetime, end: datetime) -> list[datetime]:
    found = []
    for instance in instances:
        moment = instance if instance.tzinfo else instance.replace(tzinfo=UTC)
        if moment >= end:
            break
        if moment >= start:
            found.append(instance)
    return found


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=rules(),
    start=starts(),
    offset=st.integers(0, 700),
    length=st.sampled_from([1, 7, 31, 200]),
)
def test_a_walk_begun_near_a_range_finds_the_same_instances(
    rule: str, start: str, offset: int, length: int
) -> None:
    recurrence.install()
    try:
        event = calendar(f"RRULE:{rule}", start).vevent
        whole = event.getrruleset(addRDate=True)
    except ValueError:
        assume(False)  # a combination dateutil refuses (an empty rule)
    assume(all(recurrence.refusal(r) is None for r in whole._rrule))
    begin = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=offset)
    end = begin + timedelta(days=length)
    with recurrence.expanding_from(begin):
        near = event.getrruleset(addRDate=True)
    with unbounded():
        expected = in_range(whole, begin - timedelta(hours=1), end)  # DURATION:PT1H
    assert in_range(near, begin - timedelta(hours=1), end) == expected


def test_a_time_zone_is_held_to_the_limit_too() -> None:
    """Converting a time walks the rules of its VTIMEZONE (from 1970 here)."""
    recurrence.install()  # before parsing, which converts times already
    began = time.monotonic()
    runaway = vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        + BERLIN.replace("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "RRULE:FREQ=SECONDLY")
        + "BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\n"
        "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(TooManyInstances, match="VTIMEZONE 'Europe/Berlin' DAYLIGHT"):
        recurrence.check(runaway)
    assert time.monotonic() - began < 60
