"""Searchable text of a message: text/* bodies decoded (RFC 2045 §6), HTML reduced to text.

Feeds full-text SEARCH (BODY/TEXT) and web previews. A new textual type gets a reducer
beside `html_to_text`, chosen in `part_text`.
"""

from __future__ import annotations

import binascii
import html
import re
from dataclasses import dataclass

from groupware.mime.charset import decode_octets
from groupware.mime.structure import BodyPart, walk
from groupware.mime.words import decode_base64

TEXT_LIMIT = 1 << 20  # characters of text kept per message

# Elements whose content is not text (scripts and styles are code, RFC 2854 HTML).
_RAW_OPEN = re.compile(r"<(script|style|title|template)\b", re.IGNORECASE)
_RAW_CLOSE = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE)
    for name in ("script", "style", "title", "template")
}
_BLOCKS = (
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tr ul"
)
_INLINE = "a abbr b big body code em font head html i img meta small span strong sub sup u"
# What a tag leaves in the text: blocks a line break, cells a space, the rest nothing.
_SEPARATORS = dict.fromkeys(_BLOCKS.split(), "\n") | {"td": " ", "th": " "}
_KNOWN: dict[str | None, str] = {None: ""} | {  # None: <!...> and <?...>
    variant: left
    for tag, left in (_SEPARATORS | dict.fromkeys(_INLINE.split(), "")).items()
    for variant in (tag, tag.upper())
}
# `[^<>]*` stops at the next "<", so an unterminated tag costs a scan to it, not to the
# end: every pattern here stays linear on hostile markup.
_TAG = re.compile(r"<(?:/?([A-Za-z][A-Za-z0-9:]*)|[!?])[^<>]*>")
_SPACES = re.compile(r"[ \t\f\v\r\u00a0]{2,}|[\t\f\v\r\u00a0]")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")


@dataclass(slots=True)
class _Room:
    left: int


def extract_text(data: bytes, body: BodyPart, limit: int = TEXT_LIMIT) -> str:
    """The decoded text of every text/* part (one of each multipart/alternative).

    Parts are joined by a newline, CRLF becomes LF, NUL is dropped; at most `limit`
    characters are kept and no more input is decoded than that needs.
    """
    pieces: list[str] = []
    _collect(data, body, pieces, _Room(limit))
    return "\n".join(pieces)[:limit]


def _collect(data: bytes, part: BodyPart, out: list[str], room: _Room) -> None:
    if room.left <= 0:
        return
    if part.children:
        if part.subtype.lower() == "alternative":
            _collect(data, _preferred(part.children), out, room)
            return
        for child in part.children:
            _collect(data, child, out, room)
    elif part.message is not None:
        _collect(data, part.message[1], out, room)
    elif part.type.lower() == "text":
        text = part_text(data, part, room.left)
        if text:
            out.append(text)
            room.left -= len(text) + 1


def _preferred(children: tuple[BodyPart, ...]) -> BodyPart:
    """RFC 2046 §5.1.4: alternatives say the same; index the plain text one if present."""
    for wanted in ("text/plain", "text/html"):
        for child in children:
            if child.mime_type == wanted:
                return child
    return children[-1]  # the last is the sender's preferred form


def part_text(data: bytes, part: BodyPart, limit: int = TEXT_LIMIT) -> str:
    """One text/* part decoded to text (HTML reduced to its text); "" if undecodable."""
    # Four octets per character bounds every charset and transfer encoding (UTF-16
    # in base64 needs 2 * 4/3), so the cap below never cuts text we would keep.
    raw = data[part.body_start : min(part.body_end, part.body_start + 4 * limit)]
    octets = decode_transfer(raw, part.encoding)
    if octets is None:
        return ""
    text = decode_octets(octets, part.param("charset"))
    if part.subtype.lower() == "html":
        text = html_to_text(text)
    text = text.replace("\r\n", "\n").replace("\x00", "")
    return text[:limit]


def calendar_text(data: bytes, body: BodyPart) -> str | None:
    """The first text/calendar part's text (an iMIP invitation, RFC 6047), if any ("" or
    an unknown transfer encoding: None)."""
    for part in walk(body):
        if part.mime_type == "text/calendar":
            return part_text(data, part) or None
    return None


def decode_transfer(raw: bytes, encoding: str) -> bytes | None:
    """Undo a Content-Transfer-Encoding (RFC 2045 §6); None for one we do not know.

    RFC 2045 §6.4: an unrecognised encoding makes the body opaque, so it yields no text.
    """
    mechanism = encoding.lower()
    if mechanism in ("7bit", "8bit", "binary"):
        return raw
    if mechanism == "quoted-printable":
        return binascii.a2b_qp(raw)
    if mechanism == "base64":
        return decode_base64(raw)
    return None


def html_to_text(markup: str) -> str:
    """The text a reader sees in HTML: tags, comments, scripts and styles removed.

    Block elements become line breaks, table cells spaces; entities are unescaped.
    Regular expressions and str.find only, each pass linear, so it is quick on big
    newsletters and on hostile markup alike.
    """
    pieces = _TAG.split(_drop_raw_elements(_drop_comments(markup)))
    pieces[1::2] = [_KNOWN[n] if n in _KNOWN else _separator(n) for n in pieces[1::2]]
    text = html.unescape("".join(pieces)).replace("\r\n", "\n")
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _separator(name: str) -> str:
    return _SEPARATORS.get(name.lower(), "")


def _drop_comments(markup: str) -> str:
    """Remove <!-- ... -->; an unclosed comment hides the rest, as in a browser."""
    if "<!--" not in markup:
        return markup
    out: list[str] = []
    pos = 0
    while (start := markup.find("<!--", pos)) >= 0:
        out.append(markup[pos:start])
        end = markup.find("-->", start + 4)
        pos = len(markup) if end < 0 else end + 3
    out.append(markup[pos:])
    return "".join(out)


def _drop_raw_elements(markup: str) -> str:
    """Remove script, style, title and template elements with their content."""
    out: list[str] = []
    pos = 0
    while (match := _RAW_OPEN.search(markup, pos)) is not None:
        out.append(markup[pos : match.start()])
        close = _RAW_CLOSE[match.group(1).lower()].search(markup, match.end())
        pos = len(markup) if close is None else close.end()
    out.append(markup[pos:])
    return "".join(out)
