"""Our replacement for Radicale's sanitize_path gives Radicale's answer for any path:
a table of awkward paths, and a hypothesis property over paths built of the pieces that
matter (slashes, dots, names)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.dav.speedups import radicale_sanitize_path, sanitized

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
