"""FETCH BODY[section] and BINARY[] slices (groupware.protocols.imap.sections) against
byte strings computed by hand, and imaptest's expectations (Dovecot's oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mime.parse import parse_message
from groupware.protocols.imap.commands import Section
from groupware.protocols.imap.sections import (
    UnknownEncoding,
    binary_bytes,
    binary_size,
    partial,
    section_bytes,
)

CORPUS = Path(__file__).resolve().parents[2] / "data" / "imap-corpus"

HEADER = (
    b"From: a@example.org\r\n"
    b"Subject: sections\r\n"
    b" folded\r\n"
    b"To: b@example.org\r\n"
    b"subject : again\r\n"
    b"Content-Type: multipart/mixed; boundary=x\r\n"
    b"\r\n"
)
TEXT = (
    b"preamble\r\n"
    b"--x\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"one\r\n"
    b"--x\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: c@example.org\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--x\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVs\r\n"
    b"bG8=\r\n"
    b"--x\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: Quoted-Printable\r\n"
    b"\r\n"
    b"caf=C3=A9 =\r\n"
    b"au lait\r\n"
    b"--x\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n"
    b"\r\n"
    b"begin\r\n"
    b"--x--\r\n"
)
MESSAGE = HEADER + TEXT
INNER_HEADER = b"From: c@example.org\r\nSubject: inner\r\n\r\n"


def fetch(raw: bytes, part: tuple[int, ...] = (), text: str | None = None, *names: str) -> bytes:
    got = section_bytes(raw, parse_message(raw).body, Section(part, text, names))
    assert got is not None
    return got


@pytest.mark.parametrize(
    ("part", "text", "names", "expected"),
    [
        ((), None, (), MESSAGE),
        ((), "HEADER", (), HEADER),
        ((), "TEXT", (), TEXT),
        # RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter
        ((1,), None, (), b"one"),
        ((1,), "MIME", (), b"Content-Type: text/plain\r\n\r\n"),
        ((2,), None, (), INNER_HEADER + b"inner body"),
        ((2,), "MIME", (), b"Content-Type: message/rfc822\r\n\r\n"),
        ((2,), "HEADER", (), INNER_HEADER),
        ((2,), "TEXT", (), b"inner body"),
        ((2, 1), None, (), b"inner body"),
        ((2, 1), "MIME", (), INNER_HEADER),  # the encapsulated body's header is the message's
        ((2,), "HEADER.FIELDS", ("FROM",), b"From: c@example.org\r\n\r\n"),
        ((2,), "HEADER.FIELDS.NOT", ("FROM",), b"Subject: inner\r\n\r\n"),
        ((3,), None, (), b"aGVs\r\nbG8="),
        ((4,), None, (), b"caf=C3=A9 =\r\nau lait"),
        ((5,), "MIME", (), b"Content-Transfer-Encoding: x-uuencode\r\n\r\n"),
        # Not defined by RFC 9051 §6.4.5 on a non-message part; Dovecot reads the part.
        ((1,), "HEADER", (), b"Content-Type: text/plain\r\n\r\n"),
        ((1,), "TEXT", (), b"one"),
    ],
)
def test_sections(
    part: tuple[int, ...], text: str | None, names: tuple[str, ...], expected: bytes
) -> None:
    assert fetch(MESSAGE, part, text, *names) == expected


@pytest.mark.parametrize(
    ("names", "exclude", "expected"),
    [
        # every occurrence, folding kept, names case-insensitive and space before ":" allowed
        (("SUBJECT",), False, b"Subject: sections\r\n folded\r\nsubject : again\r\n\r\n"),
        (
            ("subject", "From"),
            False,
            HEADER[:21] + b"Subject: sections\r\n folded\r\n" + b"subject : again\r\n\r\n",
        ),
        (("X-NONE",), False, b"\r\n"),
        (("SUBJECT", "CONTENT-TYPE"), True, b"From: a@example.org\r\nTo: b@example.org\r\n\r\n"),
        (("X-NONE",), True, HEADER),
    ],
)
def test_header_fields(names: tuple[str, ...], exclude: bool, expected: bytes) -> None:
    text = "HEADER.FIELDS.NOT" if exclude else "HEADER.FIELDS"
    assert fetch(MESSAGE, (), text, *names) == expected


def test_header_fields_of_a_header_without_empty_line() -> None:
    # RFC 9051 §6.4.5: no body and no blank line, so no blank line in the reply either
    raw = b"Subject: s\r\nFrom: f@example.org"
    assert fetch(raw, (), "HEADER.FIELDS", "FROM") == b"From: f@example.org"
    assert fetch(raw, (), "HEADER.FIELDS", "SUBJECT") == b"Subject: s\r\n"
    assert fetch(raw, (), "HEADER") == raw
    assert fetch(raw, (), "TEXT") == b""
    raw = b"Subject: s\r\n"
    assert fetch(raw, (), "HEADER.FIELDS", "X") == b""


def test_header_fields_not_keeps_lines_that_are_no_fields() -> None:
    raw = b" stray continuation\r\nno colon here\r\nSubject: s\r\n\r\nbody\r\n"
    assert fetch(raw, (), "HEADER.FIELDS", "SUBJECT") == b"Subject: s\r\n\r\n"
    assert fetch(raw, (), "HEADER.FIELDS.NOT", "SUBJECT") == (
        b" stray continuation\r\nno colon here\r\n\r\n"
    )


def test_header_fields_keep_lf_line_ends() -> None:
    raw = b"From: f@example.org\nTo: t@example.org\n\nbody\n"
    assert fetch(raw, (), "HEADER.FIELDS", "TO") == b"To: t@example.org\n\n"


@pytest.mark.parametrize(
    "part",
    [(0,), (6,), (1, 1), (2, 2), (3, 1), (1, 2, 3)],
)
def test_missing_parts_are_none(part: tuple[int, ...]) -> None:
    root = parse_message(MESSAGE).body
    assert section_bytes(MESSAGE, root, Section(part)) is None
    assert section_bytes(MESSAGE, root, Section(part, "MIME")) is None
    assert binary_bytes(MESSAGE, root, part) is None
    assert binary_size(MESSAGE, root, part) is None


def test_mime_of_the_whole_message_is_none() -> None:
    assert section_bytes(MESSAGE, parse_message(MESSAGE).body, Section((), "MIME")) is None


def test_single_part_message() -> None:
    raw = b"Subject: one part\r\n\r\nthe body\r\n"
    assert fetch(raw, (1,)) == b"the body\r\n"  # RFC 9051 §6.4.5: part 1 is the body
    assert fetch(raw, (1,), "MIME") == b"Subject: one part\r\n\r\n"
    root = parse_message(raw).body
    assert section_bytes(raw, root, Section((2,))) is None
    assert section_bytes(raw, root, Section((1, 1))) is None


def test_corpus_rfc822_in_rfc822() -> None:
    raw = (CORPUS / "07-rfc822-in-rfc822.eml").read_bytes()
    innermost = b"From: dave@example.com\r\nSubject: hello\r\n\r\n"
    assert fetch(raw, (1,), "HEADER") == (
        b"From: bob@example.net\r\nSubject: Fwd: hello\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: message/rfc822\r\n\r\n"
    )
    assert fetch(raw, (1,), "TEXT") == innermost + b"Hello there."
    assert fetch(raw, (1, 1), "HEADER") == innermost
    assert fetch(raw, (1, 1), "TEXT") == b"Hello there."
    assert fetch(raw, (1, 1, 1)) == b"Hello there."


def test_partial() -> None:
    assert partial(b"body22\r\n", 0, 3) == b"bod"
    assert partial(b"body22\r\n", 3, 3) == b"y22"
    assert partial(b"body22\r\n", 6, 100) == b"\r\n"
    assert partial(b"body22\r\n", 8, 1) == b""
    assert partial(b"body22\r\n", 100, 1) == b""


# -- BINARY (RFC 3516) -------------------------------------------------------------------


def test_binary() -> None:
    root = parse_message(MESSAGE).body
    assert binary_bytes(MESSAGE, root, ()) == MESSAGE
    assert binary_bytes(MESSAGE, root, (1,)) == b"one"
    assert binary_bytes(MESSAGE, root, (2,)) == INNER_HEADER + b"inner body"
    assert binary_bytes(MESSAGE, root, (3,)) == b"hello"
    assert binary_bytes(MESSAGE, root, (4,)) == "café au lait".encode()
    assert binary_size(MESSAGE, root, (3,)) == 5
    assert binary_size(MESSAGE, root, (4,)) == 13
    with pytest.raises(UnknownEncoding):
        binary_bytes(MESSAGE, root, (5,))
    with pytest.raises(ValueError):
        binary_size(MESSAGE, root, (5,))


def leaf_message(encoding: str, body: bytes) -> bytes:
    return b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("encoding", "body", "decoded"),
    [
        ("7bit", b"as is\r\n", b"as is\r\n"),
        ("8BIT", b"\xc3\xa9\r\n", b"\xc3\xa9\r\n"),
        ("binary", b"\x00\x01", b"\x00\x01"),
        # RFC 2045 §6.8: characters outside the alphabet are ignored
        ("base64", b"  aGVs    \r\n bG8g  \r\n   d29y  \t \r\n    bGQ= \r\n", b"hello world"),
        ("base64", b"aGVsbG8", b"hello"),  # missing padding
        ("base64", b"aGk=aGk=", b"hihi"),  # concatenated encodings
        ("base64", b"aGk=\r\nQ", b"hi"),  # a dangling sextet is no octet
        ("base64", b"", b""),
        # RFC 2045 §6.7: soft line breaks, trailing white space, =XX (any case)
        ("quoted-printable", b"a=3Db=3db\r\n", b"a=b=b\r\n"),
        ("quoted-printable", b"soft=\r\nbreak", b"softbreak"),
        ("quoted-printable", b"trailing \t\r\nspace", b"trailing\r\nspace"),
        ("quoted-printable", b"soft = \t\r\nbreak", b"soft break"),
        ("quoted-printable", b"lf only=\nhere\n", b"lf onlyhere\n"),
        ("quoted-printable", b"bad =ZZ escape=", b"bad =ZZ escape"),
    ],
)
def test_binary_decoding(encoding: str, body: bytes, decoded: bytes) -> None:
    raw = leaf_message(encoding, body)
    root = parse_message(raw).body
    assert binary_bytes(raw, root, (1,)) == decoded
    assert binary_size(raw, root, (1,)) == len(decoded)


@pytest.mark.parametrize("encoding", ["x-uuencode", "base-64", "gzip"])
def test_binary_unknown_encoding(encoding: str) -> None:
    raw = leaf_message(encoding, b"data\r\n")
    with pytest.raises(UnknownEncoding):
        binary_bytes(raw, parse_message(raw).body, (1,))


def test_binary_of_imaptest_qp() -> None:
    """imaptest fetch-binary-mime-qp: Dovecot's decoding of awkward quoted-printable."""
    body = (
        b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\n"
        b"foo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n"
    )
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body + b"\r\n--b--\r\n"
    )
    expected = (
        b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"
    )
    root = parse_message(raw).body
    assert binary_bytes(raw, root, (1,)) == expected
    assert binary_size(raw, root, (1,)) == 65


