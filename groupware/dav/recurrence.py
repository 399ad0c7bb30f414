"""Radicale held to the recurrence limit (mime/recurrence.py): a PUT's calendar objects are
checked before Radicale walks them, and its time-range tests, expansions and free-busy
walk recurrences only from near the range asked for.

Radicale answers every refused PUT 400; `Radicale.do_PUT` (dav/app.py) turns a refusal
recorded here into the 403 CALDAV:max-instances of RFC 4791 §5.3.2.1. A new Radicale
function that walks recurrences for a time range gets the same wrapper, put in by
dav/patches.py.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from radicale.item import filter as radicale_filter

from groupware.mime import expansion, recurrence

_refusals: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "dav_recurrence_refusals", default=None
)


@contextlib.contextmanager
def refusals() -> Iterator[list[str]]:
    """What the limit refused during the block (one message per refused object)."""
    refused: list[str] = []
    token = _refusals.set(refused)
    try:
        yield refused
    finally:
        _refusals.reset(token)


def checked(check_items: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(check_items)
    def check_and_sanitize_items(vobject_items: list[Any], *args: Any, **kwargs: Any) -> None:
        if kwargs.get("tag") == "VCALENDAR":
            for calendar in vobject_items:
                try:
                    recurrence.check(calendar)
                except recurrence.TooManyInstances as error:
                    refused = _refusals.get()
                    if refused is not None:
                        refused.append(str(error))
                    raise
        check_items(vobject_items, *args, **kwargs)

    return check_and_sanitize_items


def matched_from_start(match: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(match)
    def time_range_match(vobject_item: Any, filter_: Any, child_name: str, trigger: Any) -> bool:
        if not filter_.get("start") or isinstance(trigger, datetime):
            return match(vobject_item, filter_, child_name, trigger)  # an absolute alarm
        start, _ = radicale_filter.parse_time_range(filter_)
        if isinstance(trigger, timedelta) and trigger > timedelta(0):
            start -= trigger  # an alarm after its instance: instances before the range count
        with expansion.expanding_from(start):
            return match(vobject_item, filter_, child_name, trigger)

    return time_range_match


def from_argument(walk: Callable[..., Any], position: int, name: str) -> Callable[..., Any]:
    """`walk` with its range start (argument `name`, or at `position`) as where walks
    begin. A range at the edge of time (the year 1) overflows Radicale's arithmetic: a
    ValueError, which Radicale answers 400, not 500."""

    @functools.wraps(walk)
    def walk_from(*args: Any, **kwargs: Any) -> Any:
        start = args[position] if len(args) > position else kwargs.get(name)
        try:
            if not isinstance(start, datetime) or start.tzinfo is None:
                return walk(*args, **kwargs)
            with expansion.expanding_from(start):
                return walk(*args, **kwargs)
        except OverflowError as error:
            raise ValueError(f"a time range out of bounds: {error}") from None

    return walk_from
