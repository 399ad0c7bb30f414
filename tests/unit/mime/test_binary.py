"""Binary parts stored base64-encoded (RFC 3516 §4.3): what changes and what stays."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from groupware.mime.binary import encode_binary_parts, needs_conversion
from groupware.mime.parse import parse_message
from groupware.protocols.imap.sections import binary_bytes

SINGLE = (
    b"From: user@domain.org\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n\x00-\xc3\xa4\r\n"
)
MULTIPART = (
    b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
    b"--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: Binary\r\n"
    b"\r\n\x00\x01\x02\xff\r\n--x--\r\n"
)


def test_a_binary_single_part_becomes_base64() -> None:
    assert needs_conversion(SINGLE)
    out = encode_binary_parts(SINGLE)
    assert b"\x00" not in out and b"Content-Transfer-Encoding: base64\r\n" in out
    root = parse_message(out).body
    assert root.encoding.lower() == "base64"
    assert binary_bytes(out, root, (1,)) == b"\x00-\xc3\xa4\r\n"


def test_only_the_binary_part_of_a_multipart_changes() -> None:
    out = encode_binary_parts(MULTIPART)
    assert out.startswith(MULTIPART[: MULTIPART.index(b"--x\r\nContent-Type: app")])
    root = parse_message(out).body
    assert [p.encoding.lower() for p in root.children] == ["7bit", "base64"]
    assert binary_bytes(out, root, (2,)) == b"\x00\x01\x02\xff"
    assert out.endswith(b"\r\n--x--\r\n")


def test_plain_messages_are_left_alone() -> None:
    plain = b"Subject: hi\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"
    assert not needs_conversion(plain)
    assert encode_binary_parts(plain) == plain


def test_nul_in_a_7bit_part_is_encoded_too() -> None:
    out = encode_binary_parts(b"Subject: nul\r\n\r\nab\x00cd\r\n")
    assert b"\x00" not in out
    body = out.split(b"\r\n\r\n", 1)[1]
    assert base64.b64decode(body) == b"ab\x00cd\r\n"


@given(st.binary(max_size=2000))
def test_any_bytes_convert_without_error_and_keep_no_nul_in_leaves(data: bytes) -> None:
    out = encode_binary_parts(data)
    if needs_conversion(data) and b"\x00" in data:
        root = parse_message(out).body
        leaves = [p for p in [root, *root.children] if not p.children and p.message is None]
        assert all(b"\x00" not in out[p.body_start : p.body_end] for p in leaves)
