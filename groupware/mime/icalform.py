"""What the portal's event and task forms read from, and write into, an iCalendar object
(RFC 5545): the fields a person edits, made into a VEVENT or VTODO; one occurrence of a
series changed or taken out (RECURRENCE-ID overrides, EXDATE) or a series split in two
(UNTIL); the occurrences of an object within a time range. Pure: text in, text out;
icalendar builds and writes, recurring-ical-events expands (through mime/expansion.py's
bounded walks, once dav/patches.py is installed).

Whatever a client wrote that the form does not show (other properties, X- names,
attendees' answers) is kept when a form edits the object.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

PRODID = "-//groupware//portal//EN"
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_TEXT = 10_000  # characters of a title, place or note a form may write
MAX_COUNT = 1000  # occurrences a form's "after N times" may ask
ZONE_YEARS = 10  # years of rules written into a VTIMEZONE after the object's start
# Task priorities as the form names them (RFC 5545 §3.8.1.9: 1 highest, 9 lowest).
PRIORITIES = {"high": 1, "medium": 5, "low": 9}
TASK_STATES = ("NEEDS-ACTION", "IN-PROCESS", "COMPLETED", "CANCELLED")
SCOPES = ("this", "following", "all")
# What the event form owns; everything else in a VEVENT is kept as it was.
_EVENT_FORM = ("SUMMARY", "DTSTART", "DTEND", "DURATION", "LOCATION", "DESCRIPTION", "RRULE")
_TASK_FORM = ("SUMMARY", "DUE", "DESCRIPTION", "PRIORITY", "PERCENT-COMPLETE", "STATUS")


class FormError(ValueError):
    """What a person typed cannot be written (said in words for the form)."""


@dataclass(frozen=True)
class Repeat:
    freq: str  # one of FREQUENCIES
    interval: int = 1
    weekdays: tuple[str, ...] = ()  # of WEEKDAYS, for a weekly series
    until: date | None = None  # the last day that may have an occurrence
    count: int | None = None


@dataclass(frozen=True)
class EventFields:
    """An event as its form shows it. Timed: `start` and `end` are aware datetimes (in
    the event's own zone). All day: dates, `end` the last day (inclusive, as people say
    it; iCalendar's DTEND is the day after)."""

    title: str
    start: datetime | date
    end: datetime | date
    all_day: bool = False
    location: str = ""
    description: str = ""
    reminder: int | None = None  # minutes before the start
    repeat: Repeat | None = None
    attendees: tuple[str, ...] = ()
    zone: str = "UTC"


@dataclass(frozen=True)
class TaskFields:
    title: str
    due: date | datetime | None = None
    priority: str = ""  # "", or one of PRIORITIES
    notes: str = ""
    percent: int = 0
    status: str = "NEEDS-ACTION"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an event in a time range, as a calendar view draws it."""

    uid: str
    recurrence_id: str  # the occurrence's original start as iCalendar writes it; "" if single
    start: datetime | date
    end: datetime | date  # exclusive
    all_day: bool
    title: str
    location: str
    recurring: bool
    cancelled: bool
    busy: bool  # not TRANSP:TRANSPARENT
    organizer: str
    answers: dict[str, str] = field(default_factory=dict)  # attendee → PARTSTAT


@dataclass(frozen=True)
class Task:
    uid: str
    title: str
    due: date | datetime | None
    priority: str
    notes: str
    percent: int
    status: str

    @property
    def done(self) -> bool:
        return self.status == "COMPLETED"


# -- zones -------------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; FormError for an unknown one."""
    if not name or len(name) > 64:
        raise FormError("unknown time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # "America": a folder
        raise FormError(f"unknown time zone {name!r}") from error


FIRST_YEAR, LAST_YEAR = 1900, 2200  # what the forms and views take (datetime's edges overflow)


def in_years(value: date | datetime) -> bool:
    """Whether a date lies in the years the portal handles."""
    return FIRST_YEAR <= value.year <= LAST_YEAR


def zone_name(value: datetime | date) -> str:
    """The IANA name of a datetime's zone, "UTC" when it has none we can name."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        key = getattr(value.tzinfo, "key", None)
        if isinstance(key, str):
            return key
    return "UTC"


# -- events ------------------------------------------------------------------------------


def new_event(fields: EventFields, organizer: str, now: datetime | None = None) -> str:
    """A new calendar object holding one VEVENT made from `fields` (with a fresh UID);
    with attendees, `organizer` organizes it (and attends, accepted)."""
    _check_event(fields)
    event = icalendar.Event()
    event.add("uid", f"{uuid.uuid4()}")
    event.add("dtstamp", now or datetime.now(UTC))
    event.add("sequence", 0)
    _write_event(event, fields, organizer, {})
    return _calendar([event], fields.start)


def event_fields(text: str, recurrence_id: str = "") -> EventFields:
    """The form's view of the object's master event, or of one occurrence of it (its
    override if it has one, else the master moved to that occurrence)."""
    calendar = _parse(text)
    master = _master(calendar, "VEVENT")
    shown = master
    start_value = _dt(master, "DTSTART")
    length = _end(master) - start_value
    if recurrence_id:
        override = _override(calendar, recurrence_id)
        if override is not None:
            shown = override
            start_value = _dt(override, "DTSTART")
            length = _end(override) - start_value
        else:
            start_value = _occurrence_start(master, recurrence_id)
    all_day = not isinstance(start_value, datetime)
    end_value = start_value + length
    if all_day:
        end_value = end_value - timedelta(days=1)  # the last day, inclusive
        if end_value < start_value:
            end_value = start_value
    return EventFields(
        title=str(shown.get("SUMMARY", "")),
        start=start_value,
        end=end_value,
        all_day=all_day,
        location=str(shown.get("LOCATION", "")),
        description=str(shown.get("DESCRIPTION", "")),
        reminder=_reminder(shown),
        repeat=_repeat(master) if shown is master else None,
        attendees=tuple(a for a in _attendees(shown) if a != _organizer(shown)),
        zone=zone_name(start_value),
    )


def edit_event(
    text: str, fields: EventFields, organizer: str, scope: str = "all", recurrence_id: str = ""
) -> tuple[str, str | None]:
    """The object with the form's `fields` applied: to the whole series ("all"), to one
    occurrence ("this": an override), or to it and those after ("following": the series
    ends before it and a new one, returned second, begins there). A single event is
    edited whole whatever `scope` says."""
    _check_event(fields)
    calendar = _parse(text)
    master = _master(calendar, "VEVENT")
    recurring = "RRULE" in master or "RDATE" in master
    if not recurring or not recurrence_id or scope == "all":
        if recurring and recurrence_id:
            fields = _shifted(master, recurrence_id, fields)
        answers = _answers(master)
        if _moved(master, fields):
            _bump_sequence(master)
            answers = {}  # asked again (RFC 5546 §2.1.5)
        _write_event(master, fields, organizer, answers)
        return _rewritten(calendar, fields.start), None
    if scope == "this":
        override = _override(calendar, recurrence_id)
        if override is None:
            override = icalendar.Event()
            for name in ("UID", "ORGANIZER", "ATTENDEE", "SEQUENCE", "CLASS", "TRANSP"):
                for value in _all(master, name):
                    override.add(name, value)
            override.add("dtstamp", datetime.now(UTC))
            override.add("recurrence-id", _occurrence_start(master, recurrence_id))
            calendar.add_component(override)
        _write_event(override, replace(fields, repeat=None), organizer, _answers(override))
        return _rewritten(calendar, fields.start), None
    if scope != "following":
        raise FormError(f"scope must be one of {', '.join(SCOPES)}")
    first = _occurrence_start(master, recurrence_id)
    if first <= _dt(master, "DTSTART"):
        return edit_event(text, fields, organizer, "all", recurrence_id)
    ended = end_series_before(text, recurrence_id)
    return ended, new_event(fields, organizer)


def without_occurrence(text: str, recurrence_id: str) -> str:
    """The series without one occurrence: an EXDATE for it, its override gone."""
    calendar = _parse(text)
    master = _master(calendar, "VEVENT")
    start = _occurrence_start(master, recurrence_id)
    for component in list(calendar.subcomponents):
        if component.name == "VEVENT" and _recurrence_key(component) == recurrence_id:
            calendar.subcomponents.remove(component)
    master.add("exdate", start)
    return _rewritten(calendar, _dt(master, "DTSTART"))


def end_series_before(text: str, recurrence_id: str) -> str:
    """The series ending just before one occurrence (its UNTIL), and the overrides of
    that occurrence and later ones gone."""
    calendar = _parse(text)
    master = _master(calendar, "VEVENT")
    first = _occurrence_start(master, recurrence_id)
    rule = master.get("RRULE")
    if rule is None:
        raise FormError("not a repeating event")
    rule = icalendar.vRecur(dict(rule))
    rule.pop("COUNT", None)
    if isinstance(first, datetime):
        rule["UNTIL"] = [(first - timedelta(seconds=1)).astimezone(UTC)]
    else:
        rule["UNTIL"] = [first - timedelta(days=1)]
    master["RRULE"] = rule
    for component in list(calendar.subcomponents):
        if component.name != "VEVENT" or component is master or "RECURRENCE-ID" not in component:
            continue
        if _same_kind(_dt(component, "RECURRENCE-ID"), first) >= first:
            calendar.subcomponents.remove(component)
    return _rewritten(calendar, _dt(master, "DTSTART"))


def is_first(text: str, recurrence_id: str) -> bool:
    """Whether `recurrence_id` names the series' first occurrence."""
    master = _master(_parse(text), "VEVENT")
    return bool(_occurrence_start(master, recurrence_id) <= _dt(master, "DTSTART"))


def occurrences(text: str, start: datetime, end: datetime) -> list[Occurrence]:
    """The object's events overlapping [start, end) (aware datetimes), each occurrence
    of a series once. Views ask the same objects again and again (every week and month
    shown, every free/busy look-up), so an object's occurrences within KEPT_SPAN of when
    it was first asked are kept (by its text, for all callers; at most KEPT_OCCURRENCES
    in all): a range inside that span is then a filter, not a parse and an expansion."""
    kept = _kept(text)
    if kept is None or not (kept.low <= start and end <= kept.high):
        return _expand(text, start, end)
    # Only those that may overlap are looked at: from the first that may still be going
    # on (the longest one's length, and a day for zones, before the range) to the end.
    first = bisect.bisect_left(kept.starts, start.timestamp() - kept.longest - SLACK)
    last = bisect.bisect_right(kept.starts, end.timestamp() + SLACK)
    return [o for o in kept.items[first:last] if _overlaps(o, start, end)]


SLACK = 26 * 3600  # seconds a floating time or a day may lie either way of UTC


@dataclass(frozen=True)
class _Kept:
    low: datetime
    high: datetime
    items: tuple[Occurrence, ...]  # by start
    starts: tuple[float, ...]  # their starts as UTC timestamps (floating and days: as UTC)
    longest: float  # seconds, the longest occurrence


KEPT_SPAN = timedelta(days=400)  # before and after the moment an object is first asked
KEPT_OCCURRENCES = 200_000  # in all the objects kept (about 30 MB)
MAX_KEPT_EACH = 2_000  # an object with more occurrences in its span is expanded each time
_kept_objects: OrderedDict[str, _Kept] = OrderedDict()
_kept_count = [0]
_kept_lock = threading.Lock()


def _kept(text: str) -> _Kept | None:
    with _kept_lock:
        found = _kept_objects.get(text)
        if found is not None:
            _kept_objects.move_to_end(text)
            return found
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    low, high = now - KEPT_SPAN, now + KEPT_SPAN
    try:
        expanded = _expand(text, low, high)
    except (FormError, ValueError, TypeError, KeyError):
        return None
    if len(expanded) > MAX_KEPT_EACH:
        return None
    timed = [(_timestamp(o.start), _timestamp(o.end), o) for o in expanded]
    timed.sort(key=lambda entry: entry[0])
    items = tuple(o for _, _, o in timed)
    longest = max((b - a for a, b, _ in timed), default=0.0)
    kept = _Kept(low, high, items, tuple(a for a, _, _ in timed), longest)
    with _kept_lock:
        if text not in _kept_objects:
            _kept_objects[text] = kept
            _kept_count[0] += len(items) + 1
        while _kept_count[0] > KEPT_OCCURRENCES and _kept_objects:
            _, dropped = _kept_objects.popitem(last=False)
            _kept_count[0] -= len(dropped.items) + 1
    return kept


def _timestamp(value: datetime | date) -> float:
    """An instant as a UTC timestamp; a floating time or a day taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _overlaps(occurrence: Occurrence, start: datetime, end: datetime) -> bool:
    """As recurring-ical-events' `between`: a timed occurrence by its instants (a floating
    one read in the range's zone), an all-day one by its days in the range's zone."""
    begins, ends = occurrence.start, occurrence.end
    if isinstance(begins, datetime) and isinstance(ends, datetime):
        if begins.tzinfo is None:
            begins, ends = begins.replace(tzinfo=start.tzinfo), ends.replace(tzinfo=start.tzinfo)
        return begins < end and (ends > start or (begins == ends and begins >= start))
    first_day = start.date()
    last_day = (
        end.date()
        if end.timetz().replace(tzinfo=None) == time()
        else end.date() + timedelta(days=1)
    )
    return bool(begins < last_day and ends > first_day)


def _expand(text: str, start: datetime, end: datetime) -> list[Occurrence]:
    calendar = _parse(text)
    series = {
        str(c.get("UID", ""))
        for c in calendar.walk("VEVENT")
        if "RRULE" in c or "RDATE" in c or "RECURRENCE-ID" in c
    }
    found = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        if event.name != "VEVENT":
            continue
        begins = _dt(event, "DTSTART")
        master_recurring = str(event.get("UID", "")) in series
        found.append(
            Occurrence(
                uid=str(event.get("UID", "")),
                recurrence_id=_recurrence_key(event) if master_recurring else "",
                start=begins,
                end=_end(event),
                all_day=not isinstance(begins, datetime),
                title=str(event.get("SUMMARY", "")),
                location=str(event.get("LOCATION", "")),
                recurring=master_recurring,
                cancelled=str(event.get("STATUS", "")).upper() == "CANCELLED",
                busy=str(event.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT",
                organizer=_organizer(event),
                answers=_answers(event),
            )
        )
    return found


def with_answer(text: str, attendee: str, answer: str) -> str:
    """`attendee`'s PARTSTAT set to `answer` on every VEVENT of the object."""
    calendar = _parse(text)
    changed = False
    for component in calendar.walk("VEVENT"):
        for value in _all(component, "ATTENDEE"):
            if _address(value) == attendee:
                value.params["PARTSTAT"] = answer
                value.params.pop("RSVP", None)
                changed = True
    if not changed:
        raise FormError(f"{attendee} is not invited")
    return str(calendar.to_ical().decode())


def with_times(
    text: str, start: datetime | date, end: datetime | date, *, ask_again: bool = False
) -> str:
    """The object's (master) event moved to [start, end) (a proposed new time); with
    `ask_again`, SEQUENCE one higher and every attendee but the organizer asked again
    (RFC 5546 §2.1.5: the organizer's change of time)."""
    if isinstance(start, datetime) != isinstance(end, datetime) or not start < end:
        raise FormError("the end is before the start")
    calendar = _parse(text)
    master = _master(calendar, "VEVENT")
    for name in ("DTSTART", "DTEND", "DURATION"):
        master.pop(name, None)
    master.add("dtstart", start)
    master.add("dtend", end)
    if ask_again:
        _bump_sequence(master)
        organizer = _organizer(master)
        for value in _all(master, "ATTENDEE"):
            if _address(value) != organizer:
                value.params["PARTSTAT"] = "NEEDS-ACTION"
                value.params["RSVP"] = "TRUE"
    _touch(master)
    return _rewritten(calendar, start)


def answers(text: str) -> dict[str, str]:
    """Each attendee's answer (PARTSTAT) to the object's master event."""
    return _answers(_master(_parse(text), "VEVENT"))


MAX_IMPORT = 10_000  # objects one .ics file may bring


def split_calendar(text: str) -> list[tuple[str, str]]:
    """An .ics file's objects, one calendar object per UID (with the VTIMEZONEs it
    uses), as (uid, text); objects without a UID get one."""
    calendar = _parse(text)
    zones = {str(c.get("TZID", "")): c for c in calendar.subcomponents if c.name == "VTIMEZONE"}
    grouped: dict[str, list[icalendar.cal.Component]] = {}
    for component in calendar.subcomponents:
        if component.name not in ("VEVENT", "VTODO", "VJOURNAL"):
            continue
        if "UID" not in component:
            component.add("uid", f"{uuid.uuid4()}")
        grouped.setdefault(str(component["UID"]), []).append(component)
        if len(grouped) > MAX_IMPORT:
            raise FormError(f"at most {MAX_IMPORT} events or tasks in one file")
    if not grouped:
        raise FormError("no events or tasks in this file")
    objects = []
    for uid, components in grouped.items():
        one = icalendar.Calendar()
        one.add("prodid", PRODID)
        one.add("version", "2.0")
        used = {
            str(value.params.get("TZID"))
            for component in components
            for value in component.values()
            if hasattr(value, "params") and value.params.get("TZID")
        }
        for name in sorted(used):
            if name in zones:
                one.add_component(zones[name])
        for component in components:
            one.add_component(component)
        objects.append((uid, str(one.to_ical().decode())))
    return objects


def join_calendar(texts: list[str], name: str = "") -> str:
    """Calendar objects as one .ics file: each VTIMEZONE once, then every component."""
    joined = icalendar.Calendar()
    joined.add("prodid", PRODID)
    joined.add("version", "2.0")
    if name:
        joined.add("x-wr-calname", name)
    zones: set[str] = set()
    rest = []
    for text in texts:
        try:
            calendar = _parse(text)
        except FormError:
            continue
        for component in calendar.subcomponents:
            if component.name == "VTIMEZONE":
                tzid = str(component.get("TZID", ""))
                if tzid not in zones:
                    zones.add(tzid)
                    joined.add_component(component)
            else:
                rest.append(component)
    for component in rest:
        joined.add_component(component)
    return str(joined.to_ical().decode())


# -- tasks -------------------------------------------------------------------------------


def new_task(fields: TaskFields, now: datetime | None = None) -> str:
    _check_task(fields)
    task = icalendar.Todo()
    task.add("uid", f"{uuid.uuid4()}")
    task.add("dtstamp", now or datetime.now(UTC))
    task.add("created", now or datetime.now(UTC))
    _write_task(task, fields, now)
    return _calendar([task], fields.due)


def edit_task(text: str, fields: TaskFields, now: datetime | None = None) -> str:
    _check_task(fields)
    calendar = _parse(text)
    _write_task(_master(calendar, "VTODO"), fields, now)
    return _rewritten(calendar, fields.due)


def task_of(text: str) -> Task:
    todo = _master(_parse(text), "VTODO")
    due = todo.get("DUE")
    priority = int(todo.get("PRIORITY", 0) or 0)
    named = ""
    if 1 <= priority <= 4:
        named = "high"
    elif priority == 5:
        named = "medium"
    elif 6 <= priority <= 9:
        named = "low"
    status = str(todo.get("STATUS", "NEEDS-ACTION")).upper()
    if "COMPLETED" in todo and status not in TASK_STATES:
        status = "COMPLETED"
    return Task(
        uid=str(todo.get("UID", "")),
        title=str(todo.get("SUMMARY", "")),
        due=due.dt if due is not None else None,
        priority=named,
        notes=str(todo.get("DESCRIPTION", "")),
        percent=int(todo.get("PERCENT-COMPLETE", 0) or 0),
        status=status if status in TASK_STATES else "NEEDS-ACTION",
    )


def task_done(text: str, done: bool, now: datetime | None = None) -> str:
    """The task ticked (COMPLETED, with when) or unticked (NEEDS-ACTION)."""
    current = task_of(text)
    state = "COMPLETED" if done else "NEEDS-ACTION"
    percent = 100 if done else 0
    return edit_task(
        text,
        TaskFields(current.title, current.due, current.priority, current.notes, percent, state),
        now,
    )


# -- helpers -----------------------------------------------------------------------------


def _check_event(fields: EventFields) -> None:
    if not fields.title.strip():
        raise FormError("an event needs a title")
    for text in (fields.title, fields.location, fields.description):
        if len(text) > MAX_TEXT:
            raise FormError(f"at most {MAX_TEXT} characters a field")
    if fields.all_day != (not isinstance(fields.start, datetime)):
        raise FormError("an all-day event has dates, a timed one times")
    if isinstance(fields.start, datetime) != isinstance(fields.end, datetime):
        raise FormError("start and end must both be dates or both times")
    if fields.end < fields.start:
        raise FormError("the end is before the start")
    if fields.reminder is not None and not 0 <= fields.reminder <= 40_320:
        raise FormError("a reminder is at most four weeks before")
    repeat = fields.repeat
    if repeat is not None:
        if repeat.freq not in FREQUENCIES:
            raise FormError("repeat daily, weekly, monthly or yearly")
        if not 1 <= repeat.interval <= 999:
            raise FormError("repeat every 1 to 999 periods")
        if any(day not in WEEKDAYS for day in repeat.weekdays):
            raise FormError("unknown weekday")
        if repeat.count is not None and not 1 <= repeat.count <= MAX_COUNT:
            raise FormError(f"repeat 1 to {MAX_COUNT} times")
        start_day = fields.start.date() if isinstance(fields.start, datetime) else fields.start
        if repeat.until is not None and repeat.until < start_day:
            raise FormError("the series ends before it begins")
    for address in fields.attendees:
        if "@" not in address or any(c in address for c in ' \r\n\t<>,;:"'):
            raise FormError(f"not an e-mail address: {address!r}")


def _check_task(fields: TaskFields) -> None:
    if not fields.title.strip():
        raise FormError("a task needs a title")
    if len(fields.title) > MAX_TEXT or len(fields.notes) > MAX_TEXT:
        raise FormError(f"at most {MAX_TEXT} characters a field")
    if fields.priority and fields.priority not in PRIORITIES:
        raise FormError("priority is high, medium or low")
    if not 0 <= fields.percent <= 100:
        raise FormError("done is 0 to 100 percent")
    if fields.status not in TASK_STATES:
        raise FormError("unknown task status")


def _write_event(
    event: icalendar.cal.Component, fields: EventFields, organizer: str, answers: dict[str, str]
) -> None:
    """Put the form's fields into `event`, replacing what the form owns."""
    for name in (*_EVENT_FORM, "ORGANIZER", "ATTENDEE"):
        event.pop(name, None)
    event.subcomponents = [c for c in event.subcomponents if c.name != "VALARM"]
    event.add("summary", fields.title.strip())
    if fields.all_day:
        event.add("dtstart", fields.start)
        event.add("dtend", fields.end + timedelta(days=1))
    else:
        event.add("dtstart", fields.start)
        event.add("dtend", fields.end)
    if fields.location.strip():
        event.add("location", fields.location.strip())
    if fields.description.strip():
        event.add("description", fields.description)
    if fields.repeat is not None:
        event.add("rrule", _rule(fields.repeat, fields.start))
    if fields.reminder is not None:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", fields.title.strip())
        alarm.add("trigger", timedelta(minutes=-fields.reminder))
        event.add_component(alarm)
    attendees = [a.lower() for a in dict.fromkeys(fields.attendees) if a.lower() != organizer]
    if attendees:
        event.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"))
        chair = icalendar.vCalAddress(f"mailto:{organizer}")
        chair.params.update({"ROLE": "CHAIR", "PARTSTAT": "ACCEPTED"})
        event.add("attendee", chair, encode=False)
        for address in attendees:
            value = icalendar.vCalAddress(f"mailto:{address}")
            value.params["ROLE"] = "REQ-PARTICIPANT"
            value.params["PARTSTAT"] = answers.get(address, "NEEDS-ACTION")
            if value.params["PARTSTAT"] == "NEEDS-ACTION":
                value.params["RSVP"] = "TRUE"
            event.add("attendee", value, encode=False)
    _touch(event)


def _write_task(todo: icalendar.cal.Component, fields: TaskFields, now: datetime | None) -> None:
    was_done = str(todo.get("STATUS", "")).upper() == "COMPLETED"
    for name in _TASK_FORM:
        todo.pop(name, None)
    todo.add("summary", fields.title.strip())
    if fields.due is not None:
        todo.add("due", fields.due)
    if fields.notes.strip():
        todo.add("description", fields.notes)
    if fields.priority:
        todo.add("priority", PRIORITIES[fields.priority])
    todo.add("status", fields.status)
    percent = 100 if fields.status == "COMPLETED" else fields.percent
    if percent:
        todo.add("percent-complete", percent)
    if fields.status == "COMPLETED":
        if not was_done or "COMPLETED" not in todo:
            todo.pop("COMPLETED", None)
            todo.add("completed", (now or datetime.now(UTC)).astimezone(UTC))
    else:
        todo.pop("COMPLETED", None)
    _touch(todo, now)


def _touch(component: icalendar.cal.Component, now: datetime | None = None) -> None:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        component.pop(name, None)
    component.add("dtstamp", moment)
    component.add("last-modified", moment)


def _rule(repeat: Repeat, start: datetime | date) -> icalendar.vRecur:
    rule: dict[str, Any] = {"FREQ": repeat.freq}
    if repeat.interval > 1:
        rule["INTERVAL"] = repeat.interval
    if repeat.weekdays and repeat.freq == "WEEKLY":
        rule["BYDAY"] = list(repeat.weekdays)
    if repeat.count is not None:
        rule["COUNT"] = repeat.count
    elif repeat.until is not None:
        if isinstance(start, datetime):  # the whole last day may have one (RFC 5545: UTC)
            last = datetime.combine(repeat.until, time(23, 59, 59), start.tzinfo)
            rule["UNTIL"] = last.astimezone(UTC)
        else:
            rule["UNTIL"] = repeat.until
    return icalendar.vRecur(rule)


def _repeat(event: icalendar.cal.Component) -> Repeat | None:
    rule = event.get("RRULE")
    if rule is None:
        return None
    rule = rule[0] if isinstance(rule, list) else rule
    freq = str((rule.get("FREQ") or [""])[0]).upper()
    if freq not in FREQUENCIES:
        return None
    until = (rule.get("UNTIL") or [None])[0]
    if isinstance(until, datetime):
        start = _dt(event, "DTSTART")
        until = until.astimezone(start.tzinfo if isinstance(start, datetime) else UTC).date()
    count = (rule.get("COUNT") or [None])[0]
    return Repeat(
        freq=freq,
        interval=int((rule.get("INTERVAL") or [1])[0]),
        weekdays=tuple(str(d).upper() for d in rule.get("BYDAY", []) if str(d).upper() in WEEKDAYS),
        until=until,
        count=int(count) if count is not None else None,
    )


def _reminder(event: icalendar.cal.Component) -> int | None:
    for alarm in event.subcomponents:
        if alarm.name != "VALARM":
            continue
        trigger = alarm.get("TRIGGER")
        if trigger is not None and isinstance(trigger.dt, timedelta):
            return max(0, int(-trigger.dt.total_seconds() // 60))
    return None


def _calendar(components: list[icalendar.cal.Component], around: date | datetime | None) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    for component in components:
        calendar.add_component(component)
    return _rewritten(calendar, around)


def _rewritten(calendar: icalendar.Calendar, around: date | datetime | None) -> str:
    """The calendar as text, with a VTIMEZONE for each zone it uses (kept if present;
    written from the zone's rules for ZONE_YEARS around `around`)."""
    day = around.date() if isinstance(around, datetime) else around
    first = date((day or date.today()).year - 1, 1, 1)
    calendar.add_missing_timezones(first, date(first.year + ZONE_YEARS, 1, 1))
    return str(calendar.to_ical().decode())


def _parse(text: str) -> icalendar.Calendar:
    try:
        return icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as error:
        raise FormError(f"not an iCalendar object: {error}") from error


def _master(calendar: icalendar.Calendar, name: str) -> icalendar.cal.Component:
    first = None
    for component in calendar.subcomponents:
        if component.name != name:
            continue
        if "RECURRENCE-ID" not in component:
            return component
        first = first or component
    if first is None:
        raise FormError(f"no {name} in this object")
    return first


def _override(calendar: icalendar.Calendar, recurrence_id: str) -> icalendar.cal.Component | None:
    for component in calendar.subcomponents:
        if component.name == "VEVENT" and _recurrence_key(component) == recurrence_id:
            return component
    return None


def _recurrence_key(component: icalendar.cal.Component) -> str:
    """An occurrence's name in URLs and forms: its original start in UTC (or its day)."""
    value = component.get("RECURRENCE-ID")
    if value is None:
        return ""
    return occurrence_key(value.dt)


def occurrence_key(value: datetime | date) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _occurrence_start(master: icalendar.cal.Component, key: str) -> datetime | date:
    """The original start that `key` names, in the master's own kind and zone."""
    start = _dt(master, "DTSTART")
    try:
        if isinstance(start, datetime):
            moment = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return moment.astimezone(start.tzinfo) if start.tzinfo else moment.replace(tzinfo=None)
        return datetime.strptime(key, "%Y%m%d").date()
    except ValueError as error:
        raise FormError(f"no occurrence {key!r}") from error


def _same_kind(value: datetime | date, like: datetime | date) -> datetime | date:
    if isinstance(like, datetime) and not isinstance(value, datetime):
        return datetime.combine(value, time(), like.tzinfo)
    if isinstance(value, datetime) and not isinstance(like, datetime):
        return value.date()
    if (
        isinstance(value, datetime)
        and isinstance(like, datetime)
        and (value.tzinfo is None) != (like.tzinfo is None)
    ):
        return value.replace(tzinfo=like.tzinfo)
    return value


def _shifted(master: icalendar.cal.Component, key: str, fields: EventFields) -> EventFields:
    """Fields edited on one occurrence applied to the whole series: the series moves by
    as much as that occurrence did (its first day stays the first)."""
    original = _occurrence_start(master, key)
    delta = _same_kind(fields.start, original) - original
    first = _dt(master, "DTSTART")
    start = _same_kind(first, fields.start) + delta
    length = fields.end - fields.start  # type: ignore[operator]
    if isinstance(start, datetime) and isinstance(fields.start, datetime):
        start = start.astimezone(fields.start.tzinfo)
    return replace(fields, start=start, end=start + length)


def _moved(event: icalendar.cal.Component, fields: EventFields) -> bool:
    """Whether the form changes when the event happens (attendees are asked again)."""
    before = event_fields(_one(event))
    return (before.start, before.end, before.repeat) != (fields.start, fields.end, fields.repeat)


def _one(event: icalendar.cal.Component) -> str:
    calendar = icalendar.Calendar()
    calendar.add_component(event)
    return str(calendar.to_ical().decode())


def _bump_sequence(event: icalendar.cal.Component) -> None:
    sequence = int(event.get("SEQUENCE", 0) or 0)
    event.pop("SEQUENCE", None)
    event.add("sequence", sequence + 1)


def _dt(component: icalendar.cal.Component, name: str) -> Any:
    value = component.get(name)
    if value is None:
        raise FormError(f"no {name}")
    try:
        return value.dt
    except Exception as error:  # icalendar keeps a broken value and raises on reading it
        raise FormError(f"{name} cannot be read: {error}") from None


def _end(event: icalendar.cal.Component) -> Any:
    start = _dt(event, "DTSTART")
    if "DTEND" in event:
        return _same_kind(_dt(event, "DTEND"), start)
    if "DURATION" in event:
        duration: Any = event["DURATION"]
        return start + duration.dt
    return start + timedelta(days=1) if not isinstance(start, datetime) else start


def _all(component: icalendar.cal.Component, name: str) -> list[Any]:
    value = component.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _address(value: object) -> str:
    text = str(value).strip()
    return (text[7:] if text.lower().startswith("mailto:") else text).lower()


def _organizer(event: icalendar.cal.Component) -> str:
    value = event.get("ORGANIZER")
    return _address(value) if value is not None else ""


def _attendees(event: icalendar.cal.Component) -> list[str]:
    return [_address(value) for value in _all(event, "ATTENDEE")]


def _answers(event: icalendar.cal.Component) -> dict[str, str]:
    return {
        _address(value): str(value.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
        for value in _all(event, "ATTENDEE")
    }


def local(value: datetime | date, where: tzinfo) -> datetime | date:
    """A datetime in the viewer's zone (floating ones are taken as being there)."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=where)
    return value.astimezone(where)
