"""Mailbox commands (RFC 9051 §6.3 and extensions): SELECT/EXAMINE (QRESYNC), CREATE,
DELETE, RENAME, (UN)SUBSCRIBE, STATUS, GETQUOTA(ROOT). A new option is a set entry.
"""

from __future__ import annotations

from groupware.protocols.imap.commands import (
    STAR,
    Create,
    Delete,
    GetQuota,
    GetQuotaRoot,
    Rename,
    Select,
    SequenceSet,
    Status,
    Subscribe,
)
from groupware.protocols.imap.grammar.reader import (
    NUMBER64_MAX,
    ParseError,
    Reader,
    decode,
    show,
)

QResync = tuple[int, int, SequenceSet | None, tuple[SequenceSet, SequenceSet] | None]

STATUS_ITEMS = frozenset(
    {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "HIGHESTMODSEQ"}
    | {"DELETED", "APPENDLIMIT"}
)


def parse_select(r: Reader, tag: str, readonly: bool = False) -> Select:
    """RFC 9051 select = "SELECT" SP mailbox [select-params]; RFC 4466 select-params =
    SP "(" select-param *(SP select-param) ")"; RFC 7162 "CONDSTORE" / "QRESYNC" ..."""
    r.sp()
    mailbox = r.mailbox()
    condstore, qresync = False, None

    def param() -> None:
        nonlocal condstore, qresync
        name = r.keyword("a SELECT parameter")
        if name == "CONDSTORE":
            condstore = True
        elif name == "QRESYNC":
            r.sp()
            qresync = _qresync(r)
        else:
            raise ParseError(f"unknown SELECT parameter {show(name)}")

    if not r.done():
        r.sp()
        r.parenthesised(param)
    return Select(tag, mailbox, readonly, condstore, qresync)


def _qresync(r: Reader) -> QResync:
    """RFC 7162 "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data]
    ")"; seq-match-data = "(" known-sequence-set SP known-uid-set ")"."""
    r.expect(b"(")
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number(NUMBER64_MAX, nonzero=True)
    known = matching = None
    if r.peek() == b" " and r.peek(2) != b" (":
        r.sp()
        known = _known_set(r)
    if r.peek() == b" ":
        r.sp()
        r.expect(b"(")
        numbers = _known_set(r)
        r.sp()
        matching = (numbers, _known_set(r))
        r.expect(b")")
    r.expect(b")")
    return uidvalidity, modseq, known, matching


def _known_set(r: Reader) -> SequenceSet:
    """RFC 7162 known-uids, known-sequence-set, known-uid-set: no "*" (nor "$")."""
    numbers = r.sequence_set()
    if numbers.saved or any(STAR in pair for pair in numbers.ranges):
        raise ParseError("'*' and '$' are not allowed in QRESYNC sets")
    return numbers


def parse_create(r: Reader, tag: str) -> Create:
    """RFC 9051 create = "CREATE" SP mailbox; RFC 4466 create-params = SP "(" create-param
    *(SP create-param) ")"; RFC 6154 "USE" SP "(" [use-attr *(SP use-attr)] ")"."""
    r.sp()
    mailbox = r.mailbox()
    uses: list[str] = []

    def param() -> None:
        if not r.accept("USE"):
            raise r.error("USE")
        r.sp()
        uses.extend(r.parenthesised(lambda: _use_attr(r), empty=True))

    if not r.done():
        r.sp()
        r.parenthesised(param)
    return Create(tag, mailbox, tuple(uses))


def _use_attr(r: Reader) -> str:
    """RFC 6154 use-attr = "\\All" / "\\Archive" / ... / use-attr-ext ("\\" atom)."""
    name = r.flag()
    if not name.startswith("\\"):
        raise ParseError(f"special-use attribute {show(name)} does not start with \\")
    return name


def parse_delete(r: Reader, tag: str) -> Delete:
    """RFC 9051 delete = "DELETE" SP mailbox."""
    r.sp()
    return Delete(tag, r.mailbox())


def parse_rename(r: Reader, tag: str) -> Rename:
    """RFC 9051 rename = "RENAME" SP mailbox SP mailbox."""
    r.sp()
    old = r.mailbox()
    r.sp()
    return Rename(tag, old, r.mailbox())


def parse_subscribe(r: Reader, tag: str, subscribe: bool = True) -> Subscribe:
    """RFC 9051 subscribe = "SUBSCRIBE" SP mailbox; unsubscribe likewise."""
    r.sp()
    return Subscribe(tag, r.mailbox(), subscribe)


def parse_status(r: Reader, tag: str) -> Status:
    """RFC 9051 status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"."""
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Status(tag, mailbox, status_items(r))


def status_items(r: Reader) -> tuple[str, ...]:
    items = r.parenthesised(lambda: r.keyword("a STATUS item"))
    unknown = set(items) - STATUS_ITEMS
    if unknown:
        raise ParseError(f"unknown STATUS item {show(min(unknown))}")
    return items


def parse_getquota(r: Reader, tag: str) -> GetQuota:
    """RFC 9208 getquota = "GETQUOTA" SP quota-root-name; quota-root-name = astring."""
    r.sp()
    return GetQuota(tag, decode(r.astring(), "the quota root"))


def parse_getquotaroot(r: Reader, tag: str) -> GetQuotaRoot:
    """RFC 9208 getquotaroot = "GETQUOTAROOT" SP mailbox."""
    r.sp()
    return GetQuotaRoot(tag, r.mailbox())
