"""The recurrence limit (RFC 5545 §3.3.10, §3.8.5) and bounded walks over recurrences.

`check` is the one limit, applied wherever an item is stored: DAV PUT (dav/recurrence.py),
iMIP, import and the web (through mime/icalitem.describe). A recurrence set passes when
each rule has at most MAX_INSTANCES instances in all (COUNT, or what fits before UNTIL)
or, without an end, at most MAX_INSTANCES a year; it lists at most MAX_INSTANCES dates
(RDATE, EXDATE); and its instances are found within MAX_STEPS steps of the walk (a rule
that never matches, the 30th of February, is not). Counts are upper bounds read from the
rule, never from walking it. The rules of a VTIMEZONE are held to it too: converting a
time walks them.

`install` (runtime.build calls it first; `check` makes sure) bounds every walk of
dateutil, which vobject, and so Radicale, expands with: at most MAX_STEPS steps each,
rules over the limit (stored before it) not walked at all, and inside
`expanding_from(start)` rules without COUNT begin near `start` instead of at their
DTSTART. Change the limit here; a new expanding library gets the same treatment.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from vobject import icalendar as vobject_icalendar

# Radicale's own default for a rule's instances (max_vevent_rrule_occurrence); dav/app.py
# sets its expansion and free-busy limits to it too. SabreDAV stops at 3,500.
MAX_INSTANCES = 10_000
# Steps (a period of the rule, or an instance) one walk may take: 0.1 to 1 s of dateutil.
MAX_STEPS = 50_000
RECURRING = ("VEVENT", "VTODO", "VJOURNAL")
_YEARLY, _MONTHLY, _WEEKLY, _DAILY = 0, 1, 2, 3  # dateutil's FREQ numbers
_HOURLY, _MINUTELY, _SECONDLY = 4, 5, 6
_PERIODS_A_YEAR = {0: 1, 1: 12, 2: 53, 3: 366, 4: 8_784, 5: 527_040, 6: 31_622_400}
_SHORTEST_PERIOD = {
    0: timedelta(days=365),
    1: timedelta(days=28),
    2: timedelta(weeks=1),
    3: timedelta(days=1),
    4: timedelta(hours=1),
    5: timedelta(minutes=1),
    6: timedelta(seconds=1),
}
# Floating and all-day times are read as UTC; the wall clock may be a day off either way.
_CLOCK_SLACK = timedelta(days=2)

_dateutil_iter = dateutil_rrule.rrule._iter
_vobject_getrruleset = vobject_icalendar.RecurringComponent.getrruleset
_steps_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "recurrence_steps_left", default=None
)
_cuts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "recurrence_cuts", default=None
)
_from: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "recurrence_from", default=None
)
_installed = False


class TooManyInstances(ValueError):
    """A recurrence set over the limit (RFC 4791 §5.3.2.1 CALDAV:max-instances)."""


class _Exhausted(Exception):
    """A walk out of steps (raised inside dateutil's loop, caught by the walk)."""


# -- the limit -------------------------------------------------------------------------------


def check(calendar: Any) -> None:
    """TooManyInstances (or ValueError for an unreadable rule) unless every recurrence
    set in `calendar`, a vobject VCALENDAR, is within the limit."""
    install()
    for component in calendar.getChildren():
        if component.name in RECURRING and _recurs(component):
            uid = component.contents["uid"][0].value if "uid" in component.contents else ""
            _check_component(component, f"{component.name} {uid!r}")
        elif component.name == "VTIMEZONE":  # converting a time walks these rules too
            tzid = component.contents["tzid"][0].value if "tzid" in component.contents else ""
            for observance in component.getChildren():
                if observance.name in ("STANDARD", "DAYLIGHT") and _recurs(observance):
                    _check_component(observance, f"VTIMEZONE {tzid!r} {observance.name}")


def refusal(rule: dateutil_rrule.rrule) -> str | None:
    """Why one rule is over the limit, or None."""
    freq = rule._freq
    if (freq == _MINUTELY and rule._byhour) or (
        freq == _SECONDLY and (rule._byhour or rule._byminute)
    ):
        # dateutil finds the next allowed hour (or minute) of such a rule by trying every
        # minute (or second) in between: up to a day's worth for each step.
        return "FREQ=MINUTELY with BYHOUR, or SECONDLY with BYHOUR or BYMINUTE"
    if rule._count is None and rule._until is None:
        yearly = _per_year(rule)
        if yearly > MAX_INSTANCES:
            return f"no end, and up to {yearly} instances a year (at most {MAX_INSTANCES})"
        return None
    total = _total(rule)
    if total > MAX_INSTANCES:
        return f"up to {total} instances (at most {MAX_INSTANCES})"
    return None


def _recurs(component: Any) -> bool:
    return any(name in component.contents for name in ("rrule", "exrule", "rdate", "exdate"))


def _check_component(component: Any, where: str) -> None:
    for name in ("rdate", "exdate"):
        listed = sum(len(line.value) for line in component.contents.get(name, ()))
        if listed > MAX_INSTANCES:
            raise TooManyInstances(f"{where}: {listed} {name.upper()} (at most {MAX_INSTANCES})")
    try:
        rules = _vobject_getrruleset(component, False)
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as error:
        raise ValueError(f"{where}: unreadable recurrence rule: {error}") from None
    if rules is None:
        return
    walked = rules._rrule + rules._exrule
    for rule in walked:
        reason = refusal(rule)
        if reason is not None:
            raise TooManyInstances(f"{where}: {_text(rule)}: {reason}")
    ending = [rule for rule in rules._rrule if rule._count is not None or rule._until is not None]
    total = sum(_total(rule) for rule in ending) + len(rules._rdate)
    yearly = sum(_per_year(rule) for rule in rules._rrule if rule not in ending)
    if total > MAX_INSTANCES or yearly > MAX_INSTANCES:
        raise TooManyInstances(f"{where}: up to {max(total, yearly)} instances together")
    with _watching() as cuts:
        for rule in walked:
            if rule._count is not None or rule._until is not None:
                for _ in rule:
                    pass
            else:
                next(iter(rule), None)
    if cuts:
        # Its rules, or those of a VTIMEZONE it uses (converting a time walks them too).
        raise TooManyInstances(f"{where}: instances not found within {MAX_STEPS} steps")


def _text(rule: dateutil_rrule.rrule) -> str:
    return str(rule).rsplit("RRULE:", 1)[-1][:200]


def _total(rule: dateutil_rrule.rrule) -> int:
    """At most how many instances a rule with COUNT or UNTIL has."""
    if rule._count is not None:
        return int(rule._count)
    start, until = _comparable(rule._dtstart), _comparable(rule._until)
    if until < start:
        return 0
    periods = (until - start) // (_SHORTEST_PERIOD[rule._freq] * rule._interval) + 2
    years = until.year - start.year + 1
    return int(min(periods * _per_period(rule), years * _per_year(rule)))


def _per_year(rule: dateutil_rrule.rrule) -> int:
    """At most how many instances a rule has in any calendar year."""
    freq = rule._freq
    periods: int = -(-_PERIODS_A_YEAR[freq] // rule._interval) + 1  # and one across New Year
    hours = len(rule._byhour or ()) or 24
    minutes = len(rule._byminute or ()) or 60
    seconds = len(rule._bysecond or ()) or 60
    allowed = {_HOURLY: hours, _MINUTELY: hours * minutes, _SECONDLY: hours * minutes * seconds}
    if freq in allowed:
        periods = min(periods, 366 * allowed[freq])
    return periods * _per_period(rule)


def _per_period(rule: dateutil_rrule.rrule) -> int:
    """At most how many instances one period of the rule (a year, a month, …) holds."""
    freq = rule._freq
    if freq == _HOURLY:
        count = len(rule._byminute) * len(rule._bysecond)
    elif freq == _MINUTELY:
        count = len(rule._bysecond)
    elif freq == _SECONDLY:
        count = 1
    else:
        times = len(rule._byhour) * len(rule._byminute) * len(rule._bysecond)
        count = _days_per_period(rule) * times
    return min(count, len(rule._bysetpos)) if rule._bysetpos else count


def _days_per_period(rule: dateutil_rrule.rrule) -> int:
    """Every BY part of a day filters the days of a period (dateutil keeps a day only if
    all agree), so the fewest any one part allows bound them."""
    freq = rule._freq
    if freq == _DAILY:
        return 1
    weekdays, nth = len(rule._byweekday or ()), len(rule._bynweekday or ())
    if freq == _WEEKLY:
        return weekdays or 7
    months = len(rule._bymonth or ())
    bounds = [366 if freq == _YEARLY else 31]
    if freq == _YEARLY and months:
        bounds.append(31 * months)
    if rule._byyearday:
        bounds.append(len(rule._byyearday))
    if rule._byweekno:
        bounds.append(7 * len(rule._byweekno))
    if rule._byeaster:
        bounds.append(len(rule._byeaster))
    monthdays = len(rule._bymonthday) + len(rule._bynmonthday)
    if monthdays:
        bounds.append(monthdays * (months or 12 if freq == _YEARLY else 1))
    if weekdays or nth:
        if freq == _MONTHLY:
            bounds.append(5 * weekdays + nth)
        elif months:
            bounds.append((5 * weekdays + nth) * months)
        else:
            bounds.append(53 * weekdays + nth)
    return min(bounds)


def _comparable(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# -- bounded walks ---------------------------------------------------------------------------


def install() -> None:
    """Bound the walks of dateutil (through vobject's rule sets, which Radicale uses) for
    the whole process. Idempotent."""
    global _installed
    if _installed:
        return
    dateutil_rrule.rrule._iter = _bounded_iter
    info = dateutil_rrule._iterinfo
    for name in ("ydayset", "mdayset", "wdayset", "ddayset"):  # once per period walked
        setattr(info, name, _counted(getattr(info, name)))
    component = vobject_icalendar.RecurringComponent
    component.getrruleset = _getrruleset
    component.rruleset = property(_getrruleset, component.setrruleset)
    _installed = True


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
    start = _from.get()
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
    if freq >= _WEEKLY:
        # The wall clock steps by whole periods: a multiple keeps every BY part's phase.
        period = _SHORTEST_PERIOD[freq] * interval
        return _replaced(rule, dtstart=first + ((target - wall) // period) * period)
    months = (12 if freq == _YEARLY else 1) * interval
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
        ("byhour", first.hour, _HOURLY),
        ("byminute", first.minute, _MINUTELY),
        ("bysecond", first.second, _SECONDLY),
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
        return _comparable(value)
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
def _watching() -> Iterator[list[int]]:
    """The walks cut inside (one entry each)."""
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
