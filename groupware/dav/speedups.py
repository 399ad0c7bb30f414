"""Radicale's path and tag helpers, made cheaper: a PROPFIND or REPORT of 10,000 items
calls `pathutils.sanitize_path` about five times per item (its asserts re-check every
path it strips or unstrips), joining the path back one component at a time, and
`xmlutils.make_clark` about twenty times per item for a few dozen distinct tag names.

`sanitize_path` is replaced by `sanitized`, which returns the same string for every input
(a property test compares the two) in one join, and both are remembered: they map one
string to another and nothing else. Together about a third of a large PROPFIND."""

from __future__ import annotations

import functools
import posixpath

from radicale import pathutils, xmlutils

PATHS_REMEMBERED = 16_384  # the repeats come close together: one item's path, item after item
radicale_sanitize_path = pathutils.sanitize_path  # Radicale's own (the tests compare)
_installed = False


def sanitized(path: str) -> str:
    """Radicale's `sanitize_path`: absolute, normalised, without empty, "." or ".."
    components, keeping a trailing slash (but never "//")."""
    parts = [p for p in posixpath.normpath(path).split("/") if p and p not in (".", "..")]
    if not parts:
        return "/"
    return "/" + "/".join(parts) + ("/" if path.endswith("/") else "")


def remember_pure_helpers() -> None:
    global _installed
    if _installed:
        return
    pathutils.sanitize_path = functools.lru_cache(maxsize=PATHS_REMEMBERED)(sanitized)
    xmlutils.make_clark = functools.lru_cache(maxsize=512)(xmlutils.make_clark)
    _installed = True
