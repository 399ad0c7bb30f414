"""The cursor under the grammar's modules: walks a command's line pieces and literals and reads the
RFC 9051 §9 tokens (atoms, strings, numbers, sequence sets, flags, dates). A token two
commands share is a method here; the shape of one command belongs in its module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from groupware.protocols.imap.commands import STAR, SequenceSet, Spooled

T = TypeVar("T")

MAX_DIGITS = 20  # no IMAP number needs more; longer digit runs are refused before int()
NUMBER_MAX = 2**32 - 1  # RFC 9051 number, nz-number
NUMBER64_MAX = 2**63 - 1  # RFC 9051 number64, RFC 7162 mod-sequence-value

# RFC 9051 §9: ATOM-CHAR is any CHAR but atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE
# "\" "]"; ASTRING-CHAR adds "]"; list-char adds "%" "*" "]"; a tag is ASTRING-CHAR but "+".
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff"%()*\\\]{]+')
_ASTRING = re.compile(rb'[^\x00-\x20\x7f-\xff"%()*\\{]+')
_LIST_MAILBOX = re.compile(rb'[^\x00-\x20\x7f-\xff"()\\{]+')
TAG = re.compile(rb'[^\x00-\x20\x7f-\xff"%()*+\\{]+')
_FLAG = re.compile(rb'\\?[^\x00-\x20\x7f-\xff"%()*\\\]{]+')
# quoted = DQUOTE *QUOTED-CHAR DQUOTE; only \\ and \" escape (unrolled: no backtracking).
_QUOTED = re.compile(rb'"([^"\\\r\n\x00]*(?:\\["\\][^"\\\r\n\x00]*)*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_LITERAL = re.compile(rb"(~?)\{([0-9]+)(\+?)\}")
_DIGITS = re.compile(rb"[0-9]+")
_SEQUENCE = re.compile(rb"[0-9:,*$]+")
_SEQ_RANGE = re.compile(r"([1-9][0-9]*|\*)(?::([1-9][0-9]*|\*))?")
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_DATE_TIME = re.compile(
    rb'"([0-9]{2}| [0-9])-([A-Za-z]{3})-([0-9]{4}) '
    rb'([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
)
_MONTH_NAMES: tuple[bytes, ...] = (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN")
_MONTH_NAMES += (b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


class ParseError(Exception):
    """A command the grammar refuses: the server answers `tag` BAD (or "* BAD" when the tag
    could not be read), with `code` (an IMAP response code without brackets) if set."""

    def __init__(self, message: str, tag: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag
        self.code = code


def show(data: bytes | str, limit: int = 24) -> str:
    """Client text fit for an error message: quoted, escaped to ASCII, cut at `limit`."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return ascii(text[:limit]) + ("..." if len(text) > limit else "")


def decode(data: bytes, what: str, encoding: str = "utf-8") -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise ParseError(f"{what} is not valid {encoding.upper()}") from None


def to_number(digits: bytes | str, maximum: int = NUMBER_MAX, *, nonzero: bool = False) -> int:
    """RFC 9051 number / nz-number (no leading zero) / number64, up to `maximum`."""
    if len(digits) > MAX_DIGITS or int(digits) > maximum:
        raise ParseError(f"number {show(digits)} is larger than {maximum}")
    if nonzero and digits[:1] in (b"0", "0"):
        raise ParseError(f"expected a number from 1, found {show(digits)}")
    return int(digits)


def parse_sequence_set(text: str) -> SequenceSet:
    """RFC 9051 sequence-set = (seq-number / seq-range) ["," sequence-set], seq-number =
    nz-number / "*"; RFC 5182 "$" (alone: the set cannot hold "$" beside numbers)."""
    if text == "$":
        return SequenceSet((), saved=True)
    ranges = []
    for item in text.split(","):
        found = _SEQ_RANGE.fullmatch(item)
        if found is None:
            raise ParseError(f"bad sequence set {show(text)}: numbers are 1 to {NUMBER_MAX} or *")
        low, high = found[1], found[2] or found[1]
        ranges.append((_seq_number(low), _seq_number(high)))
    return SequenceSet(tuple(ranges))


def _seq_number(text: str) -> int:
    return STAR if text == "*" else to_number(text, nonzero=True)


