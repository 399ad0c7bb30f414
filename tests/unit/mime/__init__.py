"""Tests of groupware.mime; `check_invariants` is the shape every parse must have, and
`calendar` an event with recurrence lines to check. The process is patched as the server
is (dav/patches.py): calendar code relies on it."""

from __future__ import annotations

from typing import Any

import vobject

from groupware.dav import patches
from groupware.mime.parse import ParsedMessage
from groupware.mime.structure import BodyPart

patches.install()
_MESSAGE_TYPES = ("message/rfc822", "message/global")


def check_invariants(parsed: ParsedMessage, raw: bytes) -> None:
    """Offsets within the message and nested; the tree agrees with the IMAP grammar."""
    assert parsed.size == len(raw)
    assert parsed.header_size == parsed.body.body_start
    assert parsed.body.header_start == 0 and parsed.body.body_end == parsed.size
    _check_part(parsed.body, 0, parsed.size)
    _check_clean(parsed)
    assert ParsedMessage.from_json(parsed.to_json(), headers=parsed.headers, text=parsed.text) == (
        parsed
    )


def _check_clean(parsed: ParsedMessage) -> None:
    """Decoded fields go into text columns and full-text indexes: no NUL, valid UTF-8."""
    texts = [parsed.subject, parsed.headers, parsed.text, *parsed.references]
    texts += [parsed.message_id or "", parsed.in_reply_to or ""]
    for addresses in (parsed.from_, parsed.sender, parsed.reply_to, parsed.to, parsed.cc):
        for address in (*addresses, *parsed.bcc):
            texts += [address.name or "", address.route or "", address.mailbox or ""]
            texts.append(address.host or "")
    for text in texts:
        assert "\x00" not in text
        text.encode("utf-8")


def _check_part(part: BodyPart, low: int, high: int) -> None:
    assert low <= part.header_start <= part.body_start <= part.body_end <= high
    assert part.size == part.body_end - part.body_start
    if part.type.lower() == "multipart":
        assert part.children, "a multipart always has a body part (RFC 3501 body-type-mpart)"
    else:
        assert not part.children
    assert (part.message is not None) == (part.mime_type in _MESSAGE_TYPES)
    has_lines = part.type.lower() == "text" or part.message is not None
    assert (part.lines is not None) == has_lines
    previous = part.body_start
    for child in part.children:
        assert child.header_start >= previous, "siblings do not overlap"
        _check_part(child, part.body_start, part.body_end)
        previous = child.body_end
    if part.message is not None:
        inner = part.message[1]
        assert (inner.header_start, inner.body_end) == (part.body_start, part.body_end)
        _check_part(inner, part.body_start, part.body_end)


BERLIN = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def calendar(lines: str, start: str = "DTSTART:20260105T090000Z") -> Any:
    """A parsed VCALENDAR (with Berlin's VTIMEZONE) of one hour-long event with `lines`."""
    return vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        f"{BERLIN}BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\n{start}\r\n"
        f"DURATION:PT1H\r\n{lines}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
