"""IMAP commands as typed values: what grammar/ makes of the wire and handlers take.

One frozen dataclass per command (RFC 3501 / RFC 9051 names and extensions). A new
command is a class here, a parse function in grammar/ and an entry in dispatch.py.
Mailbox names are the wire text decoded as UTF-8 (still modified UTF-7 unless the
session enabled UTF8=ACCEPT); the session decodes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from groupware.services.mail.searchkeys import Key

STAR = 0  # "*" in a sequence set: the largest number in use (RFC 9051 §9 seq-number)


@dataclass(frozen=True)
class SequenceSet:
    """RFC 9051 sequence-set: ranges (low, high) as written, STAR standing for "*";
    a single number is (n, n). `saved` is RFC 5182's "$" (the last SEARCH result)."""

    ranges: tuple[tuple[int, int], ...]
    saved: bool = False

    def resolve(self, largest: int) -> Iterator[tuple[int, int]]:
        """Closed ranges with "*" as `largest` and ends ordered (3:1 is 1:3)."""
        for low, high in self.ranges:
            low = largest if low == STAR else low
            high = largest if high == STAR else high
            yield (low, high) if low <= high else (high, low)


@dataclass(frozen=True)
class Spooled:
    """A literal the server wrote to a file instead of memory (APPEND's message)."""

    path: Path
    size: int


@dataclass(frozen=True)
class Section:
    """RFC 9051 §6.4.5 section: part numbers, then HEADER, HEADER.FIELDS[.NOT], TEXT or
    MIME (upper case) or None for the whole part."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()  # HEADER.FIELDS names, upper case as given


@dataclass(frozen=True)
class FetchAttr:
    """One FETCH data item. `name` is upper case: FLAGS, UID, INTERNALDATE, RFC822.SIZE,
    ENVELOPE, BODYSTRUCTURE, BODY (without section: the non-extensible BODYSTRUCTURE),
    RFC822, RFC822.HEADER, RFC822.TEXT, MODSEQ, BODY[] (`section` set), BINARY[]
    (`section` set), BINARY.SIZE. Macros ALL/FAST/FULL are expanded by the grammar.
    `partial` is <origin.count>; `peek` is BODY.PEEK / BINARY.PEEK."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False


# -- search keys IMAP adds to services/mail/searchkeys.py (resolved by the handler) ---


@dataclass(frozen=True)
class SeqKey(Key):
    """A sequence set in a search (or UID set when `uid`)."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True)
class RecentKey(Key):
    """RECENT (True) / OLD (False); NEW is And(RecentKey(True), Flag(\\Seen, False))."""

    recent: bool


@dataclass(frozen=True)
class SortKey:
    """RFC 5256 sort criterion: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, and RFC 5957
    DISPLAYFROM, DISPLAYTO (upper case), reversed or not."""

    name: str
    reverse: bool = False


# -- any state -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    tag: str


@dataclass(frozen=True)
class Capability(Command):
    pass


@dataclass(frozen=True)
class Noop(Command):
    pass


@dataclass(frozen=True)
class Logout(Command):
    pass


@dataclass(frozen=True)
class Id(Command):
    """RFC 2971: the client's fields, None for NIL."""

    fields: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class Enable(Command):
    capabilities: tuple[str, ...]  # upper case


@dataclass(frozen=True)
class Compress(Command):
    mechanism: str  # upper case; RFC 4978 knows DEFLATE


# -- not authenticated -----------------------------------------------------------------


@dataclass(frozen=True)
class StartTLS(Command):
    pass


@dataclass(frozen=True)
class Login(Command):
    user: str
    password: str


@dataclass(frozen=True)
class Authenticate(Command):
    """RFC 9051 §6.2.2; `initial` is the decoded SASL-IR (RFC 4959) response: None when
    absent, b"" for "=" ."""

    mechanism: str  # upper case
    initial: bytes | None = None


# -- authenticated ---------------------------------------------------------------------


@dataclass(frozen=True)
class Select(Command):
    """SELECT, or EXAMINE (`readonly`). RFC 7162: CONDSTORE parameter, QRESYNC
    (uidvalidity, modseq, known UIDs, (known sequence numbers, their UIDs))."""

    mailbox: str
    readonly: bool = False
    condstore: bool = False
    qresync: tuple[int, int, SequenceSet | None, tuple[SequenceSet, SequenceSet] | None] | None = (
        None
    )


@dataclass(frozen=True)
class Create(Command):
    mailbox: str
    special_use: tuple[str, ...] = ()  # RFC 6154 USE (\Sent …), as given


@dataclass(frozen=True)
class Delete(Command):
    mailbox: str


@dataclass(frozen=True)
class Rename(Command):
    old: str
    new: str


