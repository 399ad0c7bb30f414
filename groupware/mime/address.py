"""Address lists (RFC 5322 §3.4, with the obsolete forms of §4.4) as IMAP address structures.

`parse_addresses` returns raw names for the IMAP envelope; `decode_addresses` turns them
into display text. New leniencies go in `_mailbox`, one broken form at a time.
"""

from __future__ import annotations

import re

from groupware.mime.charset import clean_text
from groupware.mime.structure import Address
from groupware.mime.words import decode_words

# One token per match; a quoted string may be unterminated (then it runs to the end).
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<quoted>"(?P<body>(?:[^"\\]|\\.)*)(?:"|\\?\Z))
  | (?P<comment>\()
  | (?P<literal>\[[^\]]*\]?)
  | (?P<word>=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)
  | (?P<special>[<>@,;:])
  | (?P<atom>[^\s"()\[\]<>@,;:\\]+)
  | (?P<other>.)
    """,
    re.X | re.S,
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
_NEEDS_QUOTES = re.compile(r'[\s"()<>\[\]@,;:\\]')

Token = tuple[str, str]  # (kind, text): atom, quoted, comment, literal, special or other


def parse_addresses(raw: str | None) -> tuple[Address, ...]:
    """The address list of a header field as IMAP address structures; never raises.

    RFC 3501 §7.4.2: a group is a start marker (mailbox = group name, host NIL), its
    members, and an end marker (mailbox and host NIL). A member always has a non-None
    mailbox and host ("" when the message lacks one) so it cannot be taken for a marker.
    Names are the raw phrase: quotes and comments removed, encoded words kept.
    """
    if not raw:
        return ()
    out: list[Address] = []
    current: list[Token] = []
    in_group = in_angle = False  # in_angle: a route's "," and ":" stay in "<...>" (§4.4)
    for kind, text in _tokens(raw):
        special = text if kind == "special" else ""
        if special in (",", ";") and not in_angle:
            out.extend(_mailbox(current))
            current = []
            if special == ";" and in_group:
                out.append(Address(None, None, None, None))
                in_group = False
        elif special == ":" and not in_group and not in_angle and _is_group_name(current):
            out.append(Address(None, None, _phrase(current) or "", None))
            current, in_group = [], True
        else:
            current.append((kind, text))
            if special in ("<", ">"):
                in_angle = special == "<"
    out.extend(_mailbox(current))
    if in_group:  # an unterminated group still gets its end marker
        out.append(Address(None, None, None, None))
    return tuple(out)


def decode_addresses(addresses: tuple[Address, ...]) -> tuple[Address, ...]:
    """The same structures made display text: names and group names RFC 2047-decoded,
    every string free of NUL and of undecodable octets (safe for any text column)."""
    return tuple(
        Address(
            None if a.name is None else decode_words(a.name),
            None if a.route is None else clean_text(a.route),
            None if a.mailbox is None else _decode_mailbox(a),
            None if a.host is None else clean_text(a.host),
        )
        for a in addresses
    )


def _decode_mailbox(address: Address) -> str:
    assert address.mailbox is not None
    if address.host is None:  # a group start marker: the mailbox is the group's name
        return decode_words(address.mailbox)
    return clean_text(address.mailbox)


def _tokens(raw: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(raw):
        match = _TOKEN.match(raw, pos)
        assert match is not None  # "other" matches any character
        kind = match.lastgroup or "other"
        if kind == "comment":
            text, pos = _comment(raw, pos)
            tokens.append(("comment", text))
            continue
        pos = match.end()
        if kind == "quoted":
            tokens.append(("quoted", _QUOTED_PAIR.sub(r"\1", match.group("body"))))
        elif kind == "word":
            tokens.append(("atom", match.group(0)))
        elif kind != "ws":
            tokens.append((kind, match.group(0)))
    return tokens


def _comment(raw: str, pos: int) -> tuple[str, int]:
    """A (possibly nested) comment starting at raw[pos] == "("; its text and the end."""
    depth = 0
    out: list[str] = []
    index = pos
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            out.append(raw[index + 1])
            index += 2
            continue
        if char == "(":
            depth += 1
            if depth > 1:
                out.append(char)
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out).strip(), index + 1
            out.append(char)
        else:
            out.append(char)
        index += 1
    return "".join(out).strip(), len(raw)


def _is_group_name(tokens: list[Token]) -> bool:
    """A ":" starts a group when only a phrase precedes it (RFC 5322 §3.4 group)."""
    return all(kind in ("atom", "quoted", "comment") for kind, _ in tokens)


def _phrase(tokens: list[Token]) -> str | None:
    """Words of a display name joined by one space; comments dropped (RFC 5322 §3.2.2)."""
    words = [text for kind, text in tokens if kind in ("atom", "quoted", "literal", "other")]
    return " ".join(words) if words else None


def _mailbox(tokens: list[Token]) -> list[Address]:
    """One mailbox (name-addr or addr-spec, §3.4) from its tokens; [] if there is none."""
    if not any(kind != "comment" for kind, _ in tokens):
        return []
    comments = [text for kind, text in tokens if kind == "comment" and text]
    angle = next((i for i, (k, t) in enumerate(tokens) if k == "special" and t == "<"), None)
    if angle is not None:
        close = next(
            (i for i in range(angle + 1, len(tokens)) if tokens[i] == ("special", ">")),
            len(tokens),
        )
        name = _phrase(tokens[:angle])
        inner = tokens[angle + 1 : close]
        route, inner = _route(inner)
    else:
        name, route, inner = None, None, tokens
        if not any(text == "@" for kind, text in inner if kind == "special"):
            words = [t for k, t in inner if k != "comment"]
            if len(words) > 1:  # a bare phrase: a name without an address
                return [Address(_phrase(inner), None, "", "")]
    if name is None and comments:
        name = comments[-1]  # "user@host (Real Name)": the legacy form of RFC 5322 §3.4
    mailbox, host = _addr_spec(inner)
    return [Address(name, route, mailbox, host)]


def _route(tokens: list[Token]) -> tuple[str | None, list[Token]]:
    """Split `@a,@b:` (obs-route, RFC 5322 §4.4) off an angle-addr's tokens."""
    colon = next((i for i, t in enumerate(tokens) if t == ("special", ":")), None)
    if colon is None or not tokens or tokens[0] != ("special", "@"):
        return None, tokens
    route = "".join(text for kind, text in tokens[:colon] if kind != "comment")
    return route, tokens[colon + 1 :]


def _addr_spec(tokens: list[Token]) -> tuple[str, str]:
    """local-part and domain of an addr-spec; "" for a missing part (never None)."""
    parts = [(kind, text) for kind, text in tokens if kind != "comment"]
    at = max((i for i, t in enumerate(parts) if t == ("special", "@")), default=None)
    local = parts if at is None else parts[:at]
    domain = [] if at is None else parts[at + 1 :]
    mailbox = "".join(_local_word(kind, text) for kind, text in local)
    host = "".join(text for kind, text in domain if kind != "special")
    return mailbox, host


def _local_word(kind: str, text: str) -> str:
    """A local-part word as it must be written: quoted strings re-quoted when needed."""
    if kind == "quoted" and (_NEEDS_QUOTES.search(text) or not text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
