"""What is stored of a calendar object or vCard besides its text: UID, etag, component
and enclosing time range, read with Radicale's own item code (so that our indexes agree
with how Radicale filters). Every path that stores an item describes it here, so this is
where the recurrence limit (mime/recurrence.py) holds for all of them. Pure: text in,
facts out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from radicale import item as radicale_item
from radicale import pathutils

from groupware.mime import recurrence, vobjectloops


@dataclass(frozen=True)
class ItemFacts:
    uid: str
    etag: str
    component: str  # VEVENT, VTODO, VJOURNAL; "" for a vCard
    start_ts: int
    end_ts: int
    text: str


def describe(item: radicale_item.Item) -> ItemFacts:
    """recurrence.TooManyInstances (a ValueError) when a calendar object's recurrences
    are over the limit: checked before anything walks them."""
    if item.name == "VCALENDAR":
        recurrence.check(item.vobject_item)
    start, end = item.time_range
    return ItemFacts(item.uid, item.etag, item.component_name, start, end, item.serialize())


def describe_text(collection_path: str, text: str) -> ItemFacts:
    """ValueError when `text` is not one calendar object or vCard, TooManyInstances (a
    ValueError too) when it is one over the recurrence limit. Radicale's item code raises
    what vobject and its time-range walk meet in broken text (RuntimeError,
    AttributeError, TypeError, KeyError...); its own PUT answers any of them 400."""
    sane = pathutils.strip_path(pathutils.sanitize_path(collection_path))
    linear_line_parsing()  # text from mail comes here too, not only through the DAV app
    try:
        return describe(radicale_item.Item(collection_path=sane, text=text))
    except recurrence.TooManyInstances:
        raise
    except Exception as error:
        raise ValueError(f"not one calendar object or vCard: {error}") from error


_UTC_NAMES = frozenset({"utc", "gmt", "etc/utc", "etc/gmt", "z", "zulu", "universal"})
_installed = False
_linear = False
# vobject's content line (its base.patterns['line']) with the parameter part written so
# that every "=" or "," outside quotes starts the next value: the same lines match, with
# the same groups (tests compare them on random lines), each in linear time.
_PARAM = r"""; (?: {name} ) (?: [=,] (?: "[^"]*" | [^";:,=]* ) )*"""
_LINE = r"""^ ((?P<group> {name})\.)?(?P<name> {name}) (?P<params> ;?(?: {param} )* )
: (?P<value> .* )$"""


def linear_line_parsing() -> None:
    """vobject (Radicale's parser) reads each content line with an expression that
    nests a star in a star over values that may be empty: "EMAIL;TYPE" and 30 commas
    took minutes, two commas more four times as long (found fuzzing; a DAV PUT or a
    mailed invitation could hold it). Its `line_re` is replaced by the linear one, and
    its loops over one long line by linear ones (mime/vobjectloops.py)."""
    global _linear
    if _linear:
        return
    from vobject import base

    vobjectloops.install()  # and its loops over one long line
    name = base.patterns["name"]
    line = _LINE.format(name=name, param=_PARAM.format(name=name))
    base.line_re = re.compile(line, re.DOTALL | re.VERBOSE)
    _linear = True


def faster_timezones() -> None:
    """vobject (which Radicale parses with) names each VTIMEZONE it reads by first asking
    whether the zone equals UTC, which walks its DST rules from their 1970 start: about
    4 ms per calendar object with a VTIMEZONE, most of a PUT. A zone that carries its own
    TZID (dateutil's tzical does) is named by it instead, unless the name says UTC, where
    the original check still runs. Same results (tests compare time ranges), no walk."""
    global _installed
    if _installed:
        return
    from vobject import icalendar as vobject_icalendar

    original = vobject_icalendar.TimezoneComponent.pickTzid

    def pick_tzid(tzinfo: object, allowUTC: bool = False) -> object:
        name = getattr(tzinfo, "_tzid", None)
        if name and str(name).strip().lower() not in _UTC_NAMES:
            return vobject_icalendar.toUnicode(name)
        return original(tzinfo, allowUTC)

    vobject_icalendar.TimezoneComponent.pickTzid = staticmethod(pick_tzid)
    _installed = True
