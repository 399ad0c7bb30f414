"""Composing messages: the vacation auto-reply (RFC 3834) and the plain-text mail a user
writes in webmail. Pure: arguments in, bytes out (CRLF, 7-bit safe). Add a `compose_*`
function per kind.
"""

from __future__ import annotations

import base64
import quopri
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import encode_rfc2231, format_datetime, formataddr

MAX_SUBJECT = 200
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>\Z")  # printable ASCII, no <>
_REFERENCES_KEPT = 20  # RFC 5322 §3.6.4 lets a client trim long References
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\Z")
_LINE_BREAKS = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class File:
    """A file attached to a message: its name, its type as the sender's browser said,
    and its content."""

    filename: str
    mime_type: str
    content: bytes


def reply_subject(original: str, configured: str = "") -> str:
    """The configured subject, else "Auto: " and the original's (RFC 3834 §3.1.5)."""
    if configured.strip():
        return _one_line(configured)[:MAX_SUBJECT]
    original = _one_line(original)
    return ("Auto: " + original if original else "Auto-reply")[:MAX_SUBJECT]


def compose_auto_reply(
    *,
    from_address: str,
    from_name: str,
    to: str,
    subject: str,
    body: str,
    in_reply_to: str | None,
    references: Sequence[str] = (),
    now: datetime | None = None,
) -> bytes:
    """An auto-reply from `from_address` to `to` (RFC 3834 §3.1): Auto-Submitted:
    auto-replied, In-Reply-To and References of the original, a text/plain body.

    The caller sends it with the null reverse path, so it is never answered or bounced.
    """
    fields = _heading(from_address, from_name, [("To", f"<{to}>")], subject, now)
    fields += _thread(in_reply_to, references)
    fields += [
        ("Auto-Submitted", "auto-replied"),  # RFC 3834 §5
        ("X-Auto-Response-Suppress", "All"),  # Exchange's responders: do not answer this
    ]
    return _plain_text(fields, body)


def compose_message(
    from_address: str,
    from_name: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    now: datetime | None = None,
    files: Sequence[File] = (),
    bcc: Sequence[str] = (),
    html: str | None = None,
) -> bytes:
    """A plain-text message a user wrote, To: and Cc: as given (Bcc: recipients are only
    in the envelope); In-Reply-To and References thread a reply (RFC 5322 §3.6.4).
    With `files` it is multipart/mixed: the text, then each file (RFC 2046 §5.1.3).
    With `html`, the text and the HTML are alternatives (multipart/alternative).
    `bcc` is for a draft, which keeps its blind recipients (RFC 5322 §3.6.3)."""
    recipients = [
        (name, ",\r\n ".join(f"<{a}>" for a in found))  # folded: each on its own line
        for name, found in (("To", to), ("Cc", cc), ("Bcc", bcc))
        if found
    ]
    fields = _heading(from_address, from_name, recipients, subject, now)
    fields += _thread(in_reply_to, references)
    if not files and html is None:
        return _plain_text(fields, body)
    text = _plain_text([], body, part=True)
    if html is not None:  # RFC 2046 §5.1.4: the plainest first, the preferred last
        kind, content = _multipart("alternative", [text, _html_part(html)])
        text = f"Content-Type: {kind}\r\n\r\n".encode() + content
    if files:
        kind, content = _multipart("mixed", [text, *(_file_part(file) for file in files)])
    fields += [("MIME-Version", "1.0"), ("Content-Type", kind)]
    head = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("ascii")
    return head + b"\r\n" + content


