"""Every change this process makes to Radicale, vobject and dateutil, in one place.
`install` puts them all in, once: runtime.build calls it before anything parses a
calendar (DAV, mailed invitations, imports), and dav/app.build for an app built alone.
The replacement code lives with what it serves; here is only what replaces what.

Each change either gives the same answers as the function it replaces, in linear time
or faster (its test compares the two; the replaced functions are kept in `originals`),
or bounds what would run away or answer 500:

- dateutil's walks over recurrences pay from one budget (mime/expansion.py), and vobject
  builds rule sets through it: tests/unit/mime/test_expansion.py;
- Radicale's PUT checks, time-range tests, expansions and free-busy are held to the
  recurrence limit (dav/recurrence.py): tests/integration/test_recurrence_limits.py;
- vobject reads a content line with a linear expression (it nested a star in a star):
  tests/unit/mime/test_icalitem.py compares the two on random lines;
- vobject's loops over one long line are linear (mime/vobjectloops.py):
  tests/unit/mime/test_vobjectloops.py compares them with `originals`;
- vobject names a zone by its own TZID instead of walking its rules to compare it with
  UTC: tests/unit/mime/test_imip.py compares time ranges with `originals`;
- Radicale's path, quoting and XML helpers are remembered or done at once
  (dav/speedups.py): tests/unit/dav/test_speedups.py;
- Radicale's PUT of a collection that names no type answers 400, not 500:
  tests/integration/test_dav.py.
"""

from __future__ import annotations

import functools
import re
import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from dateutil import rrule as dateutil_rrule  # type: ignore[import-untyped]
from radicale import item as radicale_item
from radicale import pathutils, xmlutils
from radicale.app import base as radicale_base
from radicale.app import put as radicale_put
from radicale.app import report as radicale_report
from radicale.item import filter as radicale_filter
from vobject import base as vobject_base
from vobject import icalendar as vobject_icalendar
from vobject import vcard as vobject_vcard

from groupware.dav import recurrence as dav_recurrence
from groupware.dav import speedups
from groupware.mime import expansion, recurrence, vobjectloops

originals: dict[str, Any] = {}  # what was replaced, by name (the tests compare)

_UTC_NAMES = frozenset({"utc", "gmt", "etc/utc", "etc/gmt", "z", "zulu", "universal"})
# vobject's content line (its base.patterns['line']) with the parameter part written so
# that every "=" or "," outside quotes starts the next value: the same lines match, with
# the same groups, each in linear time.
_PARAM = r"""; (?: {name} ) (?: [=,] (?: "[^"]*" | [^";:,=]* ) )*"""
_LINE = r"""^ ((?P<group> {name})\.)?(?P<name> {name}) (?P<params> ;?(?: {param} )* )
: (?P<value> .* )$"""


def install() -> None:
    """Every change, once per process (idempotent)."""
    if originals:
        return
    _bounded_recurrences()
    _radicale_recurrence_limit()
    _vobject_linear_lines()
    _vobject_linear_loops()
    _vobject_zone_names()
    _radicale_helpers()
    _radicale_untyped_put()


def _bounded_recurrences() -> None:
    """dateutil's walks pay from one budget; the limit's refused rules are not walked."""
    info = dateutil_rrule._iterinfo
    originals.update(
        rrule_iter=dateutil_rrule.rrule._iter, rruleset_iter=dateutil_rrule.rruleset._iter
    )
    dateutil_rrule.rrule._iter = expansion.bounded_iter
    dateutil_rrule.rruleset._iter = expansion.shared_iter
    for name in ("ydayset", "mdayset", "wdayset", "ddayset"):  # once per period walked
        setattr(info, name, expansion.counted_days(getattr(info, name)))
    for name in ("htimeset", "mtimeset", "stimeset"):  # once per hour, minute, second
        setattr(info, name, expansion.counted_times(getattr(info, name)))
    info.rebuild = expansion.counted_years(info.rebuild)
    component = vobject_icalendar.RecurringComponent
    component.getrruleset = expansion.getrruleset
    component.rruleset = property(expansion.getrruleset, component.setrruleset)
    expansion.limit_with(recurrence.refusal)


def _radicale_recurrence_limit() -> None:
    """Radicale's functions that check or walk recurrences (module attributes it calls
    by name), wrapped by dav/recurrence.py."""
    radicale_item.check_and_sanitize_items = dav_recurrence.checked(
        radicale_item.check_and_sanitize_items
    )
    radicale_filter.time_range_match = dav_recurrence.matched_from_start(
        radicale_filter.time_range_match
    )
    radicale_report.freebusy_periods = dav_recurrence.from_argument(
        radicale_report.freebusy_periods, 1, "range_start"
    )
    radicale_report._expand = dav_recurrence.from_argument(radicale_report._expand, 2, "start")


