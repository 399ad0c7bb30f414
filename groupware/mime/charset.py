"""Turning message octets into text: charset labels to Python codecs, and raw header strings.

To support a new charset label, add it to `_ALIASES`; a codec that is not a plain
text decoder (or is unsafe on hostile input) belongs in `_REFUSED`.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

# Labels mail software writes that Python does not know, or knows as a narrower
# codec than the one senders actually use (WHATWG Encoding Standard's label table:
# iso-8859-1 and us-ascii text is windows-1252 in practice; gb2312 is gbk/gb18030;
# ks_c_5601-1987 is windows-949; shift_jis is windows-31j).
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-8-e": "iso8859-8",
    "iso-8859-6-e": "iso8859-6",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "utf8": "utf-8",
    "x-unicode-2-0-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

# Codecs that are no charsets (or that can raise, or run long, on any input).
_REFUSED = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape", "mbcs", "oem"}
)

_ESCAPED = re.compile("[\udc80-\udcff]+")  # octets `raw_text` could not read as UTF-8


@lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label; None for US-ASCII or an unknown label.

    None means "no reliable charset": decode as UTF-8 when the octets are valid UTF-8,
    else as windows-1252 (the most common mislabelled 8-bit charset). US-ASCII is in
    that group because 8-bit text labelled us-ascii (or not labelled) is common.
    """
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = name.partition("*")[0]  # RFC 2231 §5: charset*language in encoded words
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return None
    return None if info.name == "ascii" else info.name


def decode_octets(data: bytes, label: str | None) -> str:
    """Text of `data` in the charset `label`; never raises, bad octets become U+FFFD."""
    codec = codec_for(label)
    if codec is None:
        return best_effort(data)
    try:
        return data.decode(codec, "replace")
    except (UnicodeError, LookupError, ValueError):
        return best_effort(data)


def best_effort(data: bytes) -> str:
    """UTF-8 if the octets are valid UTF-8, else windows-1252 (8-bit mail without a label)."""
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def raw_text(data: bytes) -> str:
    """A header's octets as a lossless string: UTF-8 with invalid octets surrogate-escaped.

    `raw_text(b).encode("utf-8", "surrogateescape") == b` always holds, so IMAP can send
    the exact header octets back (RFC 3501 §7.4.2: the envelope carries raw strings).
    """
    if data.isascii():
        return data.decode("ascii")
    return data.decode("utf-8", "surrogateescape")


def clean_text(raw: str) -> str:
    """A raw header string made displayable: escaped octets read as windows-1252, no NUL."""
    if not raw.isascii():
        raw = _ESCAPED.sub(_windows_1252, raw)
    return raw.replace("\x00", "") if "\x00" in raw else raw


def _windows_1252(match: re.Match[str]) -> str:
    return bytes(ord(char) - 0xDC00 for char in match.group()).decode("cp1252", "replace")
