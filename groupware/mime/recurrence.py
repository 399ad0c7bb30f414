"""The recurrence limit (RFC 5545 §3.3.10, §3.8.5): which recurrence sets an item may carry.

`check` is the one limit, applied wherever an item is stored: DAV PUT (dav/recurrence.py),
iMIP, import and the web (through mime/icalitem.describe). A recurrence set passes when
each rule has at most MAX_INSTANCES instances in all (COUNT, or what fits before UNTIL)
or, without an end, at most MAX_INSTANCES a year, an INTERVAL of at most 10,000 years
and at most MAX_TIMES_A_DAY times in a day; it has at most MAX_RULES rules (RRULE,
EXRULE) and lists at most MAX_DATES dates of each kind (RDATE, EXDATE); and its
instances are found within the work expansion.MAX_WORK allows its rules together (a
rule that never matches, the 30th of February, is not). Counts are upper bounds
read from the rule, never from walking it. The rules of a VTIMEZONE are held to it too:
converting a time walks them.

dav/patches.py (which runtime.build installs first; `check` makes sure) bounds every walk
over recurrences in the process with this limit (mime/expansion.py). Change the limit here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]

from groupware.mime import expansion
from groupware.mime.expansion import FIXED_PERIODS, utc_naive

# Radicale's own default for a rule's instances (max_vevent_rrule_occurrence); dav/app.py
# sets its expansion and free-busy limits to it too. SabreDAV stops at 3,500.
MAX_INSTANCES = 10_000
# RFC 5545 §3.8.5.3: RRULE SHOULD NOT occur more than once; calendar clients write one.
MAX_RULES = 8
MAX_DATES = 1_000  # RDATE, and EXDATE, values of one component
MAX_TIMES_A_DAY = 1_440  # times a day (BYHOUR, BYMINUTE, BYSECOND) of a daily or longer rule
_MAX_YEARS = 10_000  # the span of dateutil's years, for INTERVAL
RECURRING = ("VEVENT", "VTODO", "VJOURNAL")
_YEARLY, _MONTHLY, _WEEKLY, _DAILY = (
    dateutil_rrule.YEARLY,
    dateutil_rrule.MONTHLY,
    dateutil_rrule.WEEKLY,
    dateutil_rrule.DAILY,
)
_HOURLY, _MINUTELY, _SECONDLY = (
    dateutil_rrule.HOURLY,
    dateutil_rrule.MINUTELY,
    dateutil_rrule.SECONDLY,
)
_PERIODS_A_YEAR = {
    _YEARLY: 1,
    _MONTHLY: 12,
    _WEEKLY: 53,
    _DAILY: 366,
    _HOURLY: 8_784,
    _MINUTELY: 527_040,
    _SECONDLY: 31_622_400,
}
_SHORTEST_PERIOD = {_YEARLY: timedelta(days=365), _MONTHLY: timedelta(days=28), **FIXED_PERIODS}


class TooManyInstances(ValueError):
    """A recurrence set over the limit (RFC 4791 §5.3.2.1 CALDAV:max-instances)."""


def check(calendar: Any) -> None:
    """TooManyInstances (or ValueError for an unreadable rule) unless every recurrence
    set in `calendar`, a vobject VCALENDAR, is within the limit. RuntimeError when the
    walks of this process are not bounded: the check means nothing without them."""
    if not expansion.bounding():
        raise RuntimeError("recurrences are not bounded: groupware.dav.patches.install()")
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
    if rule._interval > _MAX_YEARS * _PERIODS_A_YEAR[freq]:
        return f"INTERVAL over {_MAX_YEARS} years"
    if freq < _HOURLY and len(rule._timeset) > MAX_TIMES_A_DAY:
        return f"{len(rule._timeset)} times a day (at most {MAX_TIMES_A_DAY})"
    if (freq == _MINUTELY and rule._byhour) or (
        freq == _SECONDLY and (rule._byhour or rule._byminute)
    ):
        # deviation(RFC 5545 §3.3.10): valid, but dateutil finds the next allowed hour (or
        # minute) of such a rule by trying every minute (or second) in between, up to a
        # day's worth for each step; no calendar client writes them.
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
        if listed > MAX_DATES:
            raise TooManyInstances(f"{where}: {listed} {name.upper()} (at most {MAX_DATES})")
    written = sum(len(component.contents.get(name, ())) for name in ("rrule", "exrule"))
    if written > MAX_RULES:
        raise TooManyInstances(f"{where}: {written} RRULE and EXRULE (at most {MAX_RULES})")
    try:
        rules = expansion.rules_of(component)
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
    expansion.share_work(walked)
    with expansion.watching() as cuts:
        for rule in walked:
            if rule._count is not None or rule._until is not None:
                for _ in rule:
                    pass
            else:
                next(iter(rule), None)
    if cuts:
        # Its rules, or those of a VTIMEZONE it uses (converting a time walks them too).
        raise TooManyInstances(f"{where}: instances not found within the work allowed")


def _text(rule: dateutil_rrule.rrule) -> str:
    return str(rule).rsplit("RRULE:", 1)[-1][:200]


def _total(rule: dateutil_rrule.rrule) -> int:
    """At most how many instances a rule with COUNT or UNTIL has."""
    if rule._count is not None:
        return int(rule._count)
    start, until = utc_naive(rule._dtstart), utc_naive(rule._until)
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
