"""Bounded walks (mime/expansion.py): rules stored over the limit are not walked, every
walk stops within its steps, and the property that a walk begun near a time range finds
in it exactly the instances a walk from DTSTART finds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from groupware.dav import patches
from groupware.mime import expansion, recurrence
from tests.unit.mime import calendar


def test_a_stored_rule_over_the_limit_counts_only_its_first_instance() -> None:
    """Stored before the limit: walked not at all, only DTSTART stays (no instance lost
    from the start of the series, and no REPORT walks three million of them)."""
    patches.install()
    event = calendar("RRULE:FREQ=SECONDLY;COUNT=3000000").vevent
    first = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert list(event.getrruleset(addRDate=True)) == [first]
    with expansion.expanding_from(datetime(2026, 1, 20, tzinfo=UTC)):
        assert list(event.rruleset) == [first]


def test_every_walk_stops_within_its_steps() -> None:
    patches.install()
    never = calendar("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30").vevent
    assert list(never.getrruleset()) == []  # the budget ends it (else: every day to 9999)
    dense = calendar("RRULE:FREQ=YEARLY;BYYEARDAY=1,2,3,4,5,6,7,8,9,10;BYHOUR=1,2,3").vevent
    assert len(list(dense.getrruleset())) <= expansion.MAX_WORK


def test_a_rule_dateutil_cannot_lay_out_has_no_instances() -> None:
    """Stored before the limit refused it: its walk ends (was an IndexError, a 500)."""
    patches.install()
    event = calendar("RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=53MO").vevent
    assert list(event.getrruleset(addRDate=True)) == []


def test_the_rules_of_one_set_share_the_work_one_walk_may_do(monkeypatch: Any) -> None:
    """Each rule alone is walked to its end; two of them in one set run out together, so
    an item costs the same whether it has one rule or eight."""
    patches.install()
    two = calendar("RRULE:FREQ=DAILY;COUNT=100\r\nRRULE:FREQ=WEEKLY;COUNT=100").vevent
    a_day = expansion.WORK["period"] + 1 + expansion.WORK["instance"]  # of the daily rule
    monkeypatch.setattr(expansion, "MAX_WORK", 150 * a_day)
    alone = [list(rule) for rule in two.getrruleset()._rrule]
    assert [len(instances) for instances in alone] == [100, 100]
    with expansion.watching() as cuts:
        together = list(two.getrruleset())
    assert cuts and len(together) < 150


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
    kept = expansion.MAX_WORK
    expansion.MAX_WORK = 10**9
    try:
        yield
    finally:
        expansion.MAX_WORK = kept


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
    patches.install()
    try:
        event = calendar(f"RRULE:{rule}", start).vevent
        whole = event.getrruleset(addRDate=True)
    except ValueError:
        assume(False)  # a combination dateutil refuses (an empty rule)
    assume(all(recurrence.refusal(r) is None for r in whole._rrule))
    begin = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=offset)
    end = begin + timedelta(days=length)
    with expansion.expanding_from(begin):
        near = event.getrruleset(addRDate=True)
    with unbounded():
        expected = in_range(whole, begin - timedelta(hours=1), end)  # DURATION:PT1H
    assert in_range(near, begin - timedelta(hours=1), end) == expected
