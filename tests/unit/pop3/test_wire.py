"""POP3 multi-line bodies: dot-stuffing, the terminating line and TOP's cut, with a client's
unstuffing as a property. A new response shape gets its table here."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupware.protocols.pop3.wire import DotStuffer, dot_stuff, multiline, top

MESSAGE = b"From: a\r\nSubject: s\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b".", b".."),
        (b".\r\n", b"..\r\n"),
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb"),
        (b"a.b\r\n..c\r\n", b"a.b\r\n...c\r\n"),
        (b"a\n.b", b"a\n..b"),  # a bare LF ends a line for poplib too
    ],
)
def test_dot_stuff(data: bytes, expected: bytes) -> None:
    assert dot_stuff(data) == expected


def test_multiline_ends_with_a_lone_dot() -> None:
    assert multiline("2 octets", b"ab") == b"+OK 2 octets\r\nab\r\n.\r\n"
    assert multiline("x", b"ab\r\n") == b"+OK x\r\nab\r\n.\r\n"
    assert multiline("empty", b"") == b"+OK empty\r\n.\r\n"


@pytest.mark.parametrize(
    ("data", "lines", "expected"),
    [
        (MESSAGE, 0, b"From: a\r\nSubject: s\r\n\r\n"),
        (MESSAGE, 2, b"From: a\r\nSubject: s\r\n\r\nline 1\r\n.line 2\r\n"),
        (MESSAGE, 99, MESSAGE),
        (b"A: b\r\n\r\nno end", 5, b"A: b\r\n\r\nno end"),
        (b"A: b\r\n", 3, b"A: b\r\n\r\n"),  # no body: all header
        (b"A: b", 3, b"A: b\r\n\r\n"),
        (b"\r\nbody\r\nmore\r\n", 1, b"\r\nbody\r\n"),  # an empty header
        (b"A: b\n\nbody\nmore\n", 1, b"A: b\n\nbody\n"),
    ],
)
def test_top(data: bytes, lines: int, expected: bytes) -> None:
    assert top(data, lines) == expected


LINE = st.binary(max_size=30).filter(lambda line: b"\r" not in line and b"\n" not in line)


@given(st.lists(LINE, max_size=8))
def test_a_client_unstuffing_gets_the_bytes_back(lines: list[bytes]) -> None:
    data = b"".join(line + b"\r\n" for line in lines)
    received = multiline("x", data).split(b"\r\n")
    assert received[0] == b"+OK x" and received[-2:] == [b".", b""]
    body = [line[1:] if line.startswith(b".") else line for line in received[1:-2]]
    assert body == lines


def chunked(data: bytes, cuts: list[int]) -> bytes:
    """What RETR sends for `data` read in pieces ending at `cuts`, after the +OK line."""
    stuffer = DotStuffer()
    edges = [0, *sorted(cuts), len(data)]
    sent = b"".join(stuffer.feed(data[a:b]) for a, b in itertools.pairwise(edges))
    return sent + stuffer.end()


@pytest.mark.parametrize("data", [MESSAGE, b"", b".", b"a\r\n.", b"..\n.\r\n.x", b"no end"])
def test_chunked_dot_stuffing_at_every_cut(data: bytes) -> None:
    whole = multiline("x", data).split(b"\r\n", 1)[1]
    for cut in range(len(data) + 1):
        assert chunked(data, [cut]) == whole, cut


@given(st.binary(max_size=60), st.lists(st.integers(0, 60), max_size=6))
def test_chunked_dot_stuffing_matches_whole(data: bytes, cuts: list[int]) -> None:
    whole = multiline("x", data).split(b"\r\n", 1)[1]
    assert chunked(data, [min(cut, len(data)) for cut in cuts]) == whole