def _vobject_linear_lines() -> None:
    """vobject reads each content line with an expression that nests a star in a star
    over values that may be empty: "EMAIL;TYPE" and 30 commas took minutes, two commas
    more four times as long (found fuzzing; a DAV PUT or a mailed invitation could hold
    it). Its `line_re` becomes the linear one."""
    name = vobject_base.patterns["name"]
    line = _LINE.format(name=name, param=_PARAM.format(name=name))
    originals["line_re"] = vobject_base.line_re
    vobject_base.line_re = re.compile(line, re.DOTALL | re.VERBOSE)


def _vobject_linear_loops() -> None:
    """vobject's unfolding, folding and unescaping of one long line, by whole pieces."""
    original_fold = vobject_base.foldOneLine

    def fold_one_line(outbuf: Any, input: str, lineLength: int = 75) -> None:
        if len(input) < lineLength or lineLength < 5 or not isinstance(input, str):
            original_fold(outbuf, input, lineLength)
        else:
            outbuf.write(vobjectloops.folded(input, lineLength) + "\r\n")

    original_lines = vobject_base.getLogicalLines

    def get_logical_lines(fp: Any, allowQP: bool = True) -> Iterator[tuple[str, int]]:
        if not allowQP:  # a regular expression over the whole text: linear already
            return original_lines(fp, allowQP)  # type: ignore[no-any-return]
        return vobjectloops.logical_lines(fp)

    original_values = vobject_icalendar.stringToTextValues

    def string_to_text_values(
        s: str, listSeparator: str = ",", charList: str | None = None, strict: bool = False
    ) -> list[str]:
        if not isinstance(s, str) or len(listSeparator) != 1:
            return original_values(s, listSeparator, charList, strict)  # type: ignore[no-any-return]
        escapable = vobject_icalendar.escapableCharList if charList is None else charList
        return vobjectloops.text_values(s, listSeparator, escapable)

    originals.update(
        foldOneLine=original_fold,
        getLogicalLines=original_lines,
        stringToTextValues=original_values,
    )
    vobject_base.foldOneLine = vobject_icalendar.foldOneLine = fold_one_line
    vobject_base.getLogicalLines = get_logical_lines
    vobject_icalendar.stringToTextValues = string_to_text_values
    vobject_vcard.stringToTextValues = string_to_text_values


def _vobject_zone_names() -> None:
    """vobject names each VTIMEZONE it reads by first asking whether the zone equals UTC,
    which walks its DST rules from their 1970 start: about 4 ms per calendar object with
    a VTIMEZONE, most of a PUT. A zone that carries its own TZID (dateutil's tzical
    does) is named by it instead, unless the name says UTC, where the original check
    still runs."""
    original = vobject_icalendar.TimezoneComponent.pickTzid

    def pick_tzid(tzinfo: object, allowUTC: bool = False) -> object:
        name = getattr(tzinfo, "_tzid", None)
        if name and str(name).strip().lower() not in _UTC_NAMES:
            return vobject_icalendar.toUnicode(name)
        return original(tzinfo, allowUTC)

    originals["pickTzid"] = original
    vobject_icalendar.TimezoneComponent.pickTzid = staticmethod(pick_tzid)


def _radicale_helpers() -> None:
    """Radicale's helpers on the path of every listed item (dav/speedups.py)."""
    remembered = functools.lru_cache(maxsize=speedups.PATHS_REMEMBERED)(speedups.sanitized)

    def sanitize_path(path: str) -> str:
        # Radicale asks before any login: only paths of a sane length are remembered.
        if len(path) <= speedups.LONGEST_REMEMBERED:
            return remembered(path)
        return speedups.sanitized(path)

    originals["sanitize_path"] = pathutils.sanitize_path
    pathutils.sanitize_path = sanitize_path
    xmlutils.make_clark = functools.lru_cache(maxsize=512)(xmlutils.make_clark)
    xmlutils.quote = speedups.quoted  # type: ignore[attr-defined,assignment]
    # Radicale writes its XML answers with `ET.ElementTree(...).write` in app/base.py.
    elementtree = types.ModuleType(ET.__name__)
    elementtree.__dict__.update(vars(ET))
    elementtree.ElementTree = speedups.WholeTree  # type: ignore[attr-defined]
    radicale_base.ET = elementtree  # type: ignore[attr-defined]


def _radicale_untyped_put() -> None:
    """A PUT body is checked by app/put.py `prepare`, which hands its exception back (the
    PUT then answers 400). But a PUT of a whole collection whose body names no VCALENDAR
    or VCARD, without a Content-Type, makes it raise ValueError("Can't determine
    collection tag") before its own try: a 500. That one is handed back too."""
    original = radicale_put.prepare

    def prepare(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except ValueError:
            return iter(()), None, None, None, sys.exc_info()

    originals["prepare"] = original
    radicale_put.prepare = prepare
