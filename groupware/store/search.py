"""SQL conditions for searching the messages of one mailbox, one per kind of criterion, and
the query that applies them. A new criterion is a method on `Conditions`, NULL-free.

Every condition is true or false, never NULL (so NOT is plain negation). Substrings are
matched case-insensitively by lower-casing both sides (Unicode-aware on both engines: on
SQLite through functions registered on the connection by `prepare`); `%` and `_` in the
needle mean themselves. Text conditions pass through the full-text prefilter of
store/fulltext.py first, then this exact test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    LargeBinary,
    Select,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, outerjoin
from sqlalchemy.sql.functions import Function

from groupware.model.base import utcnow
from groupware.model.mail import Message, MessageText
from groupware.store import fulltext

_CONTAINS = "gw_contains"
_FIELD_CONTAINS = "gw_field_contains"
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 §3.6.8 ftext
# The header fields kept decoded on the message row (see services/mail/messages.py _insert).
DECODED_COLUMNS: dict[str, InstrumentedAttribute[str]] = {
    "from": Message.from_,
    "to": Message.to,
    "cc": Message.cc,
    "bcc": Message.bcc,
    "subject": Message.subject,
}
_BALANCE = 16  # longer AND/OR lists nest in halves: SQLite parses at most 1000 deep


def prepare(session: Session) -> str:
    """The session's dialect name; on SQLite, the substring functions registered on the
    connection the session's transaction runs on (cheap, and idempotent)."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        raw: Any = connection.connection.driver_connection
        raw.create_function(_CONTAINS, 2, _contains, deterministic=True)
        raw.create_function(_FIELD_CONTAINS, 3, _field_contains, deterministic=True)
    return dialect


def matching(
    mailbox_id: int | Sequence[int],
    condition: ColumnElement[bool],
    columns: Sequence[Any],
    with_text: bool,
) -> Select[Any]:
    """SELECT `columns` of the mailbox's (or mailboxes') messages meeting `condition`;
    `with_text` joins the message texts that text conditions read."""
    query = select(*columns)
    if with_text:
        query = query.select_from(
            outerjoin(Message, MessageText, MessageText.message_id == Message.id)
        )
    if isinstance(mailbox_id, int):
        return query.where(Message.mailbox_id == mailbox_id, condition)
    return query.where(Message.mailbox_id.in_(mailbox_id), condition)


