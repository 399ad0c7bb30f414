"""Parsing a message once, at the door: `parse_message(bytes) -> ParsedMessage`.

ParsedMessage is what the store keeps (envelope, body tree with offsets, decoded search
fields, text). A new stored fact is a field here, filled in `_parse`, kept in `to_json`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from groupware.mime.address import decode_addresses, parse_addresses
from groupware.mime.charset import clean_text
from groupware.mime.headers import Header, first_message_id, message_ids, sent_date
from groupware.mime.stored import (
    addresses_from_json,
    addresses_to_json,
    body_from_json,
    body_to_json,
    dumps,
    envelope_from_json,
    envelope_to_json,
)
from groupware.mime.structure import Address, BodyPart, Envelope, count_attachments
from groupware.mime.text import TEXT_LIMIT, extract_text
from groupware.mime.tree import parse_root
from groupware.mime.words import decode_words

log = logging.getLogger(__name__)

_FORMAT = 1  # version of the JSON form; bump when a change needs old rows rewritten
_ADDRESS_FIELDS = ("from_", "sender", "reply_to", "to", "cc", "bcc")


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """Everything read from a message at delivery; plain data, JSON round-trippable.

    `envelope` is raw for IMAP (RFC 3501 §7.4.2); the fields below it are decoded for
    search and display: RFC 2047 words decoded, folding undone, no NUL and no
    undecodable octets (any text column takes them), no sender/reply-to defaulting,
    group markers kept (`Address.is_group_marker`). `message_id` and
    `in_reply_to` are the first msg-id of their field, `references` all of them, with
    angle brackets. `headers` has one "Name: decoded value" line per field; `text` the
    decoded text/* bodies (see `text.extract_text`); both are capped at 1 MiB.
    """

    size: int
    header_size: int
    envelope: Envelope
    body: BodyPart
    sent_date: datetime | None
    subject: str
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: str
    text: str
    attachments: int

    def to_json(self) -> str:
        """JSON of everything but `headers` and `text`, which the store keeps apart
        (full-text search tables) and hands back to `from_json`."""
        value: dict[str, Any] = {
            "v": _FORMAT,
            "size": self.size,
            "header_size": self.header_size,
            "envelope": envelope_to_json(self.envelope),
            "body": body_to_json(self.body),
            "sent_date": None if self.sent_date is None else self.sent_date.isoformat(),
            "subject": self.subject,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "attachments": self.attachments,
        }
        for name in _ADDRESS_FIELDS:
            value[name] = addresses_to_json(getattr(self, name))
        return dumps(value)

    @classmethod
    def from_json(cls, data: str, *, headers: str = "", text: str = "") -> ParsedMessage:
        """The ParsedMessage that `to_json` wrote; `from_json(m.to_json(), headers=
        m.headers, text=m.text) == m`."""
        value = json.loads(data)
        when = value.get("sent_date")
        lists = {name: addresses_from_json(value.get(name, [])) for name in _ADDRESS_FIELDS}
        return cls(
            size=int(value["size"]),
            header_size=int(value["header_size"]),
            envelope=envelope_from_json(value["envelope"]),
            body=body_from_json(value["body"]),
            sent_date=None if when is None else datetime.fromisoformat(when),
            subject=str(value.get("subject", "")),
            message_id=value.get("message_id"),
            in_reply_to=value.get("in_reply_to"),
            references=tuple(str(ref) for ref in value.get("references", [])),
            headers=headers,
            text=text,
            attachments=int(value.get("attachments", 0)),
            **lists,
        )


def parse_message(data: bytes) -> ParsedMessage:
    """Parse a whole message (CRLF or LF line ends); total: any bytes give a result.

    Broken MIME degrades to the RFCs' defaults (see `tree.py`). Should a bug still
    raise, the message is stored as one text/plain body rather than refused.
    """
    try:
        return _parse(data)
    except Exception:  # a parser bug must not make a message undeliverable
        log.exception("parse_message failed on a %d-byte message", len(data))
        return _opaque(data)


def _parse(data: bytes) -> ParsedMessage:
    header, envelope, body = parse_root(data)
    return ParsedMessage(
        size=len(data),
        header_size=body.body_start,
        envelope=envelope,
        body=body,
        sent_date=sent_date(envelope.date),
        subject=decode_words(envelope.subject or "").strip(),
        from_=decode_addresses(envelope.from_),
        sender=decode_addresses(parse_addresses(header.get("sender"))),
        reply_to=decode_addresses(parse_addresses(header.get("reply-to"))),
        to=decode_addresses(envelope.to),
        cc=decode_addresses(envelope.cc),
        bcc=decode_addresses(envelope.bcc),
        message_id=_clean(first_message_id(envelope.message_id)),
        in_reply_to=_clean(next(iter(message_ids(envelope.in_reply_to)), None)),
        references=tuple(clean_text(ref) for ref in message_ids(header.get("references"))),
        headers=header_text(header),
        text=extract_text(data, body),
        attachments=count_attachments(body),
    )


def _clean(raw: str | None) -> str | None:
    return None if raw is None else clean_text(raw)


def header_text(header: Header, limit: int = TEXT_LIMIT) -> str:
    """One "Name: value" line per field, values decoded (for SEARCH HEADER and TEXT)."""
    lines: list[str] = []
    size = 0
    for field in header.fields:
        line = f"{field.name}: {decode_words(field.value)}"
        lines.append(line)
        size += len(line) + 1
        if size >= limit:
            break
    return "\n".join(lines)[:limit]


def _opaque(data: bytes) -> ParsedMessage:
    """The last resort: no header, the whole message one text/plain body."""
    none: tuple[Address, ...] = ()
    body = BodyPart(
        type="text",
        subtype="plain",
        params=(("charset", "us-ascii"),),
        id=None,
        description=None,
        encoding="7bit",
        md5=None,
        disposition=None,
        language=None,
        location=None,
        lines=data.count(b"\n") + (not data.endswith(b"\n") and bool(data)),
        header_start=0,
        body_start=0,
        body_end=len(data),
    )
    envelope = Envelope(None, None, none, none, none, none, none, none, None, None)
    return ParsedMessage(
        size=len(data),
        header_size=0,
        envelope=envelope,
        body=body,
        sent_date=None,
        subject="",
        from_=none,
        sender=none,
        reply_to=none,
        to=none,
        cc=none,
        bcc=none,
        message_id=None,
        in_reply_to=None,
        references=(),
        headers="",
        text="",
        attachments=0,
    )
