"""Radicale's helpers on the path of every listed item, made cheaper with the same
answers. A PROPFIND or REPORT of 10,000 items calls, per item:

- `pathutils.sanitize_path` about five times (its asserts re-check every path it strips
  or unstrips), which joins the path back one component at a time: replaced by
  `sanitized` (one join) and both it and `xmlutils.make_clark` (about twenty calls per
  item, for a few dozen tag names) remembered, as they map one string to another;
- `urllib.parse.quote` for its href, a Python loop over the bytes: `quoted` translates
  ASCII text in one call and leaves the rest to urllib. It leaves "@" as it is (RFC 3986
  allows it in a path): Thunderbird encodes the principal href it is given once more,
  so "/dav/alice%40example.org/" became "alice%2540example.org" (a 403);
- and the answer is written by ElementTree through a write-through text wrapper, which
  encodes each of its hundreds of thousands of small pieces on its own: `WholeTree`
  writes the same text and encodes it once.

Each replacement gives exactly the original's output (tests/unit/dav compare them on
tables and hypothesis-generated input), "@" aside. Together about half of a large
PROPFIND."""

from __future__ import annotations

import posixpath
import string
import urllib.parse
import xml.etree.ElementTree as ET
from typing import IO, Any, Literal

from radicale import pathutils

PATHS_REMEMBERED = 16_384  # the repeats come close together: one item's path, item after item
LONGEST_REMEMBERED = 512  # characters: so at most 16 MiB of paths remembered
radicale_sanitize_path = pathutils.sanitize_path  # Radicale's own (the tests compare)
SAFE = "/@"  # what an href keeps unquoted beside urllib's letters, digits and "_.-~"
_SAFE = string.ascii_letters + string.digits + "_.-~" + SAFE
_QUOTING = str.maketrans({chr(i): f"%{i:02X}" for i in range(128) if chr(i) not in _SAFE})


def sanitized(path: str) -> str:
    """Radicale's `sanitize_path`: absolute, normalised, without empty, "." or ".."
    components, keeping a trailing slash (but never "//")."""
    parts = [p for p in posixpath.normpath(path).split("/") if p and p not in (".", "..")]
    if not parts:
        return "/"
    return "/" + "/".join(parts) + ("/" if path.endswith("/") else "")


def quoted(text: str) -> str:
    """`urllib.parse.quote(text, safe=SAFE)`."""
    return text.translate(_QUOTING) if text.isascii() else urllib.parse.quote(text, safe=SAFE)


class WholeTree(ET.ElementTree):
    """An ElementTree whose UTF-8 `write` to a file object encodes the text once."""

    def write(
        self,
        file_or_filename: Any,
        encoding: str | None = None,
        xml_declaration: bool | None = None,
        default_namespace: str | None = None,
        method: Literal["xml", "html", "text", "c14n"] | None = None,
        *,
        short_empty_elements: bool = True,
    ) -> None:
        plain = default_namespace is None and method in (None, "xml") and short_empty_elements
        to_file = hasattr(file_or_filename, "write")
        if (encoding or "").lower() != "utf-8" or not plain or not to_file:
            super().write(
                file_or_filename,
                encoding,
                xml_declaration,
                default_namespace,
                method,
                short_empty_elements=short_empty_elements,
            )
            return
        out: IO[bytes] = file_or_filename
        if xml_declaration:
            out.write(f"<?xml version='1.0' encoding='{encoding}'?>\n".encode())
        root = self.getroot()
        text = ET.tostring(root, encoding="unicode") if root is not None else ""
        out.write(text.encode("utf-8", "xmlcharrefreplace"))
