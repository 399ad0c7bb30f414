"""RFC 6638 scheduling as CalDAV clients discover and use it, beside Radicale (which has
none): the principal's scheduling properties, the schedule inbox and outbox, and
free-busy queries POSTed to the outbox.

- The principal answers `calendar-user-address-set` with the user's addresses as
  `mailto:` hrefs (Thunderbird takes the first `mailto:` as its user; without one it
  decided the server does not schedule and mailed invitations itself, while we, saying
  `calendar-auto-schedule`, mailed them too), `schedule-inbox-URL`,
  `schedule-outbox-URL`, `schedule-default-calendar-URL` and `calendar-user-type`.
- `<home>/inbox/` and `<home>/outbox/` are collections of their own kinds, always empty:
  the server delivers invitations into calendars itself (scheduling.py), so there is
  nothing for a client to fetch there (Thunderbird never polls an auto-scheduling
  server's inbox; Apple asks it exists).
- A POST of a VFREEBUSY REQUEST to the outbox answers a `schedule-response` with each
  recipient's busy time (services/calendar/freebusy.py), as Thunderbird's and Apple's
  schedulers ask (RFC 6638 §5).

Radicale's own PROPFIND also names its version (`RADICALE:version`): taken out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from http import client
from typing import Any

import icalendar
from radicale import xmlutils

from groupware.services.calendar.freebusy import MAX_PEOPLE, FreeBusy

C = "urn:ietf:params:xml:ns:caldav"
D = "DAV:"
BOXES = ("inbox", "outbox")
PRINCIPAL_PROPERTIES = (
    "calendar-user-address-set",
    "schedule-inbox-URL",
    "schedule-outbox-URL",
    "schedule-default-calendar-URL",
    "calendar-user-type",
)
VERSION = "{http://radicale.org/ns/}version"
MAX_BODY = 64 * 1024  # a free-busy query is a few hundred bytes
WSGIResponse = tuple[int, dict[str, str], bytes | None, None]


def box_of(path: str) -> tuple[str, str] | None:
    """(home, "inbox" or "outbox") when `path` (Radicale's, "/alice@x/inbox/") names a
    schedule box."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[1] in BOXES and parts[0] and not parts[0].startswith("+"):
        return parts[0], parts[1]
    return None


def principal_of(path: str) -> str | None:
    """The home a PROPFIND of a principal (its home collection) names, or None."""
    stripped = path.strip("/")
    return stripped if stripped and "/" not in stripped and not stripped.startswith("+") else None


def with_principal_properties(
    body: bytes, base: str, home: str, addresses: list[str], default_calendar: str
) -> bytes:
    """A PROPFIND answer with the principal's scheduling properties filled in where asked
    (Radicale put them in a 404 propstat, or wrote calendar-user-address-set with the
    principal's URL only), and without RADICALE:version."""
    try:
        tree = ET.fromstring(body)  # noqa: S314  (Radicale's own answer, not a client's)
    except ET.ParseError:
        return body
    principal = xmlutils.make_href(base, f"/{home}/")
    changed = False
    for response in tree.findall(f"{{{D}}}response"):
        href = response.findtext(f"{{{D}}}href", "")
        for propstat in response.findall(f"{{{D}}}propstat"):
            prop = propstat.find(f"{{{D}}}prop")
            if prop is None:
                continue
            for element in list(prop):
                if element.tag == VERSION:
                    prop.remove(element)
                    changed = True
        if href != principal:
            continue
        values = {
            "calendar-user-address-set": [f"mailto:{a}" for a in addresses] + [principal],
            "schedule-inbox-URL": [xmlutils.make_href(base, f"/{home}/inbox/")],
            "schedule-outbox-URL": [xmlutils.make_href(base, f"/{home}/outbox/")],
            "schedule-default-calendar-URL": [xmlutils.make_href(base, default_calendar)],
        }
        found = _fill(response, values)
        changed = changed or found
    for response in tree.findall(f"{{{D}}}response"):  # a propstat left with no prop goes
        for propstat in response.findall(f"{{{D}}}propstat"):
            prop = propstat.find(f"{{{D}}}prop")
            if prop is not None and len(prop) == 0 and response.findall(f"{{{D}}}propstat")[1:]:
                response.remove(propstat)
    if not changed:
        return body
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(tree)


def _fill(response: ET.Element, values: dict[str, list[str]]) -> bool:
    """Move each asked-for scheduling property into the 200 propstat, with its value."""
    ok = _propstat(response, "200")
    moved = False
    for propstat in response.findall(f"{{{D}}}propstat"):
        prop = propstat.find(f"{{{D}}}prop")
        if prop is None:
            continue
        for element in list(prop):
            name = element.tag.rsplit("}", 1)[-1]
            if not element.tag.startswith(f"{{{C}}}") or name not in PRINCIPAL_PROPERTIES:
                continue
            prop.remove(element)
            filled = ET.Element(element.tag)
            if name == "calendar-user-type":
                filled.text = "INDIVIDUAL"
            for value in values.get(name, []):
                ET.SubElement(filled, f"{{{D}}}href").text = value
            ok.append(filled)
            moved = True
    return moved


def _propstat(response: ET.Element, status: str) -> ET.Element:
    """The response's prop element of the propstat with `status` (made if missing)."""
    for propstat in response.findall(f"{{{D}}}propstat"):
        if f" {status} " in (propstat.findtext(f"{{{D}}}status") or ""):
            prop = propstat.find(f"{{{D}}}prop")
            if prop is not None:
                return prop
    propstat = ET.Element(f"{{{D}}}propstat")
    prop = ET.SubElement(propstat, f"{{{D}}}prop")
    ET.SubElement(propstat, f"{{{D}}}status").text = f"HTTP/1.1 {status} OK"
    response.insert(1, propstat)
    return prop


def box_propfind(base: str, home: str, box: str) -> WSGIResponse:
    """A box's PROPFIND (any depth: it holds nothing): its kind and the privileges its
    owner has on it (RFC 6638 §2.1, §2.2)."""
    multistatus = ET.Element(f"{{{D}}}multistatus")
    response = ET.SubElement(multistatus, f"{{{D}}}response")
    ET.SubElement(response, f"{{{D}}}href").text = xmlutils.make_href(base, f"/{home}/{box}/")
    propstat = ET.SubElement(response, f"{{{D}}}propstat")
    prop = ET.SubElement(propstat, f"{{{D}}}prop")
    kind = ET.SubElement(prop, f"{{{D}}}resourcetype")
    ET.SubElement(kind, f"{{{D}}}collection")
    ET.SubElement(kind, f"{{{C}}}schedule-{box}")
    ET.SubElement(prop, f"{{{D}}}displayname").text = box.capitalize()
    privileges = ET.SubElement(prop, f"{{{D}}}current-user-privilege-set")
    held = (
        ("D", "read"),
        *(
            (("C", "schedule-deliver"), ("C", "schedule-query-freebusy"))
            if box == "inbox"
            else (("C", "schedule-send"), ("C", "schedule-send-freebusy"))
        ),
    )
    for space, name in held:
        privilege = ET.SubElement(privileges, f"{{{D}}}privilege")
        ET.SubElement(privilege, f"{{{D if space == 'D' else C}}}{name}")
    ET.SubElement(propstat, f"{{{D}}}status").text = "HTTP/1.1 200 OK"
    return _xml(client.MULTI_STATUS, multistatus)


def box_report(base: str, home: str, box: str) -> WSGIResponse:
    """Any REPORT on a box: nothing in it (a sync-collection gets a token that stays)."""
    multistatus = ET.Element(f"{{{D}}}multistatus")
    ET.SubElement(multistatus, f"{{{D}}}sync-token").text = f"http://groupware/ns/sync/{box}-empty"
    return _xml(client.MULTI_STATUS, multistatus)


def freebusy_query(
    body: bytes, originators: list[str], known: Callable[[str], bool], freebusy: FreeBusy
) -> WSGIResponse:
    """A POST to the outbox: a VFREEBUSY REQUEST (RFC 6638 §5, RFC 5546 §3.3.1) from one
    of the user's own addresses (`originators`), answered recipient by recipient with
    their busy time; recipients who are not `known` (our users and resources) get 3.7."""
    if len(body) > MAX_BODY:
        return _plain(client.REQUEST_ENTITY_TOO_LARGE, "Request body too large")
    try:
        calendar = icalendar.Calendar.from_ical(body.decode("utf-8"))
        request: Any = next(iter(calendar.walk("VFREEBUSY")))
        start = _utc(request["DTSTART"].dt)
        end = _utc(request["DTEND"].dt)
        organizer = _address(request.get("ORGANIZER", ""))
        attendees = request.get("ATTENDEE", [])
        listed = attendees if isinstance(attendees, list) else [attendees]
        recipients = list(dict.fromkeys(_address(a) for a in listed))  # each asked once
    except (ValueError, KeyError, StopIteration, UnicodeDecodeError, AttributeError, TypeError):
        return _plain(client.BAD_REQUEST, "Not a VFREEBUSY request")
    if str(calendar.get("METHOD", "")).upper() != "REQUEST" or not recipients:
        return _plain(client.BAD_REQUEST, "Not a VFREEBUSY request")
    if organizer not in originators:
        return _plain(client.FORBIDDEN, "The organizer is not you")
    if len(recipients) > MAX_PEOPLE or not start < end:
        return _plain(client.BAD_REQUEST, "Too many recipients, or no time between start and end")
    answer = ET.Element(f"{{{C}}}schedule-response")
    for recipient in recipients:
        response = ET.SubElement(answer, f"{{{C}}}response")
        ET.SubElement(
            ET.SubElement(response, f"{{{C}}}recipient"), f"{{{D}}}href"
        ).text = f"mailto:{recipient}"
        if not known(recipient):
            ET.SubElement(response, f"{{{C}}}request-status").text = "3.7;Invalid calendar user"
            continue
        try:
            periods = freebusy.busy(recipient, start, end)
        except ValueError:
            ET.SubElement(response, f"{{{C}}}request-status").text = "3.8;Time range too long"
            continue
        ET.SubElement(response, f"{{{C}}}request-status").text = "2.0;Success"
        reply = icalendar.Calendar()
        reply.add("prodid", "-//groupware//freebusy//EN")
        reply.add("version", "2.0")
        reply.add("method", "REPLY")
        block = icalendar.FreeBusy()
        block.add("uid", str(request.get("UID", "")) or "freebusy")
        block.add("dtstamp", datetime.now(UTC))
        block.add("dtstart", start)
        block.add("dtend", end)
        block.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"))
        block.add("attendee", icalendar.vCalAddress(f"mailto:{recipient}"))
        for period in periods:  # one period a line: Thunderbird reads them so
            value = icalendar.vPeriod((period.start, period.end))
            block.add("freebusy", value, parameters={"FBTYPE": period.kind})
        reply.add_component(block)
        ET.SubElement(response, f"{{{C}}}calendar-data").text = reply.to_ical().decode()
    return _xml(client.OK, answer)


def _xml(status: int, element: ET.Element) -> WSGIResponse:
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element)
    return status, {"Content-Type": "application/xml; charset=utf-8"}, body, None


def _plain(status: int, text: str) -> WSGIResponse:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, (text + "\n").encode(), None


def _address(value: object) -> str:
    text = str(value).strip()
    return (text[7:] if text.lower().startswith("mailto:") else text).lower()


def _utc(value: object) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    raise ValueError("a free-busy query gives times")
