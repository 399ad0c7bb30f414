"""Table-driven tests of header-level readers: encoded words, parameters, addresses, fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from groupware.mime.address import decode_addresses, parse_addresses
from groupware.mime.headers import first_message_id, message_ids, read_header, sent_date
from groupware.mime.params import param_value, parse_content_type, parse_params
from groupware.mime.structure import Address
from groupware.mime.words import decode_words

# --- RFC 2047 encoded words ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("plain text", "plain text"),
        ("=?utf-8?q?caf=C3=A9?=", "café"),
        ("=?UTF-8?B?Y2Fmw6k=?=", "café"),
        ("=?iso-8859-1?q?caf=E9?=", "café"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # §6.2: space between words dropped
        ("=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"),  # also folding white space
        ("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),  # text between words stays
        ("=?utf-8?b?w6k=?==?utf-8?b?w6k=?=", "éé"),
        ("=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "€"),  # a character split over two words
        ("=?utf-8?q?a_b?=", "a b"),  # §4.2 (2): "_" is a space
        ("=?utf-8*en?q?hi?=", "hi"),  # RFC 2231 §5 language suffix
        ("=?x-unknown?q?hi?=", "hi"),  # unknown charset: best effort
        ("=?utf-8?b?!!!?=", ""),  # hopeless base64 decodes to nothing
        ("=?utf-8?b?Y2Fm?", "=?utf-8?b?Y2Fm?"),  # not an encoded word
        ("Re:=?utf-8?q?x?=", "Re:x"),  # glued to text: decoded anyway, as readers do
        ("nul\x00byte", "nulbyte"),
    ],
)
def test_decode_words(raw: str, decoded: str) -> None:
    assert decode_words(raw) == decoded


# --- MIME parameters, RFC 2045 §5.1 and RFC 2231 -------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("text/plain", ("text", "plain", ())),
        ("Text/HTML; Charset=UTF-8", ("Text", "HTML", (("charset", "UTF-8"),))),
        ('multipart/mixed; boundary="a;b"', ("multipart", "mixed", (("boundary", "a;b"),))),
        (
            "multipart/mixed; boundary=----=_Part_1",
            ("multipart", "mixed", (("boundary", "----=_Part_1"),)),
        ),
        (
            "text/plain (comment); charset=us-ascii (Plain)",
            ("text", "plain", (("charset", "us-ascii"),)),
        ),
        ('text/plain; name="a \\"q\\" b"', ("text", "plain", (("name", 'a "q" b'),))),
        ("text/plain; junk; charset=x", ("text", "plain", (("charset", "x"),))),
        ("text / plain", ("text", "plain", ())),
        ("text", None),
        ("text/", None),
        ("/plain", None),
        ("te xt/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_content_type(raw: str | None, expected: object) -> None:
    assert parse_content_type(raw) == expected


@pytest.mark.parametrize(
    ("raw", "params", "decoded"),
    [
        # RFC 2231 §3: continuations join in numeric order, wherever they stand.
        ('; title*1=" world"; title*0=hello', (("title", "hello world"),), "hello world"),
        # §4: the extended value keeps its charset'language' prefix (the Dovecot form).
        (
            "; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
            (("title*", "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"),),
            "This is ***fun***",
        ),
        # §4.1: extended and plain sections mixed; plain ones get "%" escaped.
        (
            "; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20;"
            ' title*2="isn\'t it!"',
            (
                (
                    "title*",
                    "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!",
                ),
            ),
            "This is even more ***fun*** isn't it!",
        ),
        ('; title*0="100%"; title*1*=%20sure', (("title*", "''100%25%20sure"),), "100% sure"),
        # A missing section number: keep the pieces apart rather than guess.
        ("; title*0=a; title*2=c", (("title*0", "a"), ("title*2", "c")), None),
        # An extended value wins over the plain one for display.
        (
            "; title=plain; title*=utf-8''%C3%A9",
            (("title", "plain"), ("title*", "utf-8''%C3%A9")),
            "é",
        ),
        # RFC 2047 words in a quoted value (forbidden by RFC 2047 §5, sent by many MUAs).
        (
            '; title="=?utf-8?q?caf=C3=A9?=.txt"',
            (("title", "=?utf-8?q?caf=C3=A9?=.txt"),),
            "café.txt",
        ),
        ("; title*=utf-8''%FF%FE", (("title*", "utf-8''%FF%FE"),), "\ufffd\ufffd"),
        ("; title*=no-quotes-at-all", (("title*", "no-quotes-at-all"),), "no-quotes-at-all"),
    ],
)
def test_rfc2231_params(raw: str, params: object, decoded: str | None) -> None:
    parsed = parse_params(raw)
    assert parsed == params
    assert param_value(parsed, "title") == decoded


# --- Addresses, RFC 5322 §3.4 ---------------------------------------------------------


def addr(
    name: str | None, mailbox: str | None, host: str | None, route: str | None = None
) -> Address:
    return Address(name, route, mailbox, host)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a@b.c", [addr(None, "a", "b.c")]),
        ("A B <a@b.c>", [addr("A B", "a", "b.c")]),
        ('"B, A" <a@b.c>, c@d.e', [addr("B, A", "a", "b.c"), addr(None, "c", "d.e")]),
        ("a@b.c (Real Name)", [addr("Real Name", "a", "b.c")]),
        ("a(nested (comment))@b.c", [addr("nested (comment)", "a", "b.c")]),
        ("<@x.y,@z.w:a@b.c>", [addr(None, "a", "b.c", "@x.y,@z.w")]),
        ('"john doe"@b.c', [addr(None, '"john doe"', "b.c")]),
        ("a@[192.0.2.1]", [addr(None, "a", "[192.0.2.1]")]),
        ("a @ b . c", [addr(None, "a", "b.c")]),
        ("<>", [addr(None, "", "")]),
        ("user", [addr(None, "user", "")]),
        ("Just A Name", [addr("Just A Name", "", "")]),
        ("G: ;", [addr(None, "G", None), addr(None, None, None)]),
        ("G: a@b.c", [addr(None, "G", None), addr(None, "a", "b.c"), addr(None, None, None)]),
        ("=?utf-8?q?Doe,_J?= <j@d.e>", [addr("=?utf-8?q?Doe,_J?=", "j", "d.e")]),
        ('"unterminated <a@b.c>', [addr(None, '"unterminated <a@b.c>"', "")]),  # one word
        ("A <a@b.c", [addr("A", "a", "b.c")]),
        (",,, ,", []),
        ("", []),
    ],
)
def test_parse_addresses(raw: str, expected: list[Address]) -> None:
    assert list(parse_addresses(raw)) == expected


def test_decode_addresses_decodes_names_and_group_names() -> None:
    raw = parse_addresses("=?utf-8?q?Gr=C3=BCn?=: =?utf-8?q?J=C3=B6rg?= <j@x.y>;")
    assert decode_addresses(raw) == (
        addr(None, "Grün", None),
        addr("Jörg", "j", "x.y"),
        addr(None, None, None),
    )


# --- Header sections, RFC 5322 §2.2 ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fields", "body_start"),
    [
        (b"A: 1\r\nB: 2\r\n\r\nbody", [("A", "1"), ("B", "2")], 14),
        (b"A: 1\nB: 2\n\nbody", [("A", "1"), ("B", "2")], 11),
        (b"A: 1\r\n continued\r\n\tagain\r\n\r\n", [("A", "1 continued\tagain")], 28),
        (b"\r\nbody", [], 2),
        (b"\nbody", [], 1),
        (b"A: 1", [("A", "1")], 4),
        (b"A: 1\r\n", [("A", "1")], 6),
        (b" orphan continuation\r\nA: 1\r\n\r\n", [("A", "1")], 30),
        (b"no colon\r\nA: 1\r\n\r\nx", [("A", "1")], 18),
        (b"Subject : obs\r\n\r\n", [("Subject", "obs")], 17),
        (b"A:\r\n\r\n", [("A", "")], 6),
        (b"A: 1\r\n\r\r\n", [("A", "1")], 9),  # CR CRLF is a line holding a CR: no end
    ],
)
def test_read_header(raw: bytes, fields: list[tuple[str, str]], body_start: int) -> None:
    header, start = read_header(raw, 0, len(raw))
    assert [(f.name, f.value) for f in header.fields] == fields
    assert start == body_start


@pytest.mark.parametrize(
    ("raw", "when"),
    [
        (
            "Tue, 2 Jan 2024 09:30:00 -0500",
            datetime(2024, 1, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("2 Jan 2024 09:30 +0000", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("Tue, 2 Jan 2024 09:30:00 -0000", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        (
            "Tue, 2 Jan 24 09:30:00 EST",
            datetime(2024, 1, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("Tue,\r\n 2 Jan 2024 09:30:00 +0100 (CET)", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("Tue, 99 Foo 2024 99:99:99 +9999", None),
        ("", None),
        (None, None),
    ],
)
def test_sent_date(raw: str | None, when: datetime | None) -> None:
    assert sent_date(raw) == when


def test_message_ids() -> None:
    assert message_ids("<a@b> (comment) <c\r\n @d>") == ["<a@b>", "<c@d>"]
    assert first_message_id("bare@id") == "bare@id"
    assert first_message_id("<>") is None
    assert first_message_id(None) is None
