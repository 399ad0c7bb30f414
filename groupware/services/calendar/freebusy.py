"""When people, rooms and equipment are busy: the one reading of free/busy, for the
portal's scheduling assistant, a room's answer to an invitation, and CalDAV clients'
free-busy queries on the schedule outbox (RFC 6638 §5).

Busy time comes from the events of the calendars in the person's own home: opaque
(TRANSP not TRANSPARENT), not cancelled, and not declined by them; events they have not
accepted yet (or accepted tentatively) are BUSY-TENTATIVE (RFC 5545 §3.2.9). Nothing but
the times leaves here: no title, place or attendee.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from groupware.mime import icalform
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import COMPONENTS

log = logging.getLogger(__name__)
BUSY, TENTATIVE = "BUSY", "BUSY-TENTATIVE"
MAX_SPAN = timedelta(days=366)  # the longest time one query may ask about
MAX_PEOPLE = 50  # people one query may ask about
STEP = timedelta(minutes=15)  # the grid "next free slot" tries starts on
# Seconds one person's free/busy may take: a calendar of costly series (each within the
# recurrence limit) shows as busy rather than hold a thread for minutes.
BUDGET = 2.0


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC
    end: datetime
    kind: str  # BUSY or BUSY-TENTATIVE


class FreeBusy:
    def __init__(self, calendars: Calendars) -> None:
        self._calendars = calendars

    def busy(
        self, address: str, start: datetime, end: datetime, *, besides: str = ""
    ) -> list[Period]:
        """The busy periods of the user or resource `address` within [start, end)
        (clipped to it, merged, in order), leaving out the event with UID `besides`."""
        if end - start > MAX_SPAN:
            raise ValueError("free/busy spans at most a year")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        found: list[Period] = []
        deadline = time.monotonic() + BUDGET
        for row in self._calendars.children(address):
            if row.tag != "VCALENDAR" or "VEVENT" not in (row.props.get(COMPONENTS) or "VEVENT"):
                continue
            low, high = int(start.timestamp()), int(end.timestamp())
            for item in self._calendars.items_in_range(row.id, "VEVENT", low, high):
                if time.monotonic() > deadline:  # costlier than anyone's day: all busy
                    log.warning("free/busy of %s over its budget: shown busy", address)
                    return [Period(start, end, BUSY)]
                try:
                    occurrences = icalform.occurrences(item.text, start, end)
                except (icalform.FormError, ValueError, TypeError, KeyError):
                    continue
                for occurrence in occurrences:
                    if occurrence.uid == besides or occurrence.cancelled or not occurrence.busy:
                        continue
                    answer = occurrence.answers.get(address, "ACCEPTED")
                    if answer == "DECLINED":
                        continue
                    kind = BUSY if answer == "ACCEPTED" else TENTATIVE
                    begins, ends = as_utc(occurrence.start), as_utc(occurrence.end)
                    if ends > start and begins < end:
                        found.append(Period(max(begins, start), min(ends, end), kind))
        return _merged(found)

    def of_many(
        self, addresses: list[str], start: datetime, end: datetime, *, besides: str = ""
    ) -> dict[str, list[Period]]:
        if len(addresses) > MAX_PEOPLE:
            raise ValueError(f"free/busy of at most {MAX_PEOPLE} at once")
        return {a: self.busy(a, start, end, besides=besides) for a in addresses}

    def next_free(
        self,
        addresses: list[str],
        after: datetime,
        length: timedelta,
        *,
        within: timedelta = timedelta(days=14),
        besides: str = "",
        day_starts: int = 8,
        day_ends: int = 18,
        zone: str = "UTC",
    ) -> datetime | None:
        """The first start (on the STEP grid, within working hours day_starts to
        day_ends in `zone`, Monday to Friday) from `after` when everyone is free for
        `length`; None within `within`."""
        where = icalform.zone(zone)
        busy = [
            p
            for periods in self.of_many(
                addresses, after, after + within + length, besides=besides
            ).values()
            for p in periods
        ]
        candidate = _on_grid(after.astimezone(where))
        last = after + within
        while candidate < last:
            ends = candidate + length
            local_end = ends.astimezone(where)
            working = (
                candidate.weekday() < 5
                and candidate.hour >= day_starts
                and (local_end.hour, local_end.minute) <= (day_ends, 0)
                and local_end.date() == candidate.date()
            )
            if working and not any(p.start < ends and p.end > candidate for p in busy):
                return candidate
            candidate = candidate + STEP
            if candidate.hour >= day_ends or candidate.weekday() >= 5:
                following = candidate.date() + timedelta(days=1)
                candidate = datetime(
                    following.year, following.month, following.day, day_starts, tzinfo=where
                )
        return None


def as_utc(value: datetime | object) -> datetime:
    """A datetime in UTC (a floating one taken as UTC); a date: its start, in UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    day = value  # a date: the whole day, in UTC
    return datetime(day.year, day.month, day.day, tzinfo=UTC)  # type: ignore[attr-defined]


def _merged(periods: list[Period]) -> list[Period]:
    """Overlapping periods of one kind joined; BUSY wins over tentative where both are."""
    merged: list[Period] = []
    for period in sorted(periods, key=lambda p: (p.start, p.kind != BUSY)):
        if merged and period.start <= merged[-1].end and period.kind == merged[-1].kind:
            last = merged[-1]
            merged[-1] = Period(last.start, max(last.end, period.end), last.kind)
        else:
            merged.append(period)
    return merged


def _on_grid(moment: datetime) -> datetime:
    minutes = STEP.seconds // 60
    rounded = moment.replace(second=0, microsecond=0)
    extra = rounded.minute % minutes
    return rounded + timedelta(minutes=(minutes - extra) % minutes) if extra else rounded
