"""Property tests: any octets parse, offsets stay nested, the stored form round-trips.

`_parse` is called directly (not `parse_message`) so that the last-resort fallback in
`parse_message` cannot hide an exception.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupware.mime.address import parse_addresses
from groupware.mime.params import param_value, parse_content_type, parse_params
from groupware.mime.parse import _parse
from groupware.mime.text import html_to_text
from groupware.mime.words import decode_words
from tests.unit.mime import check_invariants

CORPUS = [
    path.read_bytes()
    for path in sorted((Path(__file__).resolve().parents[2] / "data" / "mime").glob("*.eml"))
]
SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

# Fragments that steer random messages into MIME's corners.
FRAGMENTS = [
    b"--b\r\n",
    b"--b--\r\n",
    b"--c\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"text\r\n",
    b"\x00",
    b"\xff\xfe",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/digest; boundary=c\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/html; charset=utf-8\r\n",
    b"Content-Type: text/plain; name*0*=utf-8''%E2; name*1*=%82%AC\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b'Content-Disposition: attachment; filename="a\r\n b"\r\n',
    b"From: =?utf-8?q?J=C3=B6rg?= <j@x>, G: a@b;\r\n",
    b"Subject: =?utf-8?b?w6k=?= =?iso-8859-1?q?=E9?=\r\n",
    b" folded\r\n",
    b"<p>x</p><script>",
    b"<!--",
    b"=\r\n",
    b"=E9",
    b"SGVsbG8=",
]


@st.composite
def mutated_corpus_message(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "fragment", "duplicate", "truncate"]))
        if action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif action == "fragment":
            data[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            del data[at:]
    return bytes(data)


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_octets_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=60).map(b"".join))
def test_mime_shaped_octets_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(mutated_corpus_message())
def test_mutated_corpus_messages_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(st.text(max_size=300))
def test_header_readers_are_total(text: str) -> None:
    parse_addresses(text)
    decode_words(text)
    parse_content_type(text)
    params = parse_params(text)
    for name, _ in params:
        param_value(params, name.rstrip("*"))
    html_to_text(text)
