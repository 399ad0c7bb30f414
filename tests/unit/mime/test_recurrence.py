"""The recurrence limit (mime/recurrence.py): which recurrence sets pass, which are refused
(at once). Table-driven."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import vobject

from groupware.dav import patches
from groupware.mime import recurrence
from groupware.mime.recurrence import MAX_DATES, MAX_INSTANCES, MAX_RULES, TooManyInstances
from tests.unit.mime import BERLIN, calendar


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
    f"RDATE:{many_dates(MAX_DATES)}",
    "RRULE:FREQ=YEARLY;COUNT=100;BYMONTH=2;BYMONTHDAY=29",  # a leap-day birthday
    "RRULE:FREQ=MONTHLY;COUNT=5000;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",  # last weekday
    "RRULE:FREQ=DAILY;COUNT=1000\r\n" * MAX_RULES,
    "RRULE:FREQ=SECONDLY;INTERVAL=31622400",  # a year, in seconds
]

SECONDS = ",".join(str(second) for second in range(60))
NEVER = "BYMONTH=2;BYMONTHDAY=30"  # the 30th of February

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
    (f"RDATE:{many_dates(MAX_DATES + 1)}", "RDATE"),
    (f"RRULE:FREQ=DAILY\r\nEXDATE:{many_dates(MAX_DATES + 1)}", "EXDATE"),
    # Overflowed the walk begun near a range (every later REPORT answered 500).
    ("RRULE:FREQ=SECONDLY;INTERVAL=999999999999999999999", "INTERVAL"),
    ("RRULE:FREQ=YEARLY;INTERVAL=10001", "INTERVAL"),
    ("RRULE:FREQ=DAILY;COUNT=10\r\n" * (MAX_RULES + 1), "RRULE and EXRULE"),
    (f"RRULE:FREQ=DAILY;COUNT=5;BYHOUR=0,1;BYMINUTE={SECONDS};BYSECOND={SECONDS}", "a day"),
    # Never matching, each costlier a day than it looks: a minute's 1,200 times built for
    # each day walked (60 s to refuse before the work was counted), 366 positions tried
    # on each day of a year, BYWEEKNO's masks laid out each year.
    (
        f"RRULE:FREQ=HOURLY;COUNT=10;{NEVER};BYMINUTE={SECONDS};BYSECOND=0,1,2,3,4,5,6,7,8,9,"
        "10,11,12,13,14,15,16,17,18,19",
        "not found within",
    ),
    (
        f"RRULE:FREQ=YEARLY;COUNT=10;{NEVER};BYSETPOS=" + ",".join(map(str, range(1, 367))),
        "not found within",
    ),
    (
        f"RRULE:FREQ=YEARLY;COUNT=10;{NEVER};BYWEEKNO=" + ",".join(map(str, range(1, 54))),
        "not found within",
    ),
    # dateutil's IndexError laying it out (it was a 500 on PUT).
    ("RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=53MO;COUNT=3", "not found within"),
    # Eight rules that never match share the work one may do.
    (f"RRULE:FREQ=YEARLY;COUNT=1;{NEVER};BYHOUR=1\r\n" * MAX_RULES, "not found within"),
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


def test_a_time_zone_is_held_to_the_limit_too() -> None:
    """Converting a time walks the rules of its VTIMEZONE (from 1970 here)."""
    patches.install()  # before parsing, which converts times already
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
