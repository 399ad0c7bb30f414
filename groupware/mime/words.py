"""RFC 2047 encoded words: decoding `=?charset?Q|B?text?=` in header text for display/search.

Decoding is lenient the way mail readers are (words glued to text, unknown charsets,
bad base64). A caller that needs RFC 2047 §5's stricter rules checks before calling.
"""

from __future__ import annotations

import binascii
import re

from groupware.mime.charset import clean_text, decode_octets

# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=", with no
# whitespace inside (§5 forbids "?" in Q text too, so the first "?=" ends the word).
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode_words(raw: str) -> str:
    """Header text with its encoded words decoded; never raises.

    RFC 2047 §6.2: whitespace between two adjacent encoded words is dropped, so a
    phrase split over several words (often mid-character) reads back whole; adjacent
    words in one charset are decoded together for that reason.
    """
    if "=?" not in raw:
        return clean_text(raw)
    out: list[str] = []
    run: list[tuple[str, bytes]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(raw):
        between = raw[pos : match.start()]
        if not run or between.strip(" \t\r\n"):
            _flush(run, out)
            out.append(clean_text(between))
        charset, encoding, text = match.groups()
        octets = _decode_text(encoding, text)
        if octets is None:
            _flush(run, out)
            out.append(clean_text(match.group(0)))
        else:
            run.append((charset, octets))
        pos = match.end()
    _flush(run, out)
    out.append(clean_text(raw[pos:]))
    return "".join(out).replace("\x00", "")


def _flush(run: list[tuple[str, bytes]], out: list[str]) -> None:
    """Decode a run of adjacent encoded words, joining the octets of same-charset words."""
    start = 0
    for index in range(1, len(run) + 1):
        if index == len(run) or run[index][0].lower() != run[start][0].lower():
            octets = b"".join(octets for _, octets in run[start:index])
            out.append(decode_octets(octets, run[start][0]))
            start = index
    run.clear()


def _decode_text(encoding: str, text: str) -> bytes | None:
    """The octets of an encoded-text (RFC 2047 §4.1 B, §4.2 Q); None if it is not valid."""
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    if encoding in "Qq":
        return binascii.a2b_qp(data, header=True)  # "_" is a space, §4.2 (2)
    return decode_base64(data)


def decode_base64(data: bytes) -> bytes | None:
    """Base64 octets, tolerating junk characters and missing padding; None if hopeless."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    cleaned = _NOT_BASE64.sub(b"", data)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a lone sextet carries no whole octet
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:
        return None