def test_binary_of_imaptest_base64() -> None:
    """imaptest fetch-binary-mime-base64, part 5: CR and LF octets come back as they are."""
    raw = leaf_message("base64", b"YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\r\n")
    decoded = binary_bytes(raw, parse_message(raw).body, (1,))
    assert decoded == b"abcdefg\rhijkl\r\nmno\npqrstuvqxyz"
    assert partial(decoded, 10, 10) == b"jkl\r\nmno\np"


# -- properties --------------------------------------------------------------------------

FRAGMENTS = [
    b"--b\r\n",
    b"--b--\r\n",
    b"\r\n",
    b"\n",
    b"text\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-unknown\r\n",
    b"Subject: s\r\n",
    b" folded\r\n",
    b"=\r\n",
    b"=4",
    b"aGk=",
]
SECTIONS = [None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=4), max_size=25),
    st.lists(st.integers(min_value=0, max_value=3), max_size=3).map(tuple),
)
def test_any_message_and_section_slices_without_error(
    chunks: list[bytes], part: tuple[int, ...]
) -> None:
    raw = b"".join(chunks)
    root = parse_message(raw).body
    for text in SECTIONS:
        got = section_bytes(raw, root, Section(part, text, ("SUBJECT",)))
        assert got is None or isinstance(got, bytes)
    mime = section_bytes(raw, root, Section(part, "MIME"))
    body = section_bytes(raw, root, Section(part))
    if part and mime is not None and body is not None:
        assert mime + body in raw  # a part's header and body are adjacent
    try:
        decoded = binary_bytes(raw, root, part)
    except UnknownEncoding:
        return
    size = binary_size(raw, root, part)
    assert size == (None if decoded is None else len(decoded))
