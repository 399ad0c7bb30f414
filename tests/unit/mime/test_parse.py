"""Table-driven tests of message parsing: delimiters, sections, limits, text, stored form.

Header-level readers are in test_fields.py; whole real-world messages in test_corpus.py.
"""

from __future__ import annotations

import time

import pytest

from groupware.mime import parse as parse_module
from groupware.mime.charset import codec_for, decode_octets
from groupware.mime.parse import ParsedMessage, parse_message
from groupware.mime.structure import section_bounds, walk
from groupware.mime.text import extract_text, html_to_text
from groupware.mime.tree import MAX_MESSAGE_DEPTH, MAX_NESTING, MAX_PARTS, delimiter_lines
from tests.unit.mime import check_invariants

# --- Delimiters, RFC 2046 §5.1.1 ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b"--b\r\nx\r\n--b--\r\n", [(0, 5, False), (8, 15, True)]),
        (b"--b \t\r\nx\r\n--b-- \r\n", [(0, 7, False), (10, 18, True)]),  # transport padding
        (b"--bc\r\n--b x\r\n--b\n", [(13, 17, False)]),  # whole-line match only
        (b"x--b\r\n--b", [(6, 9, False)]),  # must start a line
        (b"--b--\r\n--b\r\n", [(0, 7, True)]),  # nothing after the close delimiter
        (b"no delimiter", []),
    ],
)
def test_delimiter_lines(body: bytes, found: list[tuple[int, int, bool]]) -> None:
    assert delimiter_lines(body, b"b", 0, len(body)) == found


# --- Whole messages: structure, sections, fallbacks -----------------------------------

NESTED = (
    b"Content-Type: multipart/mixed; boundary=o\r\n\r\n"
    b"--o\r\nContent-Type: text/plain\r\n\r\none\r\n"
    b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
    b"--i\r\n\r\ntwo-one\r\n--i\r\n\r\ntwo-two\r\n--i--\r\n"
    b"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: single\r\n\r\nthree\r\n"
    b"--o--\r\n"
)


@pytest.mark.parametrize(
    ("section", "body"),
    [
        ((1,), b"one"),
        ((2, 1), b"two-one"),
        ((2, 2), b"two-two"),
        ((3, 1), b"three"),  # a single-part inner message's body is its part 1
        ((2, 3), None),
        ((3, 2), None),
        ((1, 1), None),  # a text part has no subparts
        ((4,), None),
        ((0,), None),
    ],
)
def test_section_bounds(section: tuple[int, ...], body: bytes | None) -> None:
    parsed = parse_message(NESTED)
    part = section_bounds(parsed.body, section)
    assert (None if part is None else NESTED[part.body_start : part.body_end]) == body


def test_walk_visits_every_part_in_order() -> None:
    parsed = parse_message(NESTED)
    leaves = [p for p in walk(parsed.body) if not p.children and p.message is None]
    assert [NESTED[p.body_start : p.body_end] for p in leaves] == [
        b"one",
        b"two-one",
        b"two-two",
        b"three",
    ]


def test_section_bounds_of_a_single_part_message() -> None:
    raw = b"Subject: x\r\n\r\nbody"
    body = parse_message(raw).body
    assert section_bounds(body, ()) is body
    assert section_bounds(body, (1,)) is body
    assert section_bounds(body, (2,)) is None
    assert section_bounds(body, (1, 1)) is None


def test_rfc822_root_message_numbers_into_the_inner_message() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner"
    body = parse_message(raw).body
    inner = section_bounds(body, (1, 1))
    assert section_bounds(body, (1,)) is body
    assert inner is not None and raw[inner.body_start : inner.body_end] == b"inner"


def nested_multiparts(depth: int) -> bytes:
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    return head + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


def test_nesting_is_capped_without_recursion_errors() -> None:
    raw = nested_multiparts(MAX_NESTING + 50)
    parsed = parse_message(raw)
    part, depth = parsed.body, 0
    while part.children:
        part, depth = part.children[0], depth + 1
    assert depth == MAX_NESTING
    assert part.mime_type == "application/octet-stream"  # looked into no further
    check_invariants(parsed, raw)


def test_message_depth_is_capped() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * (MAX_MESSAGE_DEPTH + 5) + b"body"
    parsed = parse_message(raw)
    part, depth = parsed.body, 0
    while part.message is not None:
        part, depth = part.message[1], depth + 1
    assert depth == MAX_MESSAGE_DEPTH
    assert part.mime_type == "application/octet-stream"
    check_invariants(parsed, raw)


def test_part_count_is_capped() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n\r\nx\r\n" * 1500
    parsed = parse_message(raw)
    assert len(parsed.body.children) == MAX_PARTS - 1  # the root counts too
    check_invariants(parsed, raw)


