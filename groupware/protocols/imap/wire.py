"""Serialising IMAP values (RFC 9051 §4, §9): strings, atoms, flag lists, dates, mailbox names.

Pure functions from Python values to wire bytes. A new kind of value gets its writer
here, beside the production of RFC 9051 §9 it implements (and a row in test_wire.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime

NIL = b"NIL"
# RFC 9051 §9: ATOM-CHAR is any CHAR but atom-specials: ( ) { SP CTL % * " \ ]
# ASTRING-CHAR adds "]" back (resp-specials).
_ASTRING = re.compile(rb"[\x21\x23-\x24\x26-\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# NUL is in no IMAP string (CHAR8 is %x01-ff), so a NUL in a header value is sent as
# U+FFFD, the character for "an octet that could not be represented".
_NUL_REPLACEMENT = "\ufffd".encode()


def _octets(text: str | bytes) -> bytes:
    """Text as the octets it stands for: raw header strings carry 8-bit octets as lone
    surrogates (see `mime.charset.raw_text`), which surrogateescape turns back."""
    if isinstance(text, bytes):
        return text
    return text.encode("utf-8", "surrogateescape")


def _quotable(data: bytes, utf8: bool) -> bool:
    """RFC 9051 §9 quoted: QUOTED-CHAR is TEXT-CHAR (no CR, LF, NUL) or, with UTF-8
    allowed (IMAP4rev2, RFC 6855 UTF8=ACCEPT), well-formed UTF-8."""
    if b"\r" in data or b"\n" in data or b"\x00" in data:
        return False
    if data.isascii():
        return True
    if not utf8:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def quoted(text: str | bytes, utf8: bool = False) -> bytes:
    """A quoted string (RFC 9051 §4.3); ValueError when `text` cannot be one (CR, LF,
    NUL, or 8-bit octets unless `utf8` and they are valid UTF-8)."""
    data = _octets(text)
    if not _quotable(data, utf8):
        raise ValueError("not representable as an IMAP quoted string")
    return _quote(data)


def _quote(data: bytes) -> bytes:
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes, binary: bool = False) -> bytes:
    """A synchronising literal `{n}CRLF...` or, for `binary`, RFC 3516's `~{n}CRLF...`.

    The caller makes sure a non-binary literal holds no NUL (RFC 9051 CHAR8)."""
    return b"%s{%d}\r\n%s" % (b"~" if binary else b"", len(data), data)


def string(value: str | bytes | None, utf8: bool = False) -> bytes:
    """NIL for None, a quoted string when possible, else a literal (RFC 9051 §4.3).

    NUL octets, which no IMAP string may hold, become U+FFFD (in UTF-8).
    """
    if value is None:
        return NIL
    data = _octets(value)
    if b"\x00" in data:
        data = data.replace(b"\x00", _NUL_REPLACEMENT)
    if _quotable(data, utf8):
        return _quote(data)
    return literal(data)


def nstring(value: str | bytes | None, utf8: bool = False) -> bytes:
    """RFC 9051 nstring: NIL or a string (an alias of `string`, named for the grammar)."""
    return string(value, utf8)


def astring(value: str | bytes, utf8: bool = False) -> bytes:
    """RFC 9051 astring: the bare atom when every octet is an ASTRING-CHAR, else a string.

    "NIL" is quoted all the same: the grammar would allow the atom, but a client that
    reads it where an nstring could stand would take it for NIL.
    """
    data = _octets(value)
    if _ASTRING.fullmatch(data) and data.upper() != NIL:
        return data
    return string(data, utf8)


def flag_list(flags: Iterable[str]) -> bytes:
    """RFC 9051 flag-list: "(" [flag *(SP flag)] ")"; flags are atoms as the server keeps
    them (`\\Seen`, `$Forwarded`), written unchanged."""
    return b"(" + b" ".join(flag.encode("ascii") for flag in flags) + b")"


def internal_date(dt: datetime) -> bytes:
    """RFC 9051 date-time, quoted: "dd-Mon-yyyy hh:mm:ss +zzzz".

    The day has two digits (the 2DIGIT form of date-day-fixed, as Dovecot writes it).
    A naive datetime is taken as UTC; a zone offset's seconds are dropped.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    offset = dt.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    text = (
        f'"{dt.day:02d}-{_MONTHS[dt.month - 1]}-{dt.year:04d} '
        f'{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {sign}{hours:02d}{mins:02d}"'
    )
    return text.encode("ascii")


