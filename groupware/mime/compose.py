"""Composing messages the server writes itself: the vacation auto-reply (RFC 3834).
Pure: arguments in, bytes out (CRLF, 7-bit safe). Add a `compose_*` function per kind.
"""

from __future__ import annotations

import quopri
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr

MAX_SUBJECT = 200
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,900}>\Z")  # printable ASCII, no <>
_REFERENCES_KEPT = 20  # RFC 5322 §3.6.4 lets a client trim long References


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
    now = now or datetime.now(UTC)
    domain = from_address.rpartition("@")[2] or "localhost"
    fields = [
        ("From", formataddr((_one_line(from_name), from_address), charset="utf-8")),
        ("To", f"<{to}>"),
        ("Subject", _encoded(subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", f"<{secrets.token_hex(12)}@{domain}>"),
    ]
    in_reply_to = in_reply_to if in_reply_to and _MSG_ID.match(in_reply_to) else None
    if in_reply_to:
        fields.append(("In-Reply-To", in_reply_to))
    kept = [ref for ref in references if _MSG_ID.match(ref)][-_REFERENCES_KEPT:]
    thread = [*kept, *([in_reply_to] if in_reply_to else [])]
    if thread:
        fields.append(("References", "\r\n ".join(dict.fromkeys(thread))))
    text = "\r\n".join(body.replace("\r\n", "\n").replace("\r", "\n").split("\n")) + "\r\n"
    plain = text.isascii() and all(len(line) <= 998 for line in text.split("\r\n"))
    fields += [
        ("Auto-Submitted", "auto-replied"),  # RFC 3834 §5
        ("X-Auto-Response-Suppress", "All"),  # Exchange's responders: do not answer this
        ("MIME-Version", "1.0"),
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