def test_a_parser_bug_stores_the_message_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> ParsedMessage:
        raise RuntimeError("bug")

    monkeypatch.setattr(parse_module, "_parse", broken)
    parsed = parse_message(b"Subject: x\r\n\r\nbody")
    assert parsed.body.mime_type == "text/plain"
    assert (parsed.body.body_start, parsed.body.body_end) == (0, 18)


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        (b"Content-Type: application/pdf\r\n\r\n%PDF", 1),
        (b"Content-Type: text/plain\r\n\r\nhi", 0),
        (b"Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nhi", 1),
        (b"Content-Type: text/plain; name=a.txt\r\n\r\nhi", 1),
        (
            b"Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n\r\nhtml\r\n"
            b"--r\r\nContent-Type: image/png\r\nContent-ID: <i>\r\n\r\nx\r\n--r--",
            0,
        ),
        (
            b"Content-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\n\r\nhtml\r\n"
            b"--r\r\nContent-Type: image/png\r\nContent-ID: <i>\r\n\r\nx\r\n--r--",
            1,
        ),
    ],
)
def test_attachments(raw: bytes, count: int) -> None:
    assert parse_message(raw).attachments == count


N = 100_000
HOSTILE = {
    "semicolons": b"Content-Type: text/plain" + b";" * N + b"a=b\r\n\r\n",
    "commas in an open angle": b"To: <" + b"," * N + b"\r\n\r\n",
    "adjacent encoded words": b"Subject: " + b"=?utf-8?q?a?= " * (N // 14) + b"\r\n\r\n",
    "unclosed comments": b"From: " + b"(" * N + b"\r\n\r\n",
    "unclosed quotes": b"From: " + b'"a",' * (N // 4) + b"\r\n\r\n",
    "header lines": b"A: b\r\n" * (N // 6) + b"\r\n",
    "delimiter look-alikes": b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"--a-\n" * (N // 5),
    "empty parts": b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--a\r\n" * (N // 5),
    "unclosed markup": b"Content-Type: text/html\r\n\r\n" + b"<!--<script><a " * (N // 15),
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_linear(raw: bytes) -> None:
    # Linear work is ~0.1 s here; anything quadratic in N would take minutes.
    start = time.perf_counter()
    parse_message(raw)
    assert time.perf_counter() - start < 2.0


# --- Text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("a<br>b", "a\nb"),
        ("<td>a</td><td>b</td>", "a b"),
        ("x <!-- never closed", "x"),
        ("<script>var a = '<p>';</script>shown", "shown"),
        ("<SCRIPT>code</SCRIPT >after", "after"),
        ("<style>p{}", ""),  # unclosed style hides the rest, as in a browser
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
        ("a <b", "a <b"),  # an unterminated tag is left as text
        ("<a title='x'>link</a> <B>bold</B>", "link bold"),
        ("<p>a<!-- c --><!-- d -->b</p>", "ab"),
        ("&amp;&lt;&eacute;&#233;&#xE9;&nbsp;x", "&<ééé x"),
        ("<!DOCTYPE html><?xml version='1.0'?>t", "t"),
        ("<" * 10_000, "<" * 10_000),
        ("<a" * 10_000, "<a" * 10_000),
        ("<script>" * 10_000, ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_text_is_capped() -> None:
    raw = b"Content-Type: text/plain\r\n\r\n" + b"word " * 1000
    parsed = parse_message(raw)
    assert extract_text(raw, parsed.body, limit=100) == "word " * 20


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        ("utf8", "utf-8"),
        ("US-ASCII", None),
        ("iso-8859-1", "cp1252"),
        ('"ISO-8859-15"', "iso8859-15"),
        ("ks_c_5601-1987", "cp949"),
        ("gb2312", "gb18030"),
        ("base64", None),
        ("idna", None),
        ("undefined", None),
        ("nonsense", None),
        ("", None),
    ],
)
def test_codec_for(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_decode_octets_falls_back_to_utf8_then_windows_1252() -> None:
    assert decode_octets("é".encode(), "us-ascii") == "é"
    assert decode_octets(b"\xe9\x80", None) == "é€"


# --- The stored form -------------------------------------------------------------------


def test_json_round_trip_keeps_search_fields_apart() -> None:
    parsed = parse_message(NESTED)
    stored = parsed.to_json()
    assert "two-one" not in stored  # text lives in the full-text tables
    again = ParsedMessage.from_json(stored)
    assert (again.text, again.headers) == ("", "")
    assert ParsedMessage.from_json(stored, headers=parsed.headers, text=parsed.text) == parsed


def test_json_of_raw_8bit_headers_is_plain_utf8() -> None:
    raw = b"Subject: caf\xe9 \xc3\xa9\r\n\r\n"
    parsed = parse_message(raw)
    stored = parsed.to_json()
    stored.encode("utf-8")  # no lone surrogates: any database takes it
    assert ParsedMessage.from_json(stored, headers=parsed.headers) == parsed
    assert parsed.envelope.subject is not None
    assert parsed.envelope.subject.encode("utf-8", "surrogateescape") == b"caf\xe9 \xc3\xa9"
    assert parsed.subject == "café é"
