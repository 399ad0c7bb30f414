"""Walks over recurrences, bounded: dateutil's (which vobject, and so Radicale, expands
with), patched once for the process by `install`.

Every walk of one rule stops after MAX_STEPS steps (a period of the rule, or an
instance); a rule the limit refuses (mime/recurrence.py, stored before it) is not walked
at all, only its DTSTART counts; and inside `expanding_from(start)` a rule without COUNT
begins at its last period before `start` instead of at its DTSTART, which finds the same
instances from there on. `watching` tells whether a walk was cut. Another expanding
library would get the same treatment here.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from vobject import icalendar as vobject_icalendar

# Steps (a period of the rule, or an instance) one walk may take: 0.1 to 1 s of dateutil.
MAX_STEPS = 50_000
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
_vobject_getrruleset = vobject_icalendar.RecurringComponent.getrruleset
_steps_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expansion_steps_left", default=None
)
_cuts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expansion_cuts", default=None
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


def install(refusal: Refusal) -> None:
    """Bound the walks of dateutil (through vobject's rule sets, which Radicale uses) for
    the whole process, dropping the rules `refusal` refuses. Idempotent."""
    if _refused:
        return
    dateutil_rrule.rrule._iter = _bounded_iter
    info = dateutil_rrule._iterinfo
    for name in ("ydayset", "mdayset", "wdayset", "ddayset"):  # once per period walked
        setattr(info, name, _counted(getattr(info, name)))
    component = vobject_icalendar.RecurringComponent
    component.getrruleset = _getrruleset
    component.rruleset = property(_getrruleset, component.setrruleset)
    _refused.append(refusal)


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


def _getrruleset(component: Any, addRDate: bool = False) -> Any:
    rules = _vobject_getrruleset(component, addRDate)
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
        period = FIXED_PERIODS[freq] * interval
        return _replaced(rule, dtstart=first + ((target - wall) // period) * period)
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


def _bounded_iter(rule: dateutil_rrule.rrule) -> Iterator[datetime]:
    """dateutil's walk of one rule, cut after MAX_STEPS steps (periods and instances)."""
    steps = _dateutil_iter(rule)
    left = [MAX_STEPS]
    while True:
        token = _steps_left.set(left)
        try:
            value = next(steps)
        except StopIteration:
            return
        except _Exhausted:
            _cut()
            return
        finally:
            _steps_left.reset(token)
        left[0] -= 1
        if left[0] < 0:
            _cut()
            return
        yield value


def _counted(dayset: Callable[..., Any]) -> Callable[..., Any]:
    def counted(info: Any, year: int, month: int, day: int) -> Any:
        left = _steps_left.get()
        if left is not None:
            left[0] -= 1
            if left[0] < 0:
                raise _Exhausted
        return dayset(info, year, month, day)

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