class Conditions:
    """Builds conditions for one dialect; `with_text` tells whether any of them reads
    the message texts (the query must then join them)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.with_text = False

    # -- combining --------------------------------------------------------------------

    @staticmethod
    def all_of(parts: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
        return _balanced(and_, parts, true())

    @staticmethod
    def any_of(parts: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
        return _balanced(or_, parts, false())

    @staticmethod
    def negated(part: ColumnElement[bool]) -> ColumnElement[bool]:
        return not_(part)

    # -- the row's own columns --------------------------------------------------------

    def contains(
        self, column: ColumnElement[str] | InstrumentedAttribute[str], needle: str
    ) -> ColumnElement[bool]:
        """`needle` is a substring of `column`, case-insensitively. On SQLite an ASCII
        needle in an ASCII text is found by SQLite itself, whose lower() folds ASCII
        as Python does there, without calling back into Python for each row (the scan
        of the rows costs more than either); a text with other characters (its length
        in characters is not its length in bytes) takes the Python function."""
        value: BindParameter[str] = bindparam(None, needle, unique=True)
        if self.dialect != "sqlite":
            return func.strpos(func.lower(column), func.lower(value)) > 0
        folded = Function(_CONTAINS, column, value, type_=Boolean)
        if not needle.isascii():
            return folded
        lowered: BindParameter[str] = bindparam(None, needle.lower(), unique=True)
        ascii_text = func.length(column) == func.length(cast(column, LargeBinary))
        return case((ascii_text, func.instr(func.lower(column), lowered) > 0), else_=folded)

    @staticmethod
    def system_flag(bit: int, present: bool) -> ColumnElement[bool]:
        isset = Message.flags.op("&")(bit)
        return isset != 0 if present else isset == 0

    def keyword(self, name: str, present: bool) -> ColumnElement[bool]:
        """Keywords compare case-insensitively (as Dovecot's do); the stored text is
        padded, " a b ", so " name " finds exactly one whole keyword."""
        found = self.contains(Message.keywords, f" {name} ")
        return found if present else not_(found)

    @staticmethod
    def day(
        column: InstrumentedAttribute[datetime], op: Literal["before", "on", "since"], day: date
    ) -> ColumnElement[bool]:
        """RFC 3501 §6.4.4 BEFORE/ON/SINCE of a stored time, by its UTC day (the internal
        date: the store keeps no zone for it)."""
        start = datetime.combine(day, time(), UTC)
        end = None if day == date.max else start + timedelta(days=1)
        if op == "before":
            return column < start
        if op == "since" or end is None:
            return column >= start
        return and_(column >= start, column < end)

    @staticmethod
    def sent_day(op: Literal["before", "on", "since"], day: date) -> ColumnElement[bool]:
        """RFC 3501 §6.4.4 SENTBEFORE/SENTON/SENTSINCE: the Date: field's day in its own
        zone, time and zone disregarded; never true for a message without a Date: field."""
        column = Message.sent_day
        if op == "before":
            test = column < day
        elif op == "on":
            test = column == day
        else:
            test = column >= day
        return and_(column.is_not(None), test)

    @staticmethod
    def size(larger: bool, size: int) -> ColumnElement[bool]:
        return Message.size > size if larger else Message.size < size

    @staticmethod
    def has_attachments() -> ColumnElement[bool]:
        """The stored parse counts files (ParsedMessage.to_json writes it compactly; a
        string value holding the same text would have its quotes escaped)."""
        return Message.parsed.notlike('%"attachments":0,%')

    @staticmethod
    def modseq_at_least(value: int) -> ColumnElement[bool]:
        return Message.modseq >= value

    @staticmethod
    def within(older: bool, seconds: int) -> ColumnElement[bool]:
        """RFC 5032 OLDER (internal date at least `seconds` ago) / YOUNGER (less)."""
        cutoff = utcnow() - timedelta(seconds=seconds)
        return Message.internal_date <= cutoff if older else Message.internal_date > cutoff

    def uids(self, ranges: Sequence[tuple[int, int]]) -> ColumnElement[bool]:
        """UIDs in any of the closed ranges. Values are inlined as integer literals: a
        client's UID set may hold more numbers than a statement may have parameters."""
        merged = _merge(ranges)
        singles = [low for low, high in merged if low == high]
        parts: list[ColumnElement[bool]] = []
        if singles:
            listed: BindParameter[list[int]] = bindparam(
                None, singles, unique=True, expanding=True, literal_execute=True
            )
            parts.append(Message.uid.in_(listed))
        for low, high in merged:
            if low < high:
                parts.append(
                    Message.uid.between(literal_column(str(low)), literal_column(str(high)))
                )
        return self.any_of(parts)

    # -- the message texts ------------------------------------------------------------

    def text(self, needle: str, where: Literal["body", "text"]) -> ColumnElement[bool]:
        """RFC 3501 BODY (decoded text parts) or TEXT (header fields or body)."""
        self.with_text = True
        body = func.coalesce(MessageText.body, "")
        exact = self.contains(body, needle)
        if where == "text":
            exact = or_(self.contains(func.coalesce(MessageText.headers, ""), needle), exact)
        return self._narrowed(needle, where, exact)

    def words(self, text: str) -> ColumnElement[bool]:
        """Each word of `text` starts a word of the message's headers or body, by the
        full-text index (fulltext.word_match); a text too long for PostgreSQL's index
        is tested for the words as substrings instead."""
        found = fulltext.words(text)
        if not found:
            return false()
        match, overlong = fulltext.word_match(self.dialect, found)
        if overlong is None:
            return match
        self.with_text = True
        everything = (
            func.coalesce(MessageText.headers, "") + " " + func.coalesce(MessageText.body, "")
        )
        exact = self.all_of([self.contains(everything, word) for word in found])
        return or_(match, and_(overlong, exact))

    def header(self, name: str, needle: str) -> ColumnElement[bool]:
        """RFC 3501 HEADER: a field called `name` whose decoded value contains `needle`
        (any value when empty). From, To, Cc, Bcc and Subject read the decoded columns of
        the row ("Name <box@host>, ..." for addresses); other fields, and the presence
        test, read the "Name: value" lines of the stored header text."""
        name = name.lower()
        if not _FIELD_NAME.fullmatch(name):
            return false()  # no field has such a name
        if needle and name in DECODED_COLUMNS:
            return self.contains(DECODED_COLUMNS[name], needle)
        self.with_text = True
        headers = func.coalesce(MessageText.headers, "")
        exact: ColumnElement[bool]
        if self.dialect == "sqlite":
            exact = Function(_FIELD_CONTAINS, headers, name, needle, type_=Boolean)
        else:
            pattern = "(^|\n)" + _regex_literal(name) + ": [^\n]*" + _regex_literal(needle)
            value = func.lower(bindparam(None, pattern, unique=True))
            exact = func.lower(headers).op("~", is_comparison=True)(value)
        return self._narrowed(needle, "headers", exact)

    def _narrowed(
        self, needle: str, where: fulltext.Where, exact: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        """`exact`, behind the full-text prefilter when the index can narrow it (the
        prefilter holds wherever `exact` does, so this is `exact`, faster)."""
        narrow = fulltext.prefilter(self.dialect, needle, where)
        return exact if narrow is None else and_(narrow, exact)


def _balanced(
    combine: Callable[..., ColumnElement[bool]],
    parts: Sequence[ColumnElement[bool]],
    empty: ColumnElement[bool],
) -> ColumnElement[bool]:
    if not parts:
        return empty
    if len(parts) <= _BALANCE:
        return combine(*parts)
    half = len(parts) // 2
    # SQLAlchemy flattens nested ANDs (ORs), parentheses or not, back into one chain; a
    # function call around each half keeps the nesting (and the parse depth) logarithmic.
    return combine(
        func.coalesce(_balanced(combine, parts[:half], empty), false(), type_=Boolean),
        func.coalesce(_balanced(combine, parts[half:], empty), false(), type_=Boolean),
    )


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-adjacent ranges within 1.. (a range may come high to low)."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted((min(a, b), max(a, b)) for a, b in ranges):
        low = max(low, 1)
        if high < low:
            continue
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _regex_literal(text: str) -> str:
    """`text` matching itself in a PostgreSQL regular expression: ASCII punctuation gets
    a backslash (a backslash before a letter or digit would be an escape)."""
    return "".join("\\" + ch if ch.isascii() and not ch.isalnum() else ch for ch in text)


def _contains(haystack: str | None, needle: str | None) -> bool:
    return haystack is not None and needle is not None and needle.lower() in haystack.lower()


def _field_contains(headers: str | None, name: str | None, needle: str | None) -> bool:
    """A "name: value" line (name in lower case) of `headers` whose value holds `needle`."""
    if headers is None or name is None or needle is None:
        return False
    prefix = name + ": "
    wanted = needle.lower()
    return any(
        line.startswith(prefix) and wanted in line[len(prefix) :]
        for line in headers.lower().split("\n")
    )