def _multipart(subtype: str, parts: Sequence[bytes]) -> tuple[str, bytes]:
    """A multipart body of `parts` (each its header and content): its Content-Type
    value and its bytes (RFC 2046 §5.1.1)."""
    boundary = "=_" + secrets.token_hex(16)  # "=_" never occurs in base64 or QP text
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    content = (
        b"This is a message in several parts (MIME)."
        + b"".join(delimiter + part for part in parts)
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
    return f'multipart/{subtype}; boundary="{boundary}"', content


def _html_part(html: str) -> bytes:
    text = html.replace("\r\n", "\n").replace("\r", "\n")
    head = (
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    )
    return head + b"\r\n" + _quoted_printable(text)


def _file_part(file: File) -> bytes:
    """One attached file: base64, or an attached message as it is (RFC 2046 §5.2.1
    forbids encoding message/rfc822; 8bit when it is not 7-bit, RFC 6152)."""
    kind = file.mime_type.lower().strip()
    kind = kind if _MIME_TYPE.match(kind) else "application/octet-stream"
    name = _one_line(file.filename).replace("\\", "_").replace('"', "_")[:200] or "file"
    if name.isascii():
        named = f'name="{name}"', f'filename="{name}"'
    else:
        value = encode_rfc2231(name, "utf-8")
        named = f"name*={value}", f"filename*={value}"
    head = f"Content-Type: {kind}; {named[0]}\r\nContent-Disposition: attachment; {named[1]}\r\n"
    if kind == "message/rfc822":
        content = _LINE_BREAKS.sub(b"\r\n", file.content).rstrip(b"\r\n")
        encoding = "7bit" if content.isascii() else "8bit"
        return f"{head}Content-Transfer-Encoding: {encoding}\r\n\r\n".encode() + content
    encoded = base64.encodebytes(file.content).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    return f"{head}Content-Transfer-Encoding: base64\r\n\r\n".encode() + encoded


def _heading(
    from_address: str,
    from_name: str,
    recipients: list[tuple[str, str]],
    subject: str,
    now: datetime | None,
) -> list[tuple[str, str]]:
    now = now or datetime.now(UTC)
    domain = from_address.rpartition("@")[2] or "localhost"
    return [
        ("From", formataddr((_one_line(from_name), from_address), charset="utf-8")),
        *recipients,
        ("Subject", _encoded(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", f"<{secrets.token_hex(12)}@{domain}>"),
    ]


def _thread(in_reply_to: str | None, references: Sequence[str]) -> list[tuple[str, str]]:
    """In-Reply-To and References for a reply (only well-formed message ids kept)."""
    fields = []
    in_reply_to = in_reply_to if in_reply_to and _MSG_ID.match(in_reply_to) else None
    if in_reply_to:
        fields.append(("In-Reply-To", in_reply_to))
    kept = [ref for ref in references if _MSG_ID.match(ref)][-_REFERENCES_KEPT:]
    thread = [*kept, *([in_reply_to] if in_reply_to else [])]
    if thread:
        fields.append(("References", "\r\n ".join(dict.fromkeys(thread))))
    return fields


def _plain_text(fields: list[tuple[str, str]], body: str, *, part: bool = False) -> bytes:
    """The header fields and `body` as one text/plain message, or as a `part` of one
    (quoted-printable when the text is not 7-bit or has over-long lines)."""
    text = "\r\n".join(body.replace("\r\n", "\n").replace("\r", "\n").split("\n")) + "\r\n"
    plain = text.isascii() and all(len(line) <= 998 for line in text.split("\r\n"))
    fields = [
        *fields,
        *([] if part else [("MIME-Version", "1.0")]),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "7bit" if plain else "quoted-printable"),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in fields)
    payload = text.encode("ascii") if plain else _quoted_printable(text)
    return head.encode("ascii") + b"\r\n" + payload


def _encoded(text: str) -> str:
    """A header value, RFC 2047-encoded when it is not ASCII, folded with CRLF."""
    text = _one_line(text)
    if text.isascii():
        return text
    return Header(text, "utf-8").encode(linesep="\r\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quoted_printable(text: str) -> bytes:
    encoded = quopri.encodestring(text.replace("\r\n", "\n").encode("utf-8"))
    return encoded.replace(b"\n", b"\r\n")
