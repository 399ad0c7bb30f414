"""dav/properties.py: Radicale's collection metadata in our names and back, losing nothing
and listing names as Radicale did (sorted), for every kind of collection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupware.dav.properties import ours, theirs

DAV_NAMES = [
    "D:displayname",
    "C:calendar-description",
    "CR:addressbook-description",
    "C:supported-calendar-component-set",
    "ICAL:calendar-color",
    "C:calendar-timezone",
    "{urn:example}custom",
]


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (
            {"tag": "VCALENDAR", "D:displayname": "Work", "C:calendar-description": "Mine"},
            {"tag": "VCALENDAR", "title": "Work", "description": "Mine"},
        ),
        (
            {
                "tag": "VADDRESSBOOK",
                "CR:addressbook-description": "All",
                "ICAL:calendar-color": "#f00",
            },
            {"tag": "VADDRESSBOOK", "description": "All", "color": "#f00"},
        ),
        (  # another kind's description is not this collection's: kept under its DAV name
            {"tag": "VADDRESSBOOK", "C:calendar-description": "odd"},
            {"tag": "VADDRESSBOOK", "C:calendar-description": "odd"},
        ),
        ({"D:displayname": "Home"}, {"title": "Home"}),  # a home: no tag
    ],
)
def test_known_names_become_ours(meta: dict[str, str], expected: dict[str, str]) -> None:
    assert ours(meta) == expected
    assert theirs(ours(meta)) == dict(sorted(meta.items()))


@given(
    st.sampled_from(["VCALENDAR", "VADDRESSBOOK", ""]),
    st.dictionaries(st.sampled_from(DAV_NAMES), st.text(max_size=5)),
)
def test_round_trip_loses_nothing(tag: str, values: dict[str, str]) -> None:
    meta = {"tag": tag, **values} if tag else values
    assert theirs(ours(meta)) == dict(sorted(meta.items()))
    assert list(theirs(ours(meta))) == sorted(meta)
