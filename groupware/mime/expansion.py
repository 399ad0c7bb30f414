"""Walks over recurrences, bounded: dateutil's (which vobject, and so Radicale, expands
with), once dav/patches.py has put these functions in its place for the process.

A walk pays for its work, in units of about 40 ns of dateutil (bench/recurrence.py
prints what the costliest rules take): WORK["period"] for each period it steps through,
one for each day of it looked at (and for each BYSETPOS position tried on them),
WORK["time"] for each time of a day it lists, WORK["year"] for each year it lays out
(more with BYWEEKNO), WORK["instance"] for each instance it finds. The walks of one rule set (an
item's RRULEs and EXRULEs, walked together) share MAX_WORK of it, so an item costs the
same whether it has one rule or many; a walk out of it stops. A rule the limit refuses
(mime/recurrence.py, stored before it) is not walked at all, only its DTSTART counts;
and inside `expanding_from(start)` a rule without COUNT begins at its last period before
`start` instead of at its DTSTART, which finds the same instances from there on.
`watching` tells whether a walk was cut. Another expanding library would get the same
treatment here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from vobject import icalendar as vobject_icalendar

# The work the walks of one rule set may do together: about 0.1 to 0.2 s, whatever the
# rules (the largest the limit lets through, 10,000 instances, costs about 1,200,000).
MAX_WORK = 3_000_000
# What each part of a walk costs, in units of about 40 ns (measured with dateutil 2.9).
WORK = {"period": 60, "time": 8, "year": 300, "weekno": 1_000, "instance": 50}
# The wall-clock length of one period of each frequency that has a fixed one.
FIXED_PERIODS = {
    dateutil_rrule.WEEKLY: timedelta(weeks=1),
    dateutil_rrule.DAILY: timedelta(days=1),
    dateutil_rrule.HOURLY: timedelta(hours=1),
    dateutil_rrule.MINUTELY: timedelta(minutes=1),
    dateutil_rrule.SECONDLY: timedelta(seconds=1),
}
# Floating and all-day times are read as UTC; the wall clock may be a day off either way.
_CLOCK_SLACK = timedelta(days=2)

_dateutil_iter = dateutil_rrule.rrule._iter
_dateutil_set_iter = dateutil_rrule.rruleset._iter
_vobject_getrruleset = vobject_icalendar.RecurringComponent.getrruleset
_steps_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expansion_steps_left", default=None
)
_cuts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expansion_cuts", default=None
)
_building: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expansion_building", default=None
)
_from: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "expansion_from", default=None
)
Refusal = Callable[[Any], "str | None"]  # why a rule is over the limit, or None
_refused: list[Refusal] = []  # the limit's, once installed


class _Exhausted(Exception):
    """A walk out of steps (raised inside dateutil's loop, caught by the walk)."""


def rules_of(component: Any) -> Any:
    """vobject's rule set of a component (or None) as written: built, nothing walked."""
    return _vobject_getrruleset(component, False)


def utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def limit_with(refusal: Refusal) -> None:
    """Drop the rules `refusal` refuses (mime/recurrence.py's limit) from every walk."""
    if not _refused:
        _refused.append(refusal)


def bounding() -> bool:
    """Are the walks of this process bounded (dav/patches.py installed)?"""
    return dateutil_rrule.rrule._iter is bounded_iter and bool(_refused)


@contextlib.contextmanager
def expanding_from(start: datetime) -> Iterator[None]:
    """Walks of rules without COUNT begun inside begin near `start` (an aware time): what
    lies before it is not walked. For a caller that asks one time range and needs no
    instance ending before it (a time-range filter, an expansion, free-busy)."""
    token = _from.set(start)
    try:
        yield
    finally:
        _from.reset(token)


def getrruleset(component: Any, addRDate: bool = False) -> Any:
    token = _building.set([MAX_WORK])  # vobject walks each rule to its first instance
    try:
        rules = _vobject_getrruleset(component, addRDate)
    finally:
        _building.reset(token)
    if rules is None:
        return None
    start, refusal = _from.get(), _refused[0]
    kept = []
    for rule in rules._rrule:
        if refusal(rule) is not None:
            # Stored before the limit: only its DTSTART counts (as with no rule at all).
            rules.rdate(rule._dtstart)
            continue
        kept.append(_started_near(rule, start, component) if start is not None else rule)
    rules._rrule = kept
    rules._exrule = [
        _started_near(r, start, component) if start is not None else r
        for r in rules._exrule
        if refusal(r) is None
    ]
    return rules


def _started_near(rule: dateutil_rrule.rrule, start: datetime, component: Any) -> Any:
    """`rule` begun again at the last of its periods that starts before `start`, less the
    component's length: the same instances from there on. A rule with COUNT is left
    whole (the count runs from its first instance; the limit keeps it short)."""
    if rule._count is not None:
        return rule
    first: datetime = rule._dtstart
    try:
        before = start - _length(component) - _CLOCK_SLACK
    except OverflowError:  # a range open towards the past
        return rule
    if first.tzinfo is not None:
        target = before.astimezone(first.tzinfo).replace(tzinfo=None)
    else:
        target = before.astimezone(UTC).replace(tzinfo=None)
    wall = first.replace(tzinfo=None)
    if target <= wall:
        return rule
    freq, interval = rule._freq, rule._interval
    if freq in FIXED_PERIODS:
        # The wall clock steps by whole periods: a multiple keeps every BY part's phase.
        try:
            period = FIXED_PERIODS[freq] * interval
            return _replaced(rule, dtstart=first + ((target - wall) // period) * period)
        except OverflowError:  # an INTERVAL stored before the limit bounded it
            return rule
    months = (12 if freq == dateutil_rrule.YEARLY else 1) * interval
    skipped = ((target.year - wall.year) * 12 + target.month - wall.month) // months
    if skipped <= 0:
        return rule
    index = wall.month - 1 + skipped * months
    moved = first.replace(
        year=wall.year + index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0
    )
    return _replaced(rule, dtstart=moved, **_defaults_of(rule))


def _replaced(rule: dateutil_rrule.rrule, **changes: Any) -> Any:
    try:
        return rule.replace(**changes)
    except (ValueError, OverflowError):  # an UNTIL dateutil would not take: walked whole
        return rule


def _defaults_of(rule: dateutil_rrule.rrule) -> dict[str, int]:
    """The BY parts dateutil took from DTSTART, spelled out, so that a rule begun on the
    first of a month keeps the day and time of the original."""
    first = rule._dtstart
    given = rule._original_rule
    spelled: dict[str, int] = {}
    for name, value in (("bymonth", first.month), ("bymonthday", first.day)):
        if name in given and given[name] is None:
            spelled[name] = value
    for name, value, finer in (
        ("byhour", first.hour, dateutil_rrule.HOURLY),
        ("byminute", first.minute, dateutil_rrule.MINUTELY),
        ("bysecond", first.second, dateutil_rrule.SECONDLY),
    ):
        if name not in given and rule._freq < finer:
            spelled[name] = value
    return spelled


def _length(component: Any) -> timedelta:
    """How long one instance lasts (DTEND or DUE less DTSTART, or DURATION), for walks
    that must still see an instance begun before the range and running into it."""
    contents = component.contents
    start = contents["dtstart"][0].value if "dtstart" in contents else None
    length = timedelta(0)
    with contextlib.suppress(TypeError, ValueError, AttributeError, OverflowError):
        if "duration" in contents:
            length = contents["duration"][0].value
        else:
            end = next((contents[n][0].value for n in ("dtend", "due") if n in contents), None)
            if start is not None and end is not None:
                length = _as_datetime(end) - _as_datetime(start)
    return max(length, timedelta(0)) if isinstance(length, timedelta) else timedelta(0)


def _as_datetime(value: date) -> datetime:
    if isinstance(value, datetime):
        return utc_naive(value)
    return datetime(value.year, value.month, value.day)


def share_work(rules: list[Any]) -> None:
    """Let the walks of `rules` (dateutil rules) begun from now on share one MAX_WORK."""
    budget = [MAX_WORK]
    for rule in rules:
        rule._walk_budget = budget


def shared_iter(rules: dateutil_rrule.rruleset) -> Iterator[datetime]:
    """dateutil's walk of a rule set, its rules sharing one budget (each walk of the set a
    new one: dateutil begins the walks of the rules at once, before its first instance)."""
    share_work(rules._rrule + rules._exrule)
    yield from _dateutil_set_iter(rules)


def bounded_iter(rule: dateutil_rrule.rrule) -> Iterator[datetime]:
    """dateutil's walk of one rule, cut when its budget is spent: its rule set's, that of
    the rule set being built (vobject's first walks), or its own."""
    steps = _dateutil_iter(rule)
    left = getattr(rule, "_walk_budget", None) or _building.get() or [MAX_WORK]
    while True:
        token = _steps_left.set(left)
        try:
            value = next(steps)
        except StopIteration:
            return
        except (_Exhausted, IndexError):
            # IndexError: dateutil's own, laying out an nth weekday past the weeks of a
            # month (BYMONTH=2;BYDAY=53MO, RFC 5545 allows up to 53): no instances.
            _cut()
            return
        finally:
            _steps_left.reset(token)
        left[0] -= WORK["instance"]
        if left[0] < 0:
            _cut()
            return
        yield value


def _pay(work: int) -> None:
    """Take `work` from the walk in progress, if any; _Exhausted when it has no more."""
    left = _steps_left.get()
    if left is not None:
        left[0] -= work
        if left[0] < 0:
            raise _Exhausted


def counted_days(dayset: Callable[..., Any]) -> Callable[..., Any]:
    """A period's days, paid for before dateutil looks at them: each day, and each
    BYSETPOS position tried on them (dateutil lists the period's days once per position)."""

    def counted(info: Any, year: int, month: int, day: int) -> Any:
        found = dayset(info, year, month, day)
        _, start, end = found
        _pay(WORK["period"] + (end - start) * (1 + len(info.rrule._bysetpos or ())))
        return found

    return counted


def counted_times(timeset: Callable[..., Any]) -> Callable[..., Any]:
    """The times of an hour, minute or second (BYMINUTE times BYSECOND), paid for each."""

    def counted(info: Any, hour: int, minute: int, second: int) -> Any:
        found = timeset(info, hour, minute, second)
        _pay(WORK["time"] * len(found))
        return found

    return counted


def counted_years(rebuild: Callable[..., Any]) -> Callable[..., Any]:
    """A new year's day masks (BYWEEKNO's are the costliest), paid for before they are
    laid out."""

    def counted(info: Any, year: int, month: int) -> Any:
        if year != info.lastyear:
            _pay(WORK["year"] + (WORK["weekno"] if info.rrule._byweekno else 0))
        return rebuild(info, year, month)

    return counted


@contextlib.contextmanager
def watching() -> Iterator[list[int]]:
    """The walks cut inside the block (one entry each)."""
    cuts: list[int] = []
    token = _cuts.set(cuts)
    try:
        yield cuts
    finally:
        _cuts.reset(token)


def _cut() -> None:
    cuts = _cuts.get()
    if cuts is not None:
        cuts.append(1)
