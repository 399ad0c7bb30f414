"""iTIP (RFC 5546) on iCalendar text, and iMIP (RFC 6047) messages carrying it. Pure:
text in, text or bytes out. `Scheduling` (services/calendar/scheduling.py) decides when to send.

Addresses are compared lower-cased without "mailto:". Only the parts of an event that
scheduling needs are read: ORGANIZER, ATTENDEE with PARTSTAT, SEQUENCE, UID, SUMMARY and
DTSTART of the first VEVENT/VTODO (the master; overrides share its attendees here).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr

import icalendar

SCHEDULED = ("VEVENT", "VTODO")
SCHEDULING_PARAMS = ("SCHEDULE-AGENT", "SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND")
NEEDS_ACTION = "NEEDS-ACTION"
_HEADER_ADDRESS = re.compile(r"[\x21-\x3b=\x3f-\x7e]+")  # printable ASCII but "<" and ">"


class NotScheduling(ValueError):
    """The text is not iCalendar, or has no organizer and attendees to schedule."""


@dataclass(frozen=True)
class Scheduled:
    """What scheduling reads of an event."""

    uid: str
    organizer: str
    attendees: dict[str, str]  # address → PARTSTAT
    sequence: int
    summary: str
    start: str  # as written, for the mail's text
    method: str  # METHOD of an iMIP body, "" in a stored calendar
    # Attendees (and the organizer) whose client schedules for them, as its
    # SCHEDULE-AGENT=CLIENT or NONE says (RFC 6638 §7.1): the server sends them nothing.
    by_client: frozenset[str] = frozenset()


def address_of(value: object) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()


def read(text: str) -> Scheduled:
    """The scheduling facts of an iCalendar text; NotScheduling when there are none."""
    try:
        return _read(text)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        if isinstance(error, NotScheduling):
            raise
        raise NotScheduling(f"unreadable: {error}") from None


def _read(text: str) -> Scheduled:
    calendar = _parse(text)
    component = _first(calendar)
    organizer = component.get("ORGANIZER")
    if organizer is None:
        raise NotScheduling("no ORGANIZER")
    for other in calendar.walk():  # cancelled() raises every override's SEQUENCE too
        if other.name in SCHEDULED:
            _sequence(other)
    attendees = {}
    by_client = {address_of(organizer)} if _scheduled_by_client(organizer) else set()
    for attendee in _list(component.get("ATTENDEE")):
        partstat = str(attendee.params.get("PARTSTAT", NEEDS_ACTION)).upper()
        attendees[address_of(attendee)] = partstat
        if _scheduled_by_client(attendee):
            by_client.add(address_of(attendee))
    start = component.get("DTSTART")
    return Scheduled(
        uid=str(component.get("UID", "")),
        organizer=address_of(organizer),
        attendees=attendees,
        sequence=_sequence(component),
        summary=str(component.get("SUMMARY", "")),
        start=start.to_ical().decode() if start is not None else "",
        method=str(calendar.get("METHOD", "")).upper(),
        by_client=frozenset(by_client),
    )


def _scheduled_by_client(address: object) -> bool:
    params = getattr(address, "params", {})
    return str(params.get("SCHEDULE-AGENT", "SERVER")).upper() in ("CLIENT", "NONE")


def with_method(text: str, method: str) -> str:
    """The calendar as an iTIP message: METHOD set (RFC 5546 §3.2)."""
    calendar = _without_agents(_parse(text))
    calendar.pop("METHOD", None)
    calendar.add("METHOD", method)
    return str(calendar.to_ical().decode())


def without_method(text: str) -> str:
    """An iTIP message as a calendar to store (METHOD is not allowed there, RFC 4791)."""
    calendar = _without_agents(_parse(text))
    calendar.pop("METHOD", None)
    return str(calendar.to_ical().decode())


def set_partstat(text: str, attendee: str, partstat: str) -> str:
    """`attendee`'s PARTSTAT set in every component (master and overrides)."""
    calendar = _parse(text)
    for component in calendar.walk():
        if component.name not in SCHEDULED:
            continue
        for value in _list(component.get("ATTENDEE")):
            if address_of(value) == attendee:
                value.params["PARTSTAT"] = partstat
                value.params.pop("RSVP", None)
    return str(calendar.to_ical().decode())


def reply(text: str, attendee: str, comment: str = "", method: str = "REPLY") -> str:
    """RFC 5546 §3.2.3 REPLY (or §3.2.7 COUNTER, the event moved to the time the
    attendee proposes): the event with only the replying attendee (and its `comment`, a
    room's reason for declining, say)."""
    calendar = _without_agents(_parse(text))
    calendar.pop("METHOD", None)
    calendar.add("METHOD", method)
    for component in calendar.walk():
        if component.name not in SCHEDULED:
            continue
        mine = [v for v in _list(component.get("ATTENDEE")) if address_of(v) == attendee]
        component.pop("ATTENDEE", None)
        for value in mine:
            component.add("ATTENDEE", value)
        if comment:
            component.pop("COMMENT", None)
            component.add("COMMENT", comment)
    return str(calendar.to_ical().decode())


