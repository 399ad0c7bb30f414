"""The octets of FETCH BODY[section]<partial> (RFC 9051 §6.4.5) and BINARY[] (RFC 3516),
sliced by `mime.structure.BodyPart` offsets. A new section kind is a branch in
`section_bytes`; a new transfer encoding one in `_decode`.
"""

from __future__ import annotations

import binascii
import re

from groupware.mime.structure import BodyPart, section_bounds
from groupware.protocols.imap.commands import Section

# RFC 5322 §3.6.8 field-name, then obs-optional's white space before the colon (§4.5).
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]+")
_PADDING = re.compile(rb"=+")
_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_IDENTITY = frozenset({"7bit", "8bit", "binary"})


class UnknownEncoding(ValueError):
    """A Content-Transfer-Encoding BINARY cannot undo (RFC 3516 §4.3: NO [UNKNOWN-CTE])."""


def section_bytes(raw: bytes, root: BodyPart, section: Section) -> bytes | None:
    """The octets BODY[section] names in the message `raw` parsed as `root`; None when
    the section names no part (Dovecot then answers with an empty string, and so
    should the server: RFC 9051 §6.4.5 leaves the reply for a missing part open).

    - `BODY[]`: the whole message; `BODY[1.2]`: the part's body, still transfer-encoded;
      `BODY[1]` of a non-multipart message is its body (§6.4.5).
    - `MIME`: the part's MIME header, with its ending blank line.
    - `HEADER`, `HEADER.FIELDS[.NOT]`, `TEXT`: of the message, or of the message inside
      a message/rfc822 part. Named on another part (which §6.4.5 does not define)
      they read that part's own header and body, as Dovecot does.
    """
    text = section.text
    if not section.part:
        part = root
        if text is None:
            return raw
        if text == "MIME":
            return None  # the grammar allows MIME only after a part number
    else:
        found = section_bounds(root, section.part)
        if found is None:
            return None
        part = found
        if text is None:
            return raw[part.body_start : part.body_end]
        if text == "MIME":
            return raw[part.header_start : part.body_start]
        if part.message is not None:
            part = part.message[1]
    if text == "HEADER":
        return raw[part.header_start : part.body_start]
    if text == "TEXT":
        return raw[part.body_start : part.body_end]
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        wanted = frozenset(name.lower().encode("utf-8", "replace") for name in section.fields)
        return header_fields(
            raw, part.header_start, part.body_start, wanted, text != "HEADER.FIELDS"
        )
    return None


def header_fields(
    raw: bytes, start: int, end: int, names: frozenset[bytes], exclude: bool
) -> bytes:
    """The fields of the header raw[start:end] whose names are (`exclude`: are not) in
    `names` (lower case), as written (folding kept), then the header's empty line.
    RFC 9051 §6.4.5: the blank line is included "except in the case of a message which
    has no body and no blank line", so a header without one gets none (nor a line break
    its last line lacks), as in Dovecot. Lines that are no field (no colon) count as
    unnamed: only `exclude` keeps them.
    """
    out: list[bytes] = []
    keep = exclude  # for continuation lines before any field
    blank = b""
    pos = start
    while pos < end:
        newline = raw.find(b"\n", pos, end)
        after = end if newline < 0 else newline + 1
        line = raw[pos:after]
        pos = after
        if line in (b"\r\n", b"\n"):
            blank = line  # the header's own empty line (CRLF in our store)
            break
        if line[:1] not in (b" ", b"\t"):
            match = _FIELD_NAME.match(line)
            name = match.group(1).lower() if match else None
            keep = exclude if name is None else (name in names) != exclude
        if keep:
            out.append(line)
    out.append(blank)
    return b"".join(out)


def partial(data: bytes, origin: int, count: int) -> bytes:
    """<origin.count> (RFC 9051 §6.4.5): `count` octets from `origin`; empty when the
    origin lies beyond the end."""
    return data[origin : origin + count]


def binary_bytes(raw: bytes, root: BodyPart, part: tuple[int, ...]) -> bytes | None:
    """BINARY[part] (RFC 3516 §4.2): the part's body with its Content-Transfer-Encoding
    undone; None when there is no such part.

    `BINARY[]` is the whole message, which has no transfer encoding of its own;
    multiparts and message/rfc822 bodies are not encoded (RFC 2045 §6.4) and come back
    as stored. UnknownEncoding for a leaf in an encoding other than 7bit, 8bit, binary,
    base64 or quoted-printable.
    """
    if not part:
        return raw
    found = section_bounds(root, part)
    if found is None:
        return None
    body = raw[found.body_start : found.body_end]
    if found.children or found.message is not None:
        return body
    return _decode(body, found.encoding)


def binary_size(raw: bytes, root: BodyPart, part: tuple[int, ...]) -> int | None:
    """BINARY.SIZE[part] (RFC 3516 §4.2): the length of `binary_bytes`."""
    data = binary_bytes(raw, root, part)
    return None if data is None else len(data)


def _decode(body: bytes, encoding: str) -> bytes:
    mechanism = encoding.strip().lower()
    if mechanism in _IDENTITY:
        return body
    if mechanism == "base64":
        return _base64(body)
    if mechanism == "quoted-printable":
        return _quoted_printable(body)
    raise UnknownEncoding(encoding)


def _base64(body: bytes) -> bytes:
    """Base64 read leniently, as mail readers do (RFC 2045 §6.8: characters outside the
    alphabet are ignored). A pad ends a run; text after it is another run (mailers that
    concatenate encoded pieces); a dangling sextet is dropped."""
    decoded: list[bytes] = []
    for run in _PADDING.split(_NOT_BASE64.sub(b"", body)):
        usable = len(run) - len(run) % 4 if len(run) % 4 == 1 else len(run)
        if usable:
            padded = run[:usable] + b"=" * (-usable % 4)
            decoded.append(binascii.a2b_base64(padded))
    return b"".join(decoded)


def _quoted_printable(body: bytes) -> bytes:
    """Quoted-printable (RFC 2045 §6.7): "=XX" octets, "=" at a line end a soft break,
    trailing white space on a line dropped (rule 3); a "=" not followed by two hex
    digits is kept as it is (the robust reading §6.7 suggests)."""
    lines = body.split(b"\n")
    out: list[bytes] = []
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        cr = line.endswith(b"\r")
        line = line[:-1] if cr else line
        line = line.rstrip(b" \t")
        soft = line.endswith(b"=")
        if soft:
            line = line[:-1]
        out.append(_unescape(line))
        if not soft and not last:
            out.append(b"\r\n" if cr else b"\n")
    return b"".join(out)


def _unescape(line: bytes) -> bytes:
    return _ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), line)
