"""Building the MIME tree (RFC 2045/2046) of raw message bytes, offsets exact, never raising.

Broken MIME degrades to the RFCs' defaults (see `_content_type` and `_multipart`); a
new container type gets its own branch in `_entity` and its fallback beside the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from groupware.mime.address import parse_addresses
from groupware.mime.headers import Header, read_header
from groupware.mime.params import Params, param_value, parse_content_type, parse_disposition
from groupware.mime.structure import BodyPart, Envelope

MAX_NESTING = 100  # multipart and message levels, as Dovecot's max_nested_mime_parts
MAX_MESSAGE_DEPTH = 20  # message/rfc822 inside message/rfc822 ...
MAX_PARTS = 1000  # parts per message; later siblings are left out of the tree

ContentType = tuple[str, str, Params]
# RFC 2045 §5.2 (and RFC 2046 §4.1.2): no (or an invalid) Content-Type means this.
TEXT_PLAIN: ContentType = ("text", "plain", (("charset", "us-ascii"),))
# RFC 2046 §5.1.5: in multipart/digest a part without Content-Type is a message.
MESSAGE_RFC822: ContentType = ("message", "rfc822", ())
# RFC 2046 §4.5.1, RFC 2049 §2: what cannot be looked into is opaque octets.
OCTET_STREAM: ContentType = ("application", "octet-stream", ())
# RFC 2046 §5.2.1: a message/rfc822 body is not transfer-encoded (RFC 6532 for global).
_IDENTITY = frozenset({"7bit", "8bit", "binary"})
_MESSAGES = frozenset({"rfc822", "global"})


@dataclass(slots=True)
class _Budget:
    parts: int = 0


def parse_root(data: bytes) -> tuple[Header, Envelope, BodyPart]:
    """The message's header, envelope and root part."""
    header, body = _entity(data, 0, len(data), TEXT_PLAIN, 0, 0, _Budget())
    return header, build_envelope(header), body


def build_envelope(header: Header) -> Envelope:
    """ENVELOPE from a header (RFC 3501 §7.4.2); sender and reply-to default to from."""
    from_ = parse_addresses(header.get("from"))
    return Envelope(
        date=header.get("date"),
        subject=header.get("subject"),
        from_=from_,
        sender=parse_addresses(header.get("sender")) or from_,
        reply_to=parse_addresses(header.get("reply-to")) or from_,
        to=parse_addresses(header.get("to")),
        cc=parse_addresses(header.get("cc")),
        bcc=parse_addresses(header.get("bcc")),
        in_reply_to=header.get("in-reply-to"),
        message_id=header.get("message-id"),
    )


def _entity(
    data: bytes,
    start: int,
    end: int,
    default: ContentType,
    nesting: int,
    depth: int,
    budget: _Budget,
) -> tuple[Header, BodyPart]:
    """The entity (header and body) at data[start:end]."""
    header, body_start = read_header(data, start, end)
    budget.parts += 1
    kind, subtype, params = _content_type(header, default)
    encoding = _encoding(header.get("content-transfer-encoding"))
    children: tuple[BodyPart, ...] = ()
    message: tuple[Envelope, BodyPart] | None = None
    if kind.lower() == "multipart":
        found = _multipart(data, params, subtype, body_start, end, nesting, depth, budget)
        if isinstance(found, list):
            children = tuple(found)
        else:
            kind, subtype, params = found
    elif kind.lower() == "message" and subtype.lower() in _MESSAGES:
        if encoding.lower() in _IDENTITY and depth < MAX_MESSAGE_DEPTH and nesting < MAX_NESTING:
            inner_header, inner = _entity(
                data, body_start, end, TEXT_PLAIN, nesting + 1, depth + 1, budget
            )
            message = (build_envelope(inner_header), inner)
        else:
            kind, subtype, params = OCTET_STREAM
    counted = kind.lower() == "text" or message is not None
    return header, BodyPart(
        type=kind,
        subtype=subtype,
        params=params,
        id=header.get("content-id"),
        description=header.get("content-description"),
        encoding=encoding,
        md5=header.get("content-md5"),
        disposition=parse_disposition(header.get("content-disposition")),
        language=_language(header.get("content-language")),
        location=header.get("content-location"),
        lines=_lines(data, body_start, end) if counted else None,
        header_start=start,
        body_start=body_start,
        body_end=end,
        children=children,
        message=message,
    )


