"""MIME parameter lists (RFC 2045 §5.1, RFC 2183, RFC 2231): Content-Type and -Disposition.

`parse_content_type`/`parse_disposition` give what BODYSTRUCTURE shows; `param_value`
decodes one parameter for display. New structured MIME fields can reuse `parse_params`.
"""

from __future__ import annotations

import re
import urllib.parse

from groupware.mime.charset import clean_text, decode_octets
from groupware.mime.words import decode_words

Params = tuple[tuple[str, str], ...]

# RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_TRAILING_COMMENT = re.compile(r"\s*\((?:[^()\\]|\\.)*\)\s*$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
# RFC 2231 §3/§4: name*N (continuation), name* (extended), name*N* (both).
_SECTION = re.compile(r"([^*]+)(?:\*([0-9]+))?(\*)?")


def parse_content_type(raw: str | None) -> tuple[str, str, Params] | None:
    """(type, subtype, params) as written; None when absent or syntactically invalid.

    RFC 2045 §5.2: an invalid Content-Type is to be read as the default, so the caller
    substitutes text/plain; charset=us-ascii (or its context's default) for None.
    """
    if raw is None:
        return None
    head, _, rest = raw.partition(";")
    kind, slash, subtype = _strip_comments(head).partition("/")
    kind, subtype = kind.strip(), subtype.strip()
    if not slash or not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(subtype):
        return None
    return kind, subtype, parse_params(rest)


def parse_disposition(raw: str | None) -> tuple[str, Params] | None:
    """(disposition type as written, params) per RFC 2183; None when absent or invalid."""
    if raw is None:
        return None
    head, _, rest = raw.partition(";")
    kind = _strip_comments(head).strip()
    if not _TOKEN.fullmatch(kind):
        return None
    return kind, parse_params(rest)


def parse_params(raw: str) -> Params:
    """`; name=value` pairs: names lower-cased, quoted strings unquoted, RFC 2231 joined.

    RFC 2045 §5.1 makes attribute names case-insensitive, so they are folded to lower
    case (IMAP clients compare them case-insensitively too). Values keep their case.
    Unquoted values are read up to the next ";" because real mail carries tspecials
    unquoted (`boundary=----=_Part_1`); a trailing (comment) is dropped.

    RFC 2231 continuations are joined, and an extended (`name*`) value is kept in its
    encoded form `charset'language'%XX...` under the name `name*`, as Dovecot does:
    it stays 7-bit, so it fits an IMAP quoted string (RFC 3501 §9 QUOTED-CHAR) with no
    charset guessed for the client; the language is kept; clients decode RFC 2231.
    Unencoded pieces of an extended value get their "%" escaped, so decoding the joined
    value is exact. `param_value` gives the decoded text.
    """
    order: list[tuple[str, str | None]] = []  # None: the joined RFC 2231 value goes here
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for name, value in _pairs(raw):
        match = _SECTION.fullmatch(name)
        if match is None or (match.group(2) is None and match.group(3) is None):
            order.append((name, value))
            continue
        base = match.group(1)
        if base not in sections:
            order.append((base, None))
            sections[base] = []
        number = int(match.group(2)) if match.group(2) is not None else 0
        sections[base].append((number, match.group(3) is not None, value))
    out: list[tuple[str, str]] = []
    for name, found in order:
        if found is None:
            out.extend(_join_sections(name, sections[name]))
        else:
            out.append((name, found))
    return tuple(out)


def _join_sections(base: str, parts: list[tuple[int, bool, str]]) -> list[tuple[str, str]]:
    """Join `base*0`, `base*1`, ... (RFC 2231 §3); keep them apart if numbers are missing."""
    parts.sort(key=lambda part: part[0])
    if [number for number, _, _ in parts] != list(range(len(parts))):
        return [(f"{base}*{n}{'*' if ext else ''}", value) for n, ext, value in parts]
    if not any(ext for _, ext, _ in parts):
        return [(base, "".join(value for _, _, value in parts))]
    text = "" if parts[0][1] else "''"  # §4: charset'language' leads the first section
    for _, extended, value in parts:
        text += value if extended else value.replace("%", "%25")
    return [(base + "*", text)]


def _pairs(raw: str) -> list[tuple[str, str]]:
    """Split `; a=b; c="d;e"` into (lower-cased name, unquoted value) pairs, leniently."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    equals = -1
    while pos < len(raw):
        if equals < pos:  # found once per "=", so ";;;;..." stays linear
            equals = raw.find("=", pos)
            if equals < 0:
                break
        semicolon = raw.find(";", pos, equals)
        if semicolon >= 0:
            pos = semicolon + 1  # a parameter without "=": skip it
            continue
        name = _strip_comments(raw[pos:equals]).strip().lower()
        value, pos = _value(raw, equals + 1)
        if _TOKEN.fullmatch(name):
            pairs.append((name, value))
    return pairs


def _value(raw: str, pos: int) -> tuple[str, int]:
    """One parameter value starting at raw[pos]; returns it and where the next one starts."""
    while pos < len(raw) and raw[pos] in " \t\r\n":
        pos += 1
    if raw.startswith('"', pos):
        match = _QUOTED.match(raw, pos)
        assert match is not None  # the pattern matches any string starting with '"'
        value = _QUOTED_PAIR.sub(r"\1", match.group(1))
        semicolon = raw.find(";", match.end())
        return value, len(raw) if semicolon < 0 else semicolon + 1
    semicolon = raw.find(";", pos)
    stop = len(raw) if semicolon < 0 else semicolon
    value = _TRAILING_COMMENT.sub("", raw[pos:stop]).strip()
    return value, stop + 1


def _strip_comments(text: str) -> str:
    """Drop (comments) from a short structured value (RFC 822 §3.4.3, nesting allowed)."""
    if "(" not in text:
        return text
    out: list[str] = []
    depth = 0
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and depth:
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


def param_value(params: Params, name: str) -> str | None:
    """The decoded value of parameter `name` (lower case), or None if absent.

    An RFC 2231 extended value (`name*`) wins over a plain one; a plain value holding
    RFC 2047 encoded words (which RFC 2047 §5 forbids but many mailers send in
    filenames) is decoded as such.
    """
    extended = plain = None
    for key, value in params:
        if key == name + "*" and extended is None:
            extended = value
        elif key == name and plain is None:
            plain = value
    if extended is not None:
        return decode_extended(extended)
    if plain is None:
        return None
    return decode_words(plain) if "=?" in plain else clean_text(plain)


def decode_extended(value: str) -> str:
    """Decode `charset'language'percent-encoded` (RFC 2231 §4) to text."""
    charset, language, encoded = value.split("'", 2) if value.count("'") >= 2 else ("", "", value)
    del language  # RFC 2231 language tags do not change the text
    octets = urllib.parse.unquote_to_bytes(encoded.encode("utf-8", "surrogateescape"))
    return decode_octets(octets, charset or None).replace("\x00", "")