@dataclass(frozen=True)
class Subscribe(Command):
    """SUBSCRIBE, or UNSUBSCRIBE (`subscribe` False)."""

    mailbox: str
    subscribe: bool = True


@dataclass(frozen=True)
class List(Command):
    """LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS) or LSUB.
    Options upper case: selection SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE;
    return SUBSCRIBED, CHILDREN, SPECIAL-USE, and STATUS with `status_items`."""

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()
    lsub: bool = False


@dataclass(frozen=True)
class Namespace(Command):
    pass


@dataclass(frozen=True)
class Status(Command):
    """Items upper case: MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN, SIZE,
    HIGHESTMODSEQ, DELETED, APPENDLIMIT."""

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Catenate:
    """RFC 4469 CATENATE: the message is these pieces joined, a literal (bytes or
    Spooled) for TEXT and a str for URL (resolved by the handler, RFC 5092)."""

    parts: tuple[bytes | Spooled | str, ...]


@dataclass(frozen=True)
class AppendMessage:
    """One message of an APPEND: flags as given (e.g. "\\Seen", "$Label"), the date,
    and the literal (bytes when small, Spooled when the server wrote it to a file) or
    the CATENATE pieces. `utf8` is RFC 6855's UTF8 (~{n}) form."""

    message: bytes | Spooled | Catenate
    flags: tuple[str, ...] = ()
    date: datetime | None = None
    utf8: bool = False


@dataclass(frozen=True)
class Append(Command):
    """RFC 9051 §6.3.12 APPEND; several messages are RFC 3502 MULTIAPPEND."""

    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True)
class Idle(Command):
    pass


@dataclass(frozen=True)
class GetQuota(Command):
    root: str


@dataclass(frozen=True)
class GetQuotaRoot(Command):
    mailbox: str


# -- selected --------------------------------------------------------------------------


@dataclass(frozen=True)
class Check(Command):
    pass


@dataclass(frozen=True)
class Close(Command):
    pass


@dataclass(frozen=True)
class Unselect(Command):
    pass


@dataclass(frozen=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE (RFC 4315) when `uids` is set."""

    uids: SequenceSet | None = None


@dataclass(frozen=True)
class Search(Command):
    """SEARCH / UID SEARCH. `returns` is RFC 4731 ESEARCH's RETURN (MIN, MAX, ALL,
    COUNT, SAVE, and RFC 5267's UPDATE and PARTIAL; upper case), None when the client
    gave no RETURN; `partial` is the PARTIAL range, low first."""

    key: Key
    uid: bool = False
    charset: str | None = None
    returns: tuple[str, ...] | None = None
    partial: tuple[int, int] | None = None


@dataclass(frozen=True)
class NotifyFilter:
    """One RFC 5465 event group: which mailboxes (`kind` upper case: SELECTED,
    SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE, MAILBOXES; `mailboxes` for
    the last two, as sent) and which events (canonical spelling; () is NONE).
    `new_fetch` holds MessageNew's fetch attributes."""

    kind: str
    events: tuple[str, ...]
    mailboxes: tuple[str, ...] = ()
    new_fetch: tuple[FetchAttr, ...] = ()


@dataclass(frozen=True)
class Notify(Command):
    """RFC 5465 NOTIFY SET [STATUS] groups, or NOTIFY NONE (`filters` None)."""

    filters: tuple[NotifyFilter, ...] | None
    status: bool = False


@dataclass(frozen=True)
class CancelUpdate(Command):
    """RFC 5267 §4.3 CANCELUPDATE: stop the updates of these searches (their tags)."""

    tags: tuple[str, ...]


@dataclass(frozen=True)
class Fetch(Command):
    """FETCH / UID FETCH, with RFC 7162 CHANGEDSINCE and VANISHED modifiers."""

    set: SequenceSet
    attrs: tuple[FetchAttr, ...]
    uid: bool = False
    changedsince: int | None = None
    vanished: bool = False


@dataclass(frozen=True)
class Store(Command):
    """STORE / UID STORE: mode "" replaces, "+" adds, "-" removes; RFC 7162
    UNCHANGEDSINCE."""

    set: SequenceSet
    mode: Literal["", "+", "-"]
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchangedsince: int | None = None


@dataclass(frozen=True)
class Copy(Command):
    set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class Move(Command):
    set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class Sort(Command):
    """RFC 5256 SORT / UID SORT (RFC 5267 ESORT's RETURN in `returns`)."""

    criteria: tuple[SortKey, ...]
    charset: str
    key: Key
    uid: bool = False
    returns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Thread(Command):
    """RFC 5256 THREAD / UID THREAD; algorithm upper case (REFERENCES, ORDEREDSUBJECT)."""

    algorithm: str
    charset: str
    key: Key
    uid: bool = False


COMMANDS: tuple[type[Command], ...] = tuple(
    cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Command) and cls is not Command
)