def _content_type(header: Header, default: ContentType) -> ContentType:
    """Content-Type as written, or the default when absent or invalid (RFC 2045 §5.2).

    A text/* type without a charset gets charset=us-ascii, the default of RFC 2046
    §4.1.2, so BODYSTRUCTURE shows it as servers do.
    """
    parsed = parse_content_type(header.get("content-type"))
    if parsed is None:
        return default
    kind, subtype, params = parsed
    if kind.lower() == "text" and not any(k in ("charset", "charset*") for k, _ in params):
        params += (("charset", "us-ascii"),)
    return kind, subtype, params


def _multipart(
    data: bytes,
    params: Params,
    subtype: str,
    start: int,
    end: int,
    nesting: int,
    depth: int,
    budget: _Budget,
) -> list[BodyPart] | ContentType:
    """The body parts of a multipart, or the type to read it as when it has none.

    A multipart without a usable boundary, or whose boundary never starts a line, has
    no body parts; RFC 2046 §5.1.1 requires both, so its Content-Type is invalid and
    RFC 2045 §5.2 says to read it as text/plain (the reader then sees its text).
    """
    if nesting >= MAX_NESTING or budget.parts >= MAX_PARTS:
        return OCTET_STREAM
    boundary = _boundary(params)
    lines = delimiter_lines(data, boundary, start, end) if boundary else []
    default = MESSAGE_RFC822 if subtype.lower() == "digest" else TEXT_PLAIN
    children: list[BodyPart] = []
    for index, (_, part_start, closing) in enumerate(lines):
        if closing or budget.parts >= MAX_PARTS:
            break
        part_end = end
        if index + 1 < len(lines):
            part_end = _before_line_break(data, lines[index + 1][0], part_start)
        children.append(_entity(data, part_start, part_end, default, nesting + 1, depth, budget)[1])
    return children or TEXT_PLAIN


def _boundary(params: Params) -> bytes:
    for name, value in params:
        if name == "boundary":
            return value.encode("utf-8", "surrogateescape")
    decoded = param_value(params, "boundary")  # only an RFC 2231 form is left
    return decoded.encode("utf-8") if decoded else b""


def delimiter_lines(
    data: bytes, boundary: bytes, start: int, end: int
) -> list[tuple[int, int, bool]]:
    """(line start, line end after its break, closing?) of each delimiter line in a body.

    RFC 2046 §5.1.1: a delimiter is "--" boundary at the start of a line, "--" more for
    the close delimiter, then only transport padding (spaces, tabs) before the line
    break. Matching the whole line means a boundary that prefixes another never matches
    the other's lines (the pitfall of §5.1.2). The search stops at the close delimiter.
    """
    marker = b"--" + boundary
    found: list[tuple[int, int, bool]] = []
    pos = start
    while True:
        hit = data.find(marker, pos, end)
        if hit < 0:
            return found
        pos = hit + 1
        if hit != start and data[hit - 1] != 0x0A:
            continue
        rest = hit + len(marker)
        closing = data.startswith(b"--", rest, end)
        newline = data.find(b"\n", rest, end)
        line_end = end if newline < 0 else newline
        if data[rest + 2 * closing : line_end].strip(b" \t\r"):
            continue
        after = end if newline < 0 else newline + 1
        found.append((hit, after, closing))
        if closing:
            return found
        pos = after


def _before_line_break(data: bytes, line: int, floor: int) -> int:
    """Where the body before a delimiter line ends: its CRLF/LF belongs to the delimiter."""
    if line > floor and data[line - 1] == 0x0A:
        line -= 1
        if line > floor and data[line - 1] == 0x0D:
            line -= 1
    return line


def _encoding(raw: str | None) -> str:
    """Content-Transfer-Encoding's mechanism as written; 7bit when absent (RFC 2045 §6.1)."""
    if raw:
        words = raw.replace("(", " (").replace(";", " ").split()
        if words and not words[0].startswith("("):
            return words[0]
    return "7bit"


def _language(raw: str | None) -> tuple[str, ...] | None:
    """Content-Language tags (RFC 3282 §2), in order; None when absent or empty."""
    if not raw:
        return None
    tags = tuple(tag.strip() for tag in raw.split(",") if tag.strip())
    return tags or None


def _lines(data: bytes, start: int, end: int) -> int:
    if start >= end:
        return 0
    return data.count(b"\n", start, end) + (data[end - 1] != 0x0A)
