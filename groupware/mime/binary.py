"""Binary content made 7-bit: parts sent with Content-Transfer-Encoding: binary (RFC 3516
APPEND of a literal8) are stored base64-encoded, so BODY[] never carries raw binary and
BINARY[] still decodes the original octets. A new encoding to convert is a branch here."""

from __future__ import annotations

import base64
import re

from groupware.mime.parse import parse_message
from groupware.mime.structure import BodyPart, walk

_CTE = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*([^\r\n]*)(\r?\n[ \t][^\r\n]*)*")


def needs_conversion(data: bytes) -> bool:
    """Cheap check before parsing: a NUL, or a part declaring binary transfer encoding."""
    return b"\x00" in data or any(
        m.group(1).strip().lower() == b"binary" for m in _CTE.finditer(data)
    )


def encode_binary_parts(data: bytes) -> bytes:
    """The message with every leaf part in "binary" encoding (or holding NUL in 7bit/8bit)
    re-encoded as base64 and its header saying so; other octets unchanged."""
    root = parse_message(data).body
    leaves = [p for p in walk(root) if not p.children and p.message is None and _binary(p, data)]
    for part in sorted(leaves, key=lambda p: p.header_start, reverse=True):  # splice from the end
        body = data[part.body_start : part.body_end]
        encoded = base64.encodebytes(body).replace(b"\n", b"\r\n").rstrip(b"\r\n")
        if part.body_end == len(data):  # the message's last line keeps its line break
            encoded += b"\r\n"
        header = data[part.header_start : part.body_start]
        if _CTE.search(header):
            header = _CTE.sub(b"Content-Transfer-Encoding: base64", header, count=1)
        else:
            end = len(header.rstrip(b"\r\n"))
            header = header[:end] + b"\r\nContent-Transfer-Encoding: base64" + header[end:]
        data = data[: part.header_start] + header + encoded + data[part.body_end :]
    return data


def _binary(part: BodyPart, data: bytes) -> bool:
    encoding = part.encoding.lower()
    if encoding == "binary":
        return True
    return encoding in ("7bit", "8bit") and b"\x00" in data[part.body_start : part.body_end]
