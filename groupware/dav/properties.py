"""Collection properties between Radicale and our store. Radicale keeps a collection's
metadata under DAV property names ("D:displayname", "C:supported-calendar-component-set",
...) with its "tag"; services/calendar/calendars.py keeps the ones it uses in its own
names (title, description, components, color). Those we do not use are kept as the
client set them, under their DAV names, which services never read.
"""

from __future__ import annotations

from collections.abc import Mapping

from groupware.services.calendar.rows import COLOR, COMPONENTS, DESCRIPTION, TAG, TITLE

# Radicale's names of the properties we use, in our names; a description is an address
# book's or a calendar's, as the collection's tag says (the other kind's stays as it is).
_THEIRS = {
    TITLE: "D:displayname",
    COMPONENTS: "C:supported-calendar-component-set",
    COLOR: "ICAL:calendar-color",
}
_DESCRIPTIONS = {
    "VADDRESSBOOK": "CR:addressbook-description",
    "VCALENDAR": "C:calendar-description",
}


def _named(tag: str) -> dict[str, str]:
    """Our names to Radicale's for a collection with `tag`."""
    description = _DESCRIPTIONS.get(tag)
    return {**_THEIRS, DESCRIPTION: description} if description else dict(_THEIRS)


def ours(meta: Mapping[str, str]) -> dict[str, str]:
    """Radicale's metadata (with its "tag") as a collection's properties in our names."""
    back = {theirs: ours for ours, theirs in _named(meta.get(TAG, "")).items()}
    return {back.get(key, key): value for key, value in meta.items()}


def theirs(props: Mapping[str, str]) -> dict[str, str]:
    """A collection's properties as Radicale's metadata, in the order of their names (as
    Radicale lists them)."""
    named = _named(props.get(TAG, ""))
    return dict(sorted((named.get(key, key), value) for key, value in props.items()))
