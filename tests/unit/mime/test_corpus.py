"""The BODYSTRUCTURE/ENVELOPE corpus: tests/data/mime/NN-name.eml against NN-name.json.

Each .json states the expected values and, in "why", the RFC rule they follow. Sections
are IMAP section specs (RFC 3501 §6.4.5): "" is the root part, "HEADER" the message
header, "2.1" a part, "2.MIME" its header, "2.HEADER"/"2.TEXT" the header and root part
of the message inside a message/rfc822 part. Raw octets compare as UTF-8 strings with
invalid octets surrogate-escaped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from groupware.mime.parse import ParsedMessage, parse_message
from groupware.mime.structure import Address, BodyPart, Envelope, section_bounds
from tests.unit.mime import check_invariants

DATA = Path(__file__).resolve().parents[2] / "data" / "mime"
CASES = sorted(DATA.glob("*.eml"))

PART_FIELDS = ("type", "subtype", "encoding", "id", "description", "md5", "location", "lines")
PART_KEYS = {
    *PART_FIELDS,
    *("size", "params", "disposition", "language", "children", "filename", "decoded_params"),
    *("body", "body_startswith", "body_endswith", "envelope", "absent", "why"),
}
RAW_KEYS = {"bytes", "bytes_startswith", "bytes_endswith", "why"}
ADDRESS_LISTS = ("from", "sender", "reply_to", "to", "cc", "bcc")
ENVELOPE_KEYS = {"date", "subject", "in_reply_to", "message_id", "why", *ADDRESS_LISTS}
MESSAGE_SCALARS = ("size", "header_size", "subject", "message_id", "in_reply_to", "attachments")
MESSAGE_KEYS = {
    *MESSAGE_SCALARS,
    *ADDRESS_LISTS,
    *("sent_date", "references", "text", "headers", "why"),
    *("text_contains", "text_excludes", "headers_contains", "headers_excludes"),
}


def raw_text(octets: bytes) -> str:
    return octets.decode("utf-8", "surrogateescape")


def addresses(values: tuple[Address, ...]) -> list[list[str | None]]:
    return [[a.name, a.route, a.mailbox, a.host] for a in values]


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert all(path.with_suffix(".json").exists() for path in CASES)


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    expected = json.loads(path.with_suffix(".json").read_text("utf-8"))
    assert set(expected) <= {"why", "message", "envelope", "parts", "eol"}
    assert expected.get("why"), "every corpus message says what it tests"
    assert "why" in expected.get("envelope", {"why": ""}), "envelope expectations give a reason"
    if raw.count(b"\n") > 1:  # line ends as authored (no checkout conversion)
        assert (b"\r\n" in raw) == (expected["eol"] == "CRLF")
    parsed = parse_message(raw)
    check_message(parsed, expected.get("message", {}))
    check_envelope(parsed.envelope, expected.get("envelope", {}))
    for section, want in expected.get("parts", {}).items():
        assert want.get("why"), f"section {section!r} gives no reason"
        check_section(raw, parsed, section, want)
    check_invariants(parsed, raw)


def check_message(parsed: ParsedMessage, want: dict[str, Any]) -> None:
    assert set(want) <= MESSAGE_KEYS, set(want) - MESSAGE_KEYS
    for key in MESSAGE_SCALARS:
        if key in want:
            assert getattr(parsed, key) == want[key], key
    for key in ADDRESS_LISTS:
        if key in want:
            assert addresses(getattr(parsed, "from_" if key == "from" else key)) == want[key], key
    if "sent_date" in want:
        when = parsed.sent_date
        assert (None if when is None else when.isoformat()) == want["sent_date"]
    if "references" in want:
        assert list(parsed.references) == want["references"]
    for key in ("text", "headers"):
        if key in want:
            assert getattr(parsed, key) == want[key], key
        for needle in want.get(f"{key}_contains", []):
            assert needle in getattr(parsed, key), (key, needle)
        for needle in want.get(f"{key}_excludes", []):
            assert needle not in getattr(parsed, key), (key, needle)


def check_envelope(envelope: Envelope, want: dict[str, Any]) -> None:
    assert set(want) <= ENVELOPE_KEYS, set(want) - ENVELOPE_KEYS
    for key in ("date", "subject", "in_reply_to", "message_id"):
        if key in want:
            assert getattr(envelope, key) == want[key], key
    for key in ADDRESS_LISTS:
        if key in want:
            assert addresses(getattr(envelope, "from_" if key == "from" else key)) == want[key], key


def check_section(raw: bytes, parsed: ParsedMessage, section: str, want: dict[str, Any]) -> None:
    if section == "HEADER":
        return check_raw(raw[: parsed.header_size], want)
    *numbers, last = section.split(".") if section else [""]
    if last not in ("MIME", "HEADER", "TEXT"):
        numbers, last = [*numbers, last] if last else numbers, ""
    part = section_bounds(parsed.body, tuple(int(n) for n in numbers))
    if want.get("absent"):
        assert part is None, f"section {section} should not exist"
        return None
    assert part is not None, f"section {section} is missing"
    if last == "MIME":
        return check_raw(raw[part.header_start : part.body_start], want)
    if last in ("HEADER", "TEXT"):
        assert part.message is not None, f"{section}: not a message/rfc822 part"
        inner = part.message[1]
        if last == "HEADER":
            return check_raw(raw[inner.header_start : inner.body_start], want)
        part = inner
    return check_part(raw, part, want)


def check_raw(octets: bytes, want: dict[str, Any]) -> None:
    assert set(want) <= RAW_KEYS, set(want) - RAW_KEYS
    text = raw_text(octets)
    if "bytes" in want:
        assert text == want["bytes"]
    assert text.startswith(want.get("bytes_startswith", ""))
    assert text.endswith(want.get("bytes_endswith", ""))


def check_part(raw: bytes, part: BodyPart, want: dict[str, Any]) -> None:
    assert set(want) <= PART_KEYS, set(want) - PART_KEYS
    for key in (*PART_FIELDS, "size", "filename"):
        if key in want:
            assert getattr(part, key) == want[key], key
    if "params" in want:
        assert [list(pair) for pair in part.params] == want["params"]
    if "disposition" in want:
        got = part.disposition
        assert (None if got is None else [got[0], [list(p) for p in got[1]]]) == want["disposition"]
    if "language" in want:
        assert (None if part.language is None else list(part.language)) == want["language"]
    if "children" in want:
        assert len(part.children) == want["children"]
    for name, value in want.get("decoded_params", {}).items():
        assert part.param(name) == value, name
    body = raw_text(raw[part.body_start : part.body_end])
    if "body" in want:
        assert body == want["body"]
    assert body.startswith(want.get("body_startswith", ""))
    assert body.endswith(want.get("body_endswith", ""))
    if "envelope" in want:
        assert part.message is not None
        check_envelope(part.message[0], want["envelope"])
