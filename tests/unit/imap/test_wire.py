"""IMAP value serialisers (groupware.protocols.imap.wire): table-driven, plus properties of
modified UTF-7 (RFC 3501 §5.1.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupware.protocols.imap.wire import (
    astring,
    decode_mutf7,
    encode_mutf7,
    flag_list,
    internal_date,
    literal,
    nstring,
    quoted,
    string,
)


@pytest.mark.parametrize(
    ("value", "utf8", "wire"),
    [
        ("", False, b'""'),
        ("plain", False, b'"plain"'),
        ('say "hi"', False, b'"say \\"hi\\""'),
        ("back\\slash", False, b'"back\\\\slash"'),
        ("tab\there", False, b'"tab\there"'),
        ("caf\u00e9", True, b'"caf\xc3\xa9"'),
        (b"bytes", False, b'"bytes"'),
    ],
)
def test_quoted(value: str | bytes, utf8: bool, wire: bytes) -> None:
    assert quoted(value, utf8) == wire


@pytest.mark.parametrize(
    ("value", "utf8"),
    [
        ("line\r\nbreak", False),
        ("bare\nlf", True),
        ("bare\rcr", True),
        ("nul\x00", True),
        ("caf\u00e9", False),
        (b"\xe9", True),  # 8-bit, but not UTF-8
    ],
)
def test_quoted_refuses_what_it_cannot_carry(value: str | bytes, utf8: bool) -> None:
    with pytest.raises(ValueError):
        quoted(value, utf8)


@pytest.mark.parametrize(
    ("value", "utf8", "wire"),
    [
        (None, False, b"NIL"),
        ("NIL", False, b'"NIL"'),
        ("text", False, b'"text"'),
        ("two\r\nlines", False, b"{10}\r\ntwo\r\nlines"),
        ("Gr\u00fc\u00dfe", False, b"{7}\r\nGr\xc3\xbc\xc3\x9fe"),
        ("Gr\u00fc\u00dfe", True, b'"Gr\xc3\xbc\xc3\x9fe"'),
        # a raw header octet that is not UTF-8 (surrogate-escaped) goes back unchanged
        ("caf\udce9", True, b"{4}\r\ncaf\xe9"),
        (b"\xff", False, b"{1}\r\n\xff"),
        ("a\x00b", False, b"{5}\r\na\xef\xbf\xbdb"),
        ("a\x00b", True, b'"a\xef\xbf\xbdb"'),
    ],
)
def test_string(value: str | bytes | None, utf8: bool, wire: bytes) -> None:
    assert string(value, utf8) == wire
    assert nstring(value, utf8) == wire


def test_literal() -> None:
    assert literal(b"") == b"{0}\r\n"
    assert literal(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert literal(b"\x00\x01", binary=True) == b"~{2}\r\n\x00\x01"


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("Sent.2024", b"Sent.2024"),
        ("a]b", b"a]b"),  # ASTRING-CHAR includes resp-specials
        ("nil", b'"nil"'),
        ("a}b", b"a}b"),  # only "{" is an atom-special
        ("", b'""'),
        ("two words", b'"two words"'),
        ("wild*", b'"wild*"'),
        ("wild%", b'"wild%"'),
        ("(paren", b'"(paren"'),
        ("{brace", b'"{brace"'),
        ('q"uote', b'"q\\"uote"'),
        ("Entw&APw-rfe", b"Entw&APw-rfe"),
        ("Entw\u00fcrfe", b"{9}\r\nEntw\xc3\xbcrfe"),
    ],
)
def test_astring(value: str, wire: bytes) -> None:
    assert astring(value) == wire


def test_flag_list() -> None:
    assert flag_list([]) == b"()"
    assert flag_list(["\\Seen", "\\Flagged", "$Forwarded"]) == b"(\\Seen \\Flagged $Forwarded)"


@pytest.mark.parametrize(
    ("when", "wire"),
    [
        (datetime(2007, 2, 22, 17, 6, 23, tzinfo=UTC), b'"22-Feb-2007 17:06:23 +0000"'),
        (
            datetime(2024, 3, 5, 1, 2, 3, tzinfo=timezone(timedelta(hours=2))),
            b'"05-Mar-2024 01:02:03 +0200"',
        ),
        (
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            b'"31-Dec-1999 23:59:59 -0330"',
        ),
        (datetime(2024, 1, 1, 0, 0, 0), b'"01-Jan-2024 00:00:00 +0000"'),  # naive: UTC
    ],
)
def test_internal_date(when: datetime, wire: bytes) -> None:
    assert internal_date(when) == wire


# RFC 3501 §5.1.3, with its example, RFC 2152's and ours.
MUTF7 = [
    ("", ""),
    ("INBOX", "INBOX"),
    ("A&B", "A&-B"),
    ("&", "&-"),
    ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("Entw\u00fcrfe", "Entw&APw-rfe"),
    ("\u00e4\u00f6\u00fc", "&AOQA9gD8-"),
    ("\U0001f600", "&2D3eAA-"),  # a surrogate pair
    ("tab\there", "tab&AAk-here"),  # controls are not printable: encoded
    ("\u00e4&", "&AOQ-&-"),
]


@pytest.mark.parametrize(("name", "encoded"), MUTF7)
def test_mutf7(name: str, encoded: str) -> None:
    assert encode_mutf7(name) == encoded
    assert decode_mutf7(encoded) == name


@pytest.mark.parametrize(
    "bad",
    [
        "&",  # never closed
        "&AOQ",  # never closed
        "Entw&APw",  # never closed
        "&AGE-",  # "a" must stand for itself
        "&ACY-",  # "&" must be "&-"
        "&AOQ-&APY-",  # two runs in a row: canonically "&AOQA9g-"
        "&AOR-",  # non-zero spare bits
        "&A-",  # one sextet is no octet
        "&AOQA-",  # three octets: odd UTF-16
        "&2D0-",  # a high surrogate alone
        "&3gA-",  # a low surrogate alone
        "&Jjo!-",  # "!" is no BASE64
        "&U/BTFw-",  # "/" is "," in modified BASE64
        "&AOQ=-",  # no padding
        "caf\u00e9",  # 8-bit: modified UTF-7 is 7-bit
        "tab\there",  # controls must be encoded
    ],
)
def test_decode_mutf7_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_mutf7(bad)


def test_encode_mutf7_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError):
        encode_mutf7("\ud800")


@given(st.text())
def test_mutf7_round_trips(name: str) -> None:
    encoded = encode_mutf7(name)
    assert encoded.isascii()
    assert decode_mutf7(encoded) == name


@given(st.text(alphabet=st.sampled_from("&-AOQGa+,/=2D3eU\u00e4 ")) | st.text())
def test_decode_mutf7_raises_only_value_error(text: str) -> None:
    try:
        name = decode_mutf7(text)
    except ValueError:
        return
    assert encode_mutf7(name) == text  # what it accepts is canonical
