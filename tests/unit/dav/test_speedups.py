"""dav/speedups.py's replacements give the answers of what they replace: sanitize_path
for a table of awkward paths and any path built of the pieces that matter (slashes, dots,
names), urllib's quote for any text, and ElementTree's UTF-8 write for any multistatus."""

from __future__ import annotations

import io
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.dav.speedups import SAFE, WholeTree, quoted, radicale_sanitize_path, sanitized

AWKWARD = [
    "",
    "/",
    "//",
    "///",
    ".",
    "..",
    "/../..",
    "a",
    "a/",
    "/a/b/",
    "//a//b//",
    "/a/./b/../c.ics",
    "../../etc/passwd",
    "/alice@example.test/calendar/x y.ics",
    "alice@example.test/calendar/",
    "/./",
    "/.../",
    "\\\\..\\\\",
    "/%2e%2e/",
]


@pytest.mark.parametrize("path", AWKWARD)
def test_the_same_answer_as_radicale(path: str) -> None:
    assert sanitized(path) == radicale_sanitize_path(path)


PIECES = st.sampled_from(["/", "//", ".", "..", "...", "a", "b.ics", "x y", "@", "\\", "%2F", "é"])


@settings(max_examples=500)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_same_answer_for_any_path(path: str) -> None:
    assert sanitized(path) == radicale_sanitize_path(path)


@settings(max_examples=500)
@given(st.text(max_size=40) | st.lists(PIECES, max_size=12).map("".join))
def test_quoting_as_urllib_does(text: str) -> None:
    """As urllib quotes, keeping \"@\" (Thunderbird quotes our hrefs again)."""
    try:
        expected = urllib.parse.quote(text, safe=SAFE)
    except UnicodeEncodeError:  # a lone surrogate: urllib refuses, and so do we
        with pytest.raises(UnicodeEncodeError):
            quoted(text)
        return
    assert quoted(text) == expected


def multistatus(names: list[str]) -> ET.Element:
    ET.register_namespace("C", "urn:ietf:params:xml:ns:caldav")
    root = ET.Element("{DAV:}multistatus")
    for name in names:
        response = ET.SubElement(root, "{DAV:}response")
        ET.SubElement(response, "{DAV:}href").text = f"/dav/{name}"
        prop = ET.SubElement(ET.SubElement(response, "{DAV:}propstat"), "{DAV:}prop")
        ET.SubElement(prop, "{urn:ietf:params:xml:ns:caldav}calendar-data").text = name
        ET.SubElement(prop, "{DAV:}getetag")
        prop.set("{urn:x-other}attr", name)
    return root


@settings(max_examples=200)
@given(st.lists(st.text(max_size=20), max_size=8))
def test_whole_tree_writes_what_elementtree_writes(names: list[str]) -> None:
    names = [n for n in names if not any(0xD800 <= ord(c) <= 0xDFFF for c in n)]
    names = ["".join(c for c in n if c in "\t\n\r" or ord(c) >= 0x20) for n in names]
    for declaration in (True, False, None):
        ours, theirs = io.BytesIO(), io.BytesIO()
        WholeTree(multistatus(names)).write(ours, encoding="utf-8", xml_declaration=declaration)
        ET.ElementTree(multistatus(names)).write(
            theirs, encoding="utf-8", xml_declaration=declaration
        )
        assert ours.getvalue() == theirs.getvalue()
