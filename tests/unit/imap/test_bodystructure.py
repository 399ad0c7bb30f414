"""ENVELOPE and BODY/BODYSTRUCTURE serialisation (groupware.protocols.imap.bodystructure).

The corpus tests/data/imap-corpus/NAME.eml states its expected wire values in
NAME.expected: a "# " line giving the RFC rule that makes them right, then one line per
item ("ENVELOPE (...)", "BODYSTRUCTURE (...)", "BODY (...)"), byte for byte, except
that the CRLF after a literal's "{n}" is written as the file's LF.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from groupware.mime.parse import parse_message
from groupware.mime.structure import Address, BodyPart, Envelope
from groupware.protocols.imap.bodystructure import body_structure, envelope

CORPUS = Path(__file__).resolve().parents[2] / "data" / "imap-corpus"
CASES = sorted(CORPUS.glob("*.eml"))
_LITERAL = re.compile(rb"\{(\d+)\}\Z")


def read_expected(path: Path) -> tuple[bytes, dict[str, bytes]]:
    """The justification line and the items of an .expected file."""
    data = path.read_bytes()
    why, _, rest = data.partition(b"\n")
    items: dict[str, bytes] = {}
    pos = 0
    while pos < len(rest):
        item = b""
        while True:
            newline = rest.index(b"\n", pos)
            item += rest[pos:newline]
            pos = newline + 1
            literal = _LITERAL.search(item)
            if literal is None:
                break
            size = int(literal.group(1))
            item += b"\r\n" + rest[pos : pos + size]
            pos += size
        name, _, value = item.partition(b" ")
        items[name.decode("ascii")] = value
    return why, items


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert all(path.with_suffix(".expected").exists() for path in CASES)


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_corpus_message(path: Path) -> None:
    why, items = read_expected(path.with_suffix(".expected"))
    assert why.startswith(b"# ") and b"RFC" in why, "every corpus message says why"
    assert set(items) == {"ENVELOPE", "BODYSTRUCTURE", "BODY"}
    parsed = parse_message(path.read_bytes())
    assert envelope(parsed.envelope) == items["ENVELOPE"]
    assert body_structure(parsed.body, extensible=True) == items["BODYSTRUCTURE"]
    assert body_structure(parsed.body, extensible=False) == items["BODY"]


# What imaptest (Dovecot's regression suite, /work/shared/imaptest) expects of its own
# messages; it compares case-insensitively, so we do too.
IMAPTEST = {
    "41-imaptest-folded-boundary": (
        "BODY",
        b'(("TEXT" "x-MYOWN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1) "MIXED")',
    ),
    "42-imaptest-groups": (
        "ENVELOPE",
        b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) '
        b'(("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) '
        b'((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")'
        b'(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL)) '
        b'((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) '
        b"NIL NIL NIL)",
    ),
    "43-imaptest-empty-sender": (
        "ENVELOPE",
        b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) '
        b'(("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) '
        b"NIL NIL NIL NIL NIL)",
    ),
    "44-imaptest-route": (
        "ENVELOPE",
        b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) '
        b'((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) '
        b"NIL NIL NIL NIL NIL)",
    ),
    "45-imaptest-all-fields": (
        "ENVELOPE",
        b'("Thu, 15 Feb 2007 01:02:03 +0200" "subject header" '
        b'(("From Real" NIL "fromuser" "fromdomain.org")) '
        b'(("Sender Real" NIL "senderuser" "senderdomain.org")) '
        b'(("ReplyTo Real" NIL "replytouser" "replytodomain.org")) '
        b'(("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org")) '
        b'(("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>")',
    ),
}


@pytest.mark.parametrize("name", sorted(IMAPTEST))
def test_agrees_with_imaptest(name: str) -> None:
    item, wire = IMAPTEST[name]
    parsed = parse_message((CORPUS / f"{name}.eml").read_bytes())
    got = envelope(parsed.envelope) if item == "ENVELOPE" else body_structure(parsed.body, False)
    assert got.lower() == wire.lower()
    assert read_expected(CORPUS / f"{name}.expected")[1][item] == got


# -- hand-built parts: the grammar's corners ---------------------------------------------


def leaf(**fields: object) -> BodyPart:
    values: dict[str, object] = {
        "type": "application",
        "subtype": "octet-stream",
        "params": (),
        "id": None,
        "description": None,
        "encoding": "base64",
        "md5": None,
        "disposition": None,
        "language": None,
        "location": None,
        "lines": None,
        "header_start": 0,
        "body_start": 10,
        "body_end": 14,
    }
    values.update(fields)
    return BodyPart(**values)  # type: ignore[arg-type]


def test_leaf_without_parameters_has_nil() -> None:
    assert body_structure(leaf(), False) == b'("application" "octet-stream" NIL NIL NIL "base64" 4)'


def test_leaf_extension_data() -> None:
    part = leaf(
        md5="abc=",
        disposition=("attachment", ()),
        language=("en",),
        location="http://x/",
    )
    assert body_structure(part, True) == (
        b'("application" "octet-stream" NIL NIL NIL "base64" 4 "abc=" '
        b'("attachment" NIL) ("en") "http://x/")'
    )


def test_text_part_always_has_lines() -> None:
    part = leaf(type="text", subtype="plain", params=(("charset", "us-ascii"),), lines=None)
    assert body_structure(part, False).endswith(b'"base64" 4 0)')


def test_utf8_quotes_8bit_strings() -> None:
    part = leaf(params=(("name", "r\u00e9sum\u00e9.pdf"),))
    assert b"{12}\r\nr\xc3\xa9sum\xc3\xa9.pdf" in body_structure(part, False)
    assert b'"r\xc3\xa9sum\xc3\xa9.pdf"' in body_structure(part, False, utf8=True)


def test_envelope_without_anything() -> None:
    empty = Envelope(None, None, (), (), (), (), (), (), None, None)
    assert envelope(empty) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_envelope_utf8() -> None:
    name = Address("Zo\u00eb", None, "zoe", "example.com")
    env = Envelope(None, "Gr\u00fc\u00dfe", (name,), (name,), (name,), (), (), (), None, None)
    assert envelope(env, utf8=True) == (
        b'(NIL "Gr\xc3\xbc\xc3\x9fe" (("Zo\xc3\xab" NIL "zoe" "example.com")) '
        b'(("Zo\xc3\xab" NIL "zoe" "example.com")) (("Zo\xc3\xab" NIL "zoe" "example.com")) '
        b"NIL NIL NIL NIL NIL)"
    )


def test_message_global_under_imap4rev2() -> None:
    """RFC 9051 body-type-msg: media-message includes "GLOBAL", so a session that enabled
    IMAP4rev2 gets the envelope, body and lines of the inner message (UTF-8 header text
    as literals)."""
    parsed = parse_message((CORPUS / "37-message-global.eml").read_bytes())
    got = body_structure(parsed.body, extensible=False, rev2=True)
    assert got.startswith(b'("message" "global" NIL NIL NIL "7bit" 99 (NIL {7}\r\nGr')
    assert got.endswith(b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 7 1) 5)')
