"""Collection properties between Radicale and our store. Radicale keeps a collection's
metadata under DAV property names ("D:displayname", "C:supported-calendar-component-set",
...) with its "tag"; services/calendar/calendars.py keeps the ones it uses in its own
names (title, description, components, color). Those we do not use are kept as the
client set them, under their DAV names, which services never read.
"""

from __future__ import annotations

from collections.abc import Mapping

from groupware.services.calendar.rows import COLOR, COMPONENTS, DESCRIPTION, TAG, TITLE

_OURS = {
    "D:displayname": TITLE,
    "C:calendar-description": DESCRIPTION,
    "CR:addressbook-description": DESCRIPTION,
    "C:supported-calendar-component-set": COMPONENTS,
    "ICAL:calendar-color": COLOR,
}
_THEIRS = {
    TITLE: "D:displayname",
    COMPONENTS: "C:supported-calendar-component-set",
    COLOR: "ICAL:calendar-color",
}


def ours(meta: Mapping[str, str]) -> dict[str, str]:
    """Radicale's metadata as a collection's properties in our names."""
    return {_OURS.get(key, key): value for key, value in meta.items()}


def theirs(props: Mapping[str, str]) -> dict[str, str]:
    """A collection's properties as Radicale's metadata (a description is an address
    book's or a calendar's, as its tag says)."""
    book = props.get(TAG) == "VADDRESSBOOK"
    description = "CR:addressbook-description" if book else "C:calendar-description"
    named = {**_THEIRS, DESCRIPTION: description}
    return {named.get(key, key): value for key, value in props.items()}