# -- modified UTF-7 (RFC 3501 §5.1.3) -----------------------------------------------------

_PRINTABLE = frozenset(range(0x20, 0x7F))
_SHIFTED = re.compile(r"&([^-]*)(-?)")
_MODIFIED_BASE64 = re.compile(r"[A-Za-z0-9+,]*")
_SEXTET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"


def encode_mutf7(name: str) -> str:
    """A mailbox name in modified UTF-7 (RFC 3501 §5.1.3), the canonical form.

    Printable US-ASCII stands for itself, "&" is "&-", and each run of other characters
    is modified BASE64 (RFC 2152 with "," for "/", no padding) of its UTF-16BE form.
    ValueError for a lone surrogate, which UTF-16 cannot carry.
    """
    out: list[str] = []
    run: list[str] = []
    for char in name:
        if ord(char) in _PRINTABLE:
            if run:
                out.append(_shift("".join(run)))
                run = []
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    if run:
        out.append(_shift("".join(run)))
    return "".join(out)


def _shift(text: str) -> str:
    try:
        utf16 = text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise ValueError("a lone surrogate has no UTF-16 form") from exc
    encoded = base64.b64encode(utf16, altchars=b"+,").rstrip(b"=")
    return "&" + encoded.decode("ascii") + "-"


def decode_mutf7(text: str) -> str:
    """The mailbox name that modified UTF-7 `text` spells; ValueError unless it is the
    canonical encoding `encode_mutf7` would write.

    Rejected (RFC 3501 §5.1.3): characters other than printable US-ASCII, a "&" never
    closed by "-", BASE64 outside the modified alphabet or with non-zero spare bits,
    an odd number of UTF-16 octets, unpaired surrogates, printable US-ASCII encoded in
    BASE64 (it "MUST NOT" be), and two encoded runs in a row (one run would do).
    """
    if any(ord(char) not in _PRINTABLE for char in text):
        raise ValueError("modified UTF-7 holds printable US-ASCII only")
    out: list[str] = []
    pos = 0
    after_run = False
    while pos < len(text):
        amp = text.find("&", pos)
        if amp < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:amp])
        if amp > pos:
            after_run = False
        match = _SHIFTED.match(text, amp)
        assert match is not None  # the pattern matches any text starting with "&"
        encoded, closed = match.groups()
        if not closed:
            raise ValueError('"&" without a closing "-"')
        if not encoded:
            out.append("&")
            after_run = False
        else:
            if after_run:
                raise ValueError("two encoded runs in a row are not canonical")
            out.append(_unshift(encoded))
            after_run = True
        pos = match.end()
    return "".join(out)


def _unshift(encoded: str) -> str:
    if not _MODIFIED_BASE64.fullmatch(encoded):
        raise ValueError("not modified BASE64")
    spare_bits = len(encoded) * 6 % 8
    if spare_bits >= 6:  # one sextet more than the octets need
        raise ValueError("modified BASE64 of the wrong length")
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        utf16 = base64.b64decode(padded, altchars=b"+,", validate=True)
    except binascii.Error as exc:
        raise ValueError("bad modified BASE64") from exc
    if spare_bits and _SEXTET.index(encoded[-1]) & ((1 << spare_bits) - 1):
        raise ValueError("modified BASE64 with non-zero spare bits")
    if len(utf16) % 2:
        raise ValueError("an odd number of UTF-16 octets")
    try:
        decoded = utf16.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError("an unpaired UTF-16 surrogate") from exc
    if any(ord(char) in _PRINTABLE for char in decoded):
        raise ValueError("printable US-ASCII must stand for itself")
    return decoded
