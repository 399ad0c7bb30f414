"""Header sections (RFC 5322 §2.2): where one ends, its fields unfolded, and field-level values.

Field values stay raw here (see `charset.raw_text`); decoding belongs to the callers.
Add readers for new field kinds (dates, message ids) beside `sent_date`/`message_ids`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from groupware.mime.charset import raw_text

# RFC 5322 §3.6.8: field-name = 1*ftext (printable US-ASCII but ":"); obs-optional
# (§4.5) allows whitespace before the colon.
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_MSG_ID = re.compile(r"<([^<>]*)>")
_WSP = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its name as written and its raw value, unfolded and trimmed."""

    name: str
    value: str


class Header:
    """The fields of one header section, with the first occurrence of each name at hand.

    RFC 5322 §3.6 allows most fields once; when a message repeats one we read the first,
    as Python's email package does, and `fields` keeps them all for search.
    """

    __slots__ = ("_first", "fields")

    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields
        self._first: dict[str, str] = {}
        for field in fields:
            self._first.setdefault(field.name.lower(), field.value)

    def get(self, name: str) -> str | None:
        """The raw value of the first field called `name` (lower case), or None."""
        return self._first.get(name)


def read_header(data: bytes, start: int, end: int) -> tuple[Header, int]:
    """Parse the header section at data[start:end]; return it and where the body starts.

    The section runs to the first empty line (RFC 5322 §2.1), which it includes. With
    no empty line before `end` everything is header and the body is empty: RFC 2046
    §5.1.1 says a body part without header fields starts with its CRLF, so a part whose
    first line is not empty really has no body. Lines may end in CRLF or a bare LF.
    A line that is neither a field nor a continuation is kept in the section (as RFC
    5322 has no other place for it) but yields no field.
    """
    fields: list[Field] = []
    name: bytes | None = None
    chunks: list[bytes] = []
    pos = start
    while pos < end:
        newline = data.find(b"\n", pos, end)
        line_end = end if newline < 0 else newline
        after = end if newline < 0 else newline + 1
        if line_end > pos and data[line_end - 1] == 0x0D:
            line_end -= 1
        if line_end == pos and newline >= 0:
            _add_field(fields, name, chunks)
            return Header(fields), after
        line = data[pos:line_end]
        if line[:1] in (b" ", b"\t"):
            if name is not None:
                chunks.append(line)  # RFC 5322 §2.2.3: unfolding drops only the CRLF
        else:
            _add_field(fields, name, chunks)
            match = _FIELD_NAME.match(line)
            name = match.group(1) if match else None
            chunks = [line[match.end() :]] if match else []
        pos = after
    _add_field(fields, name, chunks)
    return Header(fields), end


def _add_field(fields: list[Field], name: bytes | None, chunks: list[bytes]) -> None:
    if name is not None:
        value = b"".join(chunks).strip(b" \t\r\n")
        fields.append(Field(name.decode("ascii"), raw_text(value)))


def unfold(raw: str) -> str:
    """A value with every run of whitespace made one space (for ids, locations, dates)."""
    return _WSP.sub(" ", raw).strip()


def message_ids(raw: str | None) -> list[str]:
    """The msg-ids (RFC 5322 §3.6.4) in a field, angle brackets kept, inner spaces dropped."""
    if not raw:
        return []
    return ["<" + _WSP.sub("", inner) + ">" for inner in _MSG_ID.findall(raw) if inner.strip()]


def first_message_id(raw: str | None) -> str | None:
    """The first msg-id of a field; a bracketless id is taken whole (common in bad mail)."""
    ids = message_ids(raw)
    if ids:
        return ids[0]
    if raw and raw.strip() and "<" not in raw:
        return _WSP.sub("", raw)
    return None


def sent_date(raw: str | None) -> datetime | None:
    """The Date field (RFC 5322 §3.3) as an aware datetime; None if absent or unreadable.

    "-0000" (and obsolete zones Python cannot place) means no zone information (§3.3):
    we read such times as UTC.
    """
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(unfold(raw))
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when