def cancelled(text: str) -> str:
    """RFC 5546 §3.2.5 CANCEL: STATUS:CANCELLED and SEQUENCE one higher."""
    calendar = _without_agents(_parse(text))
    calendar.pop("METHOD", None)
    calendar.add("METHOD", "CANCEL")
    for component in calendar.walk():
        if component.name in SCHEDULED:
            component.pop("STATUS", None)
            component.add("STATUS", "CANCELLED")
            sequence = _sequence(component) + 1
            component.pop("SEQUENCE", None)
            component.add("SEQUENCE", sequence)
    return str(calendar.to_ical().decode())


def compose(
    *,
    method: str,
    sender: str,
    sender_name: str,
    to: str,
    body: str,
    facts: Scheduled,
    now: datetime | None = None,
    note: str = "",
) -> bytes:
    """An iMIP message (RFC 6047 §2): a short text/plain for people (ending with `note`,
    a room's reason for declining, say) and the iTIP object as text/calendar with its
    method, in multipart/alternative. ValueError when `to` (taken from calendar text) is
    no address this 7-bit header can carry."""
    to = _header_address(to)
    now = now or datetime.now(UTC)
    domain = sender.rpartition("@")[2] or "localhost"
    what = {
        "REQUEST": "Invitation",
        "REPLY": "Reply",
        "CANCEL": "Cancelled",
        "COUNTER": "New time proposed",
    }.get(method, method)
    subject = f"{what}: {facts.summary or '(no title)'}"
    lines = [f"{what}: {facts.summary or '(no title)'}", f"When: {facts.start}"]
    lines.append(f"Organizer: {facts.organizer}")
    if method in ("REPLY", "COUNTER"):
        lines += [f"{who}: {how}" for who, how in facts.attendees.items()]
    if note:
        lines.append(" ".join(note.split()))
    boundary = "=_" + secrets.token_hex(12)
    payload = base64.encodebytes(body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    text = "\r\n".join(lines) + "\r\n"
    head = [
        ("From", formataddr((" ".join(sender_name.split()), sender), charset="utf-8")),
        ("To", f"<{to}>"),
        ("Subject", _encoded(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", f"<{secrets.token_hex(12)}@{domain}>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    parts = [
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n"),
        f"--{boundary}\r\nContent-Type: text/calendar; charset=utf-8; method={method}\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n" + payload,
        f"--{boundary}--\r\n",
    ]
    header = "".join(f"{name}: {value}\r\n" for name, value in head)
    return (header + "\r\n" + "".join(parts)).encode("ascii")


def _encoded(text: str) -> str:
    text = " ".join(text.split())[:200]
    if text.isascii() and text.isprintable():
        return text
    return Header(text, "utf-8").encode(linesep="\r\n")  # RFC 2047, control characters too


def _header_address(address: str) -> str:
    """`address` for the To: field: an IDN domain in A-labels (RFC 5890); ValueError for
    a non-ASCII local part (RFC 6532 is not written here), or for a space, control
    character or angle bracket, which would end the field or the angle-addr early."""
    local, _, domain = address.rpartition("@")
    try:
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"cannot write the address {address!r}") from None
    written = f"{local}@{domain}"
    if not local or not _HEADER_ADDRESS.fullmatch(written):
        raise ValueError(f"cannot write the address {address!r}")
    return written


def _parse(text: str) -> icalendar.Calendar:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as error:  # the library raises ValueError and others on bad input
        raise NotScheduling(f"not iCalendar: {error}") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise NotScheduling("not a VCALENDAR")
    return calendar


def _without_agents(calendar: icalendar.Calendar) -> icalendar.Calendar:
    """RFC 6638 §7.1-7.3: the scheduling parameters of the organizer's server are not sent
    in iTIP messages, nor kept in a copy made from one (an ORGANIZER;SCHEDULE-AGENT=CLIENT
    landing in a local attendee's calendar would silence their answers); nor are the
    organizer's client's X-MOZ- properties."""
    for component in calendar.walk():
        if component.name not in SCHEDULED:
            continue
        for name in ("ORGANIZER", "ATTENDEE"):
            for value in _list(component.get(name)):
                for param in SCHEDULING_PARAMS:
                    value.params.pop(param, None)
        # The organizer's client's own bookkeeping (Thunderbird's X-MOZ-SEND-INVITATIONS,
        # X-MOZ-GENERATION…) is not the attendees' business; Thunderbird strips it from
        # the invitations it sends itself.
        for key in [k for k in component if k.upper().startswith("X-MOZ-")]:
            del component[key]
    return calendar


def _sequence(component: icalendar.cal.Component) -> int:
    """RFC 5545 §3.8.7.4 SEQUENCE: a non-negative integer (32 bits here)."""
    value = str(component.get("SEQUENCE", 0)).strip()
    if not value.isdigit() or len(value) > 10 or int(value) > 2**31 - 1:
        raise NotScheduling(f"bad SEQUENCE {value[:20]!r}")
    return int(value)


def _first(calendar: icalendar.Calendar) -> icalendar.cal.Component:
    for component in calendar.walk():
        if component.name in SCHEDULED and component.get("RECURRENCE-ID") is None:
            return component
    for component in calendar.walk():
        if component.name in SCHEDULED:
            return component
    raise NotScheduling("no VEVENT or VTODO")


def _list(value: object) -> list[icalendar.prop.vCalAddress]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]  # type: ignore[list-item]
