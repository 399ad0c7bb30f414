"""vobject's loops over one long content line, made linear and fast: what a calendar
object or vCard with one huge property (a DESCRIPTION folded over 260,000 lines) costs.

vobject (Radicale's parser) unfolds lines asking its buffer for the whole logical line
after each physical one (quadratic: 2.3 MB took 15 s through a DAV PUT, 19 MB minutes),
and folds and unescapes values one character at a time in Python, several times per
PUT. These give the same results (tests compare them on random input) by whole pieces;
dav/patches.py puts them in place of `getLogicalLines`, `foldOneLine` and
`stringToTextValues`. They go when vobject does the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_QUOTED_PRINTABLE = "quoted-printable"


def folded(text: str, width: int = 75) -> str:
    """`text` folded as vobject folds it: `width` UTF-8 octets on the first line, one
    fewer after each CRLF and space, never inside a character."""
    data = text.encode("utf-8")
    pieces, position, room = [], 0, width
    while position < len(data):
        end = position + room
        while position < end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1  # a continuation octet: the character goes to the next line
        pieces.append(data[position:end])
        position, room = end, width - 1
    return b"\r\n ".join(pieces).decode("utf-8")


def logical_lines(fp: Any) -> Iterator[tuple[str, int]]:
    """vobject's getLogicalLines with quoted-printable soft breaks (vCard 2.1), each
    logical line built once from its pieces."""
    pieces: list[str] = []
    tail = ""  # the end of the line so far, lower case, for a marker across a fold
    marked = soft_break = False
    number = start = 0
    while True:
        line = fp.readline()
        if line == "":
            break
        line = line.rstrip("\r\n")
        number += 1
        if line.rstrip() == "":
            if pieces:
                yield "".join(pieces), start
            start, pieces, tail, marked, soft_break = number, [], "", False, False
            continue
        if soft_break:
            piece, soft_break = "\n" + line, False
        elif line[0] in " \t":
            piece = line[1:]
        else:
            if pieces:
                yield "".join(pieces), start
                start = number
            pieces, tail, marked = [], "", False
            piece = line
        pieces.append(piece)
        if not marked:
            window = tail + piece.lower()
            marked = _QUOTED_PRINTABLE in window
            tail = window[-len(_QUOTED_PRINTABLE) :]
        if piece.endswith("=") and marked:
            soft_break = True
    if pieces:
        yield "".join(pieces), start


def text_values(text: str, separator: str, escapable: str) -> list[str]:
    """vobject's stringToTextValues: `text` split at unescaped `separator`, escapes of
    `escapable` characters resolved (\\n and \\N to a line break), others kept as written,
    a backslash at the very end kept as vobject keeps it ("\\eof")."""
    sep = re.escape(separator)
    values: list[str] = []
    current: list[str] = []
    for match in re.finditer(rf"\\(.)|\\\Z|({sep})|([^\\{sep}]+)", text, re.DOTALL):
        escaped, split, run = match.groups()
        if run is not None:
            current.append(run)
        elif split is not None:
            values.append("".join(current))
            current = []
        elif escaped is None:
            current.append("\\eof")
        elif escaped in escapable:
            current.append("\n" if escaped in "nN" else escaped)
        else:
            current.append("\\" + escaped)
    if current or not values:
        values.append("".join(current))
    return values
