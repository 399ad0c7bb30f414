"""POP3 multi-line bodies, pure: dot-stuffing (RFC 1939 §3), the terminating ".", and the
part of a message TOP sends (RFC 1939 §7). New response shapes get a function here."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_START_DOT = re.compile(rb"(?:^|(?<=\n))\.")
_INNER_LINE_START_DOT = re.compile(rb"(?<=\n)\.")  # not at 0: a chunk may start mid-line
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


@dataclass
class DotStuffer:
    """`multiline` for a body sent in chunks: `feed` each chunk, then send `end()`. A
    line may start at a chunk's first byte (the last chunk ended in LF), or not."""

    at_line_start: bool = True

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        stuffed = _INNER_LINE_START_DOT.sub(b"..", chunk)
        if self.at_line_start and chunk.startswith(b"."):
            stuffed = b"." + stuffed
        self.at_line_start = chunk.endswith(b"\n")
        return stuffed

    def end(self) -> bytes:
        """The line break a body without one at its end gets, and the lone "."."""
        return b".\r\n" if self.at_line_start else b"\r\n.\r\n"


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
