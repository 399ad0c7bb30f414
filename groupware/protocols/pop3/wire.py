"""POP3 multi-line bodies, pure: dot-stuffing (RFC 1939 §3), the terminating ".", and the
part of a message TOP sends (RFC 1939 §7). New response shapes get a function here."""

from __future__ import annotations

import re

_LINE_START_DOT = re.compile(rb"(?:^|(?<=\n))\.")
_HEADER_END = re.compile(rb"(?:^|\r?\n)\r?\n")  # the header's end (at 0: no header)


def multiline(first: str, body: bytes) -> bytes:
    """A multi-line reply: +OK and `first`, the body dot-stuffed, then "." alone on the
    last line (a body that does not end in a line break gets one first)."""
    stuffed = dot_stuff(body)
    if stuffed and not stuffed.endswith(b"\n"):
        stuffed += b"\r\n"
    return b"+OK " + first.encode() + b"\r\n" + stuffed + b".\r\n"


def dot_stuff(data: bytes) -> bytes:
    """RFC 1939 §3: a line that starts with "." gets another one in front. Any LF ends a
    line here, as it does for clients that split on LF (poplib among them)."""
    return _LINE_START_DOT.sub(b"..", data)


def top(data: bytes, lines: int) -> bytes:
    """RFC 1939 §7 TOP: the header, the blank line after it, and the first `lines` lines of
    the body. A message without a body is all header (the blank line is added)."""
    end = _HEADER_END.search(data)
    if end is None:
        header = data if data.endswith(b"\n") or not data else data + b"\r\n"
        return header + b"\r\n"
    body = data[end.end() :]
    cut = 0
    for _ in range(lines):
        newline = body.find(b"\n", cut)
        if newline < 0:
            cut = len(body)
            break
        cut = newline + 1
    return data[: end.end()] + body[:cut]