def make_date(day: bytes, month: bytes, year: bytes) -> date:
    """RFC 9051 date-text = date-day "-" date-month "-" date-year (month any case)."""
    number = _MONTHS.get(month.upper())
    if number is None:
        raise ParseError(f"unknown month {show(month)}")
    try:
        return date(int(year), number, int(day))
    except ValueError:
        raise ParseError(f"no such date {show(day + b'-' + month + b'-' + year)}") from None


def _as_line(part: object) -> bytes:
    if isinstance(part, bytes):
        return part
    raise ParseError("malformed command: a part is neither bytes nor a spooled literal")


def _as_literal(part: object) -> bytes | Spooled:
    return part if isinstance(part, Spooled) else _as_line(part)


class Reader:
    """A cursor over parts = [line, literal, line, ..., line]: `line` is the current piece,
    `pos` the next octet in it. A literal marker ends a piece; the next part is its data."""

    def __init__(self, parts: Sequence[bytes | Spooled], pos: int = 0) -> None:
        if len(parts) % 2 == 0:
            raise ParseError("malformed command: a literal without the line after it")
        self.lines = [_as_line(part) for part in parts[0::2]]
        self.literals = [_as_literal(part) for part in parts[1::2]]
        self.index = 0  # of the current line piece; literals[index] follows it
        self.line = self.lines[0]
        self.pos = pos

    # -- position ----------------------------------------------------------------------

    def peek(self, size: int = 1) -> bytes:
        return self.line[self.pos : self.pos + size]

    def done(self) -> bool:
        return self.pos >= len(self.line) and self.index == len(self.literals)

    def end(self) -> None:
        if self.done():
            return
        if not self.line[self.pos :].strip(b" ") and self.index == len(self.literals):
            raise ParseError("unexpected space at the end of the command")
        raise self.error("the end of the command")

    def error(self, expected: str) -> ParseError:
        if self.pos >= len(self.line):
            return ParseError(f"expected {expected}, found the end of the line")
        return ParseError(f"expected {expected}, found {show(self.line[self.pos :])}")

    def expect(self, token: bytes) -> None:
        if self.peek(len(token)) != token:
            raise self.error(repr(token.decode("ascii")))
        self.pos += len(token)

    def sp(self) -> None:
        """Exactly one SP between tokens, never before ")" or at the end of the line."""
        if self.done():
            raise ParseError("unexpected end of the command: an argument is missing")
        self.expect(b" ")
        if self.peek() == b" ":
            raise ParseError("unexpected double space")
        if self.peek() in (b")", b""):
            raise ParseError("unexpected space at the end of a line or list")

    def match(self, pattern: re.Pattern[bytes], what: str) -> re.Match[bytes]:
        found = pattern.match(self.line, self.pos)
        if found is None:
            raise self.error(what)
        self.pos = found.end()
        return found

    # -- lists -------------------------------------------------------------------------

    def parenthesised(self, item: Callable[[], T], *, empty: bool = False) -> tuple[T, ...]:
        """A list: "(" item *(SP item) ")", or "()" when `empty` is allowed."""
        self.expect(b"(")
        if empty and self.peek() == b")":
            self.pos += 1
            return ()
        items = [item()]
        while self.peek() != b")":
            if self.peek() != b" ":
                raise self.error("' ' or ')'")
            self.sp()
            items.append(item())
        self.pos += 1
        return tuple(items)

    def to_end(self, item: Callable[[], T]) -> tuple[T, ...]:
        """item *(SP item) up to the end of the command."""
        items = [item()]
        while not self.done():
            self.sp()
            items.append(item())
        return tuple(items)

    # -- atoms and numbers -------------------------------------------------------------

    def atom(self, what: str = "an atom") -> str:
        return self.match(_ATOM, what)[0].decode("ascii")

    def keyword(self, what: str = "a keyword") -> str:
        return self.atom(what).upper()

    def accept(self, word: str) -> bool:
        """Read the atom `word` (any case) if it comes next."""
        found = _ATOM.match(self.line, self.pos)
        if found is None or found[0].upper() != word.encode("ascii"):
            return False
        self.pos = found.end()
        return True

    def number(self, maximum: int = NUMBER_MAX, *, nonzero: bool = False) -> int:
        return to_number(self.match(_DIGITS, "a number")[0], maximum, nonzero=nonzero)

    def sequence_set(self) -> SequenceSet:
        text = self.match(_SEQUENCE, "a sequence set")[0].decode("ascii")
        return parse_sequence_set(text)

    def flag(self) -> str:
        """RFC 9051 flag: "\\" atom (system flag, flag-extension) or flag-keyword (atom)."""
        return self.match(_FLAG, "a flag")[0].decode("ascii")

    def flag_list(self) -> tuple[str, ...]:
        """RFC 9051 flag-list = "(" [flag *(SP flag)] ")"."""
        return self.parenthesised(self.flag, empty=True)

    # -- strings -----------------------------------------------------------------------

    def astring(self) -> bytes:
        """RFC 9051 astring = 1*ASTRING-CHAR / string."""
        if self.peek() in (b'"', b"{") or self.peek(2) == b"~{":
            return self.string()
        return self.match(_ASTRING, "a string")[0]

    def string(self) -> bytes:
        """RFC 9051 string = quoted / literal."""
        if self.peek() == b'"':
            return _UNESCAPE.sub(rb"\1", self.match(_QUOTED, "a closed quoted string")[1])
        if self.peek() == b"{" or self.peek(2) == b"~{":
            return self.literal()
        raise self.error("a quoted string or a literal")

    def nstring(self) -> bytes | None:
        return None if self.accept("NIL") else self.string()

    def mailbox(self) -> str:
        """RFC 9051 mailbox = "INBOX" / astring, as UTF-8 (the session decodes UTF-7)."""
        return decode(self.astring(), "the mailbox name")

    def list_mailbox(self) -> str:
        """RFC 9051 list-mailbox = 1*list-char / string."""
        if self.peek() in (b'"', b"{") or self.peek(2) == b"~{":
            return decode(self.string(), "the mailbox pattern")
        return self.match(_LIST_MAILBOX, "a mailbox pattern")[0].decode("ascii")

    def literal(self) -> bytes:
        """A literal used as a string: in memory, not literal8, no NUL (CHAR8)."""
        data, binary = self.any_literal()
        if binary:
            raise ParseError("a binary literal ~{n} is only allowed for APPEND's message")
        if isinstance(data, Spooled):
            raise ParseError("literal too large for a string")
        if b"\0" in data:
            raise ParseError("NUL in a literal string")
        return data

    def any_literal(self) -> tuple[bytes | Spooled, bool]:
        """RFC 9051 literal, RFC 7888 {n+}, RFC 3516 literal8 ~{n}: (data, is literal8).
        The marker ends this line piece; the data is the next part, then the next piece."""
        found = self.match(_LITERAL, "a literal")
        if found.end() != len(self.line):
            raise ParseError("a literal's {size} must end the line")
        if self.index >= len(self.literals):
            raise ParseError("the literal's data is missing")
        size = to_number(found[2], NUMBER64_MAX)
        data = self.literals[self.index]
        length = data.size if isinstance(data, Spooled) else len(data)
        if length != size:
            raise ParseError(f"literal of {length} octets announced as {size}")
        self.index += 1
        self.line = self.lines[self.index]
        self.pos = 0
        return data, found[1] == b"~"

    # -- dates -------------------------------------------------------------------------

    def date(self) -> date:
        """RFC 9051 date = date-text / DQUOTE date-text DQUOTE."""
        quoted = self.peek() == b'"'
        if quoted:
            self.pos += 1
        found = self.match(_DATE, "a date like 1-Feb-2024")
        if quoted:
            self.expect(b'"')
        return make_date(found[1], found[2], found[3])

    def date_time(self) -> datetime:
        """RFC 9051 date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
        SP zone DQUOTE, e.g. " 1-Feb-2024 09:30:00 +0100"."""
        found = self.match(_DATE_TIME, 'a date-time like "01-Feb-2024 09:30:00 +0100"')
        day = make_date(found[1].strip(), found[2], found[3])
        hours, minutes = int(found[8]), int(found[9])
        if hours > 23 or minutes > 59:
            raise ParseError(f"bad time zone {show(found[7] + found[8] + found[9])}")
        zone = timezone(timedelta(hours=hours, minutes=minutes) * (-1 if found[7] == b"-" else 1))
        try:
            return datetime(
                day.year, day.month, day.day, int(found[4]), int(found[5]), int(found[6]), 0, zone
            )
        except ValueError:
            raise ParseError(f"no such time {show(found[0])}") from None
