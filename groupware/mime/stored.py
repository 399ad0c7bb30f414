"""The JSON form of envelopes and body trees, as the store keeps them and IMAP reads them.

Plain JSON values (dicts, lists, strings, ints); a new BodyPart field gets an optional
key here, absent meaning its default, so rows stored before it still load.
"""

from __future__ import annotations

import json
import re
from typing import Any

from groupware.mime.params import Params
from groupware.mime.structure import Address, BodyPart, Envelope

_SURROGATE = re.compile("[\ud800-\udfff]")
_ADDRESS_FIELDS = ("from", "sender", "reply_to", "to", "cc", "bcc")


def dumps(value: object) -> str:
    """Compact JSON; raw header strings with escaped 8-bit octets (lone surrogates) are
    written as \\u escapes so the text is valid UTF-8 for any database."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _SURROGATE.search(text):
        text = json.dumps(value, separators=(",", ":"))
    return text


def addresses_to_json(addresses: tuple[Address, ...]) -> list[list[str | None]]:
    return [[a.name, a.route, a.mailbox, a.host] for a in addresses]


def addresses_from_json(value: Any) -> tuple[Address, ...]:
    return tuple(Address(_opt(n), _opt(r), _opt(m), _opt(h)) for n, r, m, h in _list(value))


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    return {
        "date": envelope.date,
        "subject": envelope.subject,
        "from": addresses_to_json(envelope.from_),
        "sender": addresses_to_json(envelope.sender),
        "reply_to": addresses_to_json(envelope.reply_to),
        "to": addresses_to_json(envelope.to),
        "cc": addresses_to_json(envelope.cc),
        "bcc": addresses_to_json(envelope.bcc),
        "in_reply_to": envelope.in_reply_to,
        "message_id": envelope.message_id,
    }


def envelope_from_json(value: Any) -> Envelope:
    lists = {name: addresses_from_json(value.get(name, [])) for name in _ADDRESS_FIELDS}
    return Envelope(
        date=_opt(value.get("date")),
        subject=_opt(value.get("subject")),
        from_=lists["from"],
        sender=lists["sender"],
        reply_to=lists["reply_to"],
        to=lists["to"],
        cc=lists["cc"],
        bcc=lists["bcc"],
        in_reply_to=_opt(value.get("in_reply_to")),
        message_id=_opt(value.get("message_id")),
    )


def body_to_json(part: BodyPart) -> dict[str, Any]:
    """A part as a dict; optional fields appear only when set."""
    out: dict[str, Any] = {
        "type": part.type,
        "subtype": part.subtype,
        "params": [list(pair) for pair in part.params],
        "encoding": part.encoding,
        "offsets": [part.header_start, part.body_start, part.body_end],
    }
    for key in ("id", "description", "md5", "location", "lines"):
        if getattr(part, key) is not None:
            out[key] = getattr(part, key)
    if part.disposition is not None:
        out["disposition"] = [part.disposition[0], [list(p) for p in part.disposition[1]]]
    if part.language is not None:
        out["language"] = list(part.language)
    if part.children:
        out["children"] = [body_to_json(child) for child in part.children]
    if part.message is not None:
        out["message"] = {
            "envelope": envelope_to_json(part.message[0]),
            "body": body_to_json(part.message[1]),
        }
    return out


def body_from_json(value: Any) -> BodyPart:
    header_start, body_start, body_end = (int(n) for n in value["offsets"])
    disposition = value.get("disposition")
    language = value.get("language")
    message = value.get("message")
    lines = value.get("lines")
    return BodyPart(
        type=str(value["type"]),
        subtype=str(value["subtype"]),
        params=_params(value["params"]),
        id=_opt(value.get("id")),
        description=_opt(value.get("description")),
        encoding=str(value["encoding"]),
        md5=_opt(value.get("md5")),
        disposition=None if disposition is None else (str(disposition[0]), _params(disposition[1])),
        language=None if language is None else tuple(str(tag) for tag in language),
        location=_opt(value.get("location")),
        lines=None if lines is None else int(lines),
        header_start=header_start,
        body_start=body_start,
        body_end=body_end,
        children=tuple(body_from_json(child) for child in value.get("children", [])),
        message=None
        if message is None
        else (envelope_from_json(message["envelope"]), body_from_json(message["body"])),
    )


def _params(value: Any) -> Params:
    return tuple((str(name), str(text)) for name, text in _list(value))


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON list, got {type(value).__name__}")
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)
