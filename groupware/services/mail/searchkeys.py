"""Search criteria for messages in one mailbox, as plain data: what IMAP SEARCH (RFC 3501
§6.4.4, RFC 9051 §6.4.4) and the web's search box ask `Messages.search` for.

A new criterion is a frozen subclass of `Key` here and a clause in services/mail/search.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal


class Key:
    """Base of every criterion; front doors may add their own and must replace them with
    these before calling the service (IMAP turns sequence numbers into `Uids`)."""


@dataclass(frozen=True)
class All(Key):
    pass


@dataclass(frozen=True)
class Flag(Key):
    """A system flag ("\\Seen", …) or keyword set (present) or not set (not present)."""

    name: str
    present: bool = True


@dataclass(frozen=True)
class Header(Key):
    """Substring (case-insensitive) of a header field's decoded value. Field names in lower
    case; "from", "to", "cc", "bcc" and "subject" match the stored address/subject
    columns; an empty value matches every message that has the field."""

    field: str
    value: str


@dataclass(frozen=True)
class Text(Key):
    """Substring of the body ("body") or of the header and body ("text")."""

    value: str
    where: Literal["body", "text"] = "text"


@dataclass(frozen=True)
class Date(Key):
    """The internal date or the Date: header ("sent"), compared by day (timezone ignored,
    RFC 3501 §6.4.4): before, on, or since that day."""

    field: Literal["internal", "sent"]
    op: Literal["before", "on", "since"]
    day: date


@dataclass(frozen=True)
class Size(Key):
    """RFC822.SIZE larger (or smaller) than `size` octets."""

    larger: bool
    size: int


@dataclass(frozen=True)
class Words(Key):
    """Every word of `value` starts a word of the header or body (the webmail's plain
    words, as a search engine reads them; no IMAP key): answered by the full-text index
    alone, where Text wants a substring test of every text."""

    value: str


@dataclass(frozen=True)
class HasAttachments(Key):
    """The message carries files (the webmail's has:attachment; no IMAP key)."""


@dataclass(frozen=True)
class Uids(Key):
    """UIDs in closed ranges (low, high), already resolved (no "*")."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ModSeq(Key):
    """RFC 7162 §3.1.5 MODSEQ: messages whose MODSEQ is at least `value`."""

    value: int


@dataclass(frozen=True)
class Within(Key):
    """RFC 5032 OLDER / YOUNGER: internal date more (older) or less than `seconds` ago."""

    older: bool
    seconds: int


@dataclass(frozen=True)
class Not(Key):
    key: Key


@dataclass(frozen=True)
class Or(Key):
    left: Key
    right: Key


@dataclass(frozen=True)
class And(Key):
    keys: tuple[Key, ...]
