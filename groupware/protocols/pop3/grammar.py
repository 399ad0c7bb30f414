"""The POP3 command grammar, pure: one line (without its CRLF) to a commands.py value, or
ParseError (→ -ERR). A new verb is a parse function here and its line in `_PARSERS`."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from groupware.protocols.pop3.commands import (
    Auth,
    Capa,
    Command,
    Dele,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
)

__all__ = ["ParseError", "parse_command", "parse_sasl_response"]

_KEYWORD = re.compile(rb"[A-Za-z]{3,4}")
_NUMBER = re.compile(r"[0-9]{1,10}")
_MECHANISM = re.compile(r"[A-Za-z0-9_-]{1,20}")  # RFC 4422 §3.1 sasl-mech
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class ParseError(Exception):
    """The line is not a command we understand; `message` is safe to send after -ERR."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_command(line: bytes) -> Command:
    """RFC 1939 §3: a case-insensitive keyword, then arguments separated by spaces.
    Lenient where clients are sloppy (repeated or trailing spaces), strict on bytes."""
    if any(byte in line for byte in b"\r\n\x00"):
        raise ParseError("Line breaks and NUL are not allowed inside a command")
    keyword, _, rest = line.partition(b" ")
    if not _KEYWORD.fullmatch(keyword):
        raise ParseError("Unknown command" if keyword else "Empty command")
    verb = keyword.decode("ascii").upper()
    parse = _PARSERS.get(verb)
    if parse is None:
        raise ParseError(f"Unknown command {verb}")
    try:
        text = rest.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"{verb}: arguments must be UTF-8") from None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ParseError(f"{verb}: control characters are not allowed")
    return parse(verb, text)


def parse_sasl_response(line: bytes) -> bytes | None:
    """RFC 5034 §4: a client's answer to "+ ": base64, or "*" to cancel (None)."""
    line = line.strip(b" ")
    if line == b"*":
        return None
    return _decode_base64(line)


# -- one parser per verb ---------------------------------------------------------------


def _no_arguments(factory: Callable[[], Command]) -> Callable[[str, str], Command]:
    def parse(verb: str, text: str) -> Command:
        if text.strip(" "):
            raise ParseError(f"{verb} takes no arguments")
        return factory()

    return parse


def parse_user(verb: str, text: str) -> Command:
    # RFC 1939 §7 USER name
    args = _arguments(verb, text, 1, 1)
    return User(args[0])


def parse_pass(verb: str, text: str) -> Command:
    # RFC 1939 §7 PASS string: the whole rest of the line, spaces included
    if not text:
        raise ParseError("PASS needs a password")
    return Pass(text)


def parse_auth(verb: str, text: str) -> Command:
    # RFC 5034 §4 AUTH mechanism [initial-response]; a bare AUTH lists the mechanisms
    # (a pre-RFC 5034 habit that Outlook and others still have).
    args = _arguments(verb, text, 0, 2)
    if not args:
        return Auth()
    if not _MECHANISM.fullmatch(args[0]):
        # !a, not !r: the reply is ASCII (RFC 1939 §3), whatever the client sent
        raise ParseError(f"Invalid SASL mechanism name {args[0][:20]!a}")
    initial = None
    if len(args) == 2:
        initial = b"" if args[1] == "=" else _decode_base64(args[1].encode("utf-8"))
    return Auth(args[0].upper(), initial)


def parse_list(verb: str, text: str) -> Command:
    # RFC 1939 §5 LIST [msg]; UIDL [msg] (§7) has the same shape
    args = _arguments(verb, text, 0, 1)
    number = _message_number(verb, args[0]) if args else None
    return List(number) if verb == "LIST" else Uidl(number)


def parse_message(verb: str, text: str) -> Command:
    # RFC 1939 §5 RETR msg, DELE msg
    [arg] = _arguments(verb, text, 1, 1)
    number = _message_number(verb, arg)
    return Retr(number) if verb == "RETR" else Dele(number)


def parse_top(verb: str, text: str) -> Command:
    # RFC 1939 §7 TOP msg n
    message, lines = _arguments(verb, text, 2, 2)
    if not _NUMBER.fullmatch(lines):
        raise ParseError("TOP needs a number of lines (0 or more)")
    return Top(_message_number(verb, message), int(lines))


_PARSERS: dict[str, Callable[[str, str], Command]] = {
    "USER": parse_user,
    "PASS": parse_pass,
    "AUTH": parse_auth,
    "STLS": _no_arguments(Stls),
    "STAT": _no_arguments(Stat),
    "LIST": parse_list,
    "UIDL": parse_list,
    "RETR": parse_message,
    "DELE": parse_message,
    "TOP": parse_top,
    "RSET": _no_arguments(Rset),
    "NOOP": _no_arguments(Noop),
    "CAPA": _no_arguments(Capa),
    "QUIT": _no_arguments(Quit),
}


# -- pieces ----------------------------------------------------------------------------


def _arguments(verb: str, text: str, least: int, most: int) -> list[str]:
    args = [arg for arg in text.split(" ") if arg]
    if not least <= len(args) <= most:
        raise ParseError(f"{verb}: wrong number of arguments")
    return args


def _message_number(verb: str, text: str) -> int:
    if not _NUMBER.fullmatch(text) or int(text) == 0:
        raise ParseError(f"{verb}: invalid message number")
    return int(text)


def _decode_base64(data: bytes) -> bytes:
    if not data or not _BASE64.fullmatch(data):
        raise ParseError("Invalid base64")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError("Invalid base64") from None
