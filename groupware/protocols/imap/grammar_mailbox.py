"""Mailbox commands (RFC 9051 §6.3 and extensions): SELECT/EXAMINE, CREATE, DELETE, RENAME,
(UN)SUBSCRIBE, LIST, LSUB, STATUS, APPEND, GETQUOTA(ROOT). A new option is a set entry.
"""

from __future__ import annotations

from groupware.protocols.imap.commands import (
    STAR,
    Append,
    AppendMessage,
    Catenate,
    Create,
    Delete,
    GetQuota,
    GetQuotaRoot,
    List,
    Rename,
    Select,
    SequenceSet,
    Spooled,
    Status,
    Subscribe,
)
from groupware.protocols.imap.grammar_reader import (
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
LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURNS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})
_BASE_SELECTION = frozenset({"SUBSCRIBED", "SPECIAL-USE"})  # what RECURSIVEMATCH needs


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


def parse_list(r: Reader, tag: str) -> List:
    """RFC 5258 list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    [SP list-return-opts]; mbox-or-pat = list-mailbox / "(" list-mailbox *(SP ...) ")"."""
    r.sp()
    selection: tuple[str, ...] = ()
    if r.peek() == b"(":
        selection = r.parenthesised(lambda: _option(r, LIST_SELECTION, "selection"), empty=True)
        r.sp()
    # RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) gets BAD.
    if "RECURSIVEMATCH" in selection and not _BASE_SELECTION & set(selection):
        raise ParseError("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE")
    reference = r.mailbox()
    r.sp()
    patterns = r.parenthesised(r.list_mailbox) if r.peek() == b"(" else (r.list_mailbox(),)
    returns: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    if not r.done():
        r.sp()
        returns, items = _list_returns(r)
    return List(tag, reference, patterns, selection, returns, items)


def _option(r: Reader, known: frozenset[str], kind: str) -> str:
    name = r.keyword(f"a LIST {kind} option")
    if name not in known:
        raise ParseError(f"unknown LIST {kind} option {show(name)}")
    return name


def _list_returns(r: Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """RFC 5258 list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")";
    RFC 5819 status-option = "STATUS" SP "(" status-att *(SP status-att) ")"."""
    if not r.accept("RETURN"):
        raise r.error("RETURN")
    r.sp()
    items: tuple[str, ...] = ()

    def option() -> str:
        nonlocal items
        name = _option(r, LIST_RETURNS, "return")
        if name == "STATUS":
            r.sp()
            items = _status_items(r)
        return name

    returns = r.parenthesised(option, empty=True)
    return returns, items


def parse_lsub(r: Reader, tag: str) -> List:
    """RFC 3501 lsub = "LSUB" SP mailbox SP list-mailbox."""
    r.sp()
    reference = r.mailbox()
    r.sp()
    return List(tag, reference, (r.list_mailbox(),), lsub=True)


def parse_status(r: Reader, tag: str) -> Status:
    """RFC 9051 status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"."""
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Status(tag, mailbox, _status_items(r))


def _status_items(r: Reader) -> tuple[str, ...]:
    items = r.parenthesised(lambda: r.keyword("a STATUS item"))
    unknown = set(items) - STATUS_ITEMS
    if unknown:
        raise ParseError(f"unknown STATUS item {show(min(unknown))}")
    return items


def parse_append(r: Reader, tag: str) -> Append:
    """RFC 3502 append = "APPEND" SP mailbox 1*append-message; append-message =
    append-opts SP append-data (RFC 9051 APPEND is the one-message case)."""
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Append(tag, mailbox, r.to_end(lambda: _append_message(r)))


def _append_message(r: Reader) -> AppendMessage:
    """[flag-list SP] [date-time SP] append-data; append-data = literal / literal8
    (RFC 3516) / "UTF8" SP "(" literal8 ")" (RFC 6855)."""
    flags: tuple[str, ...] = ()
    if r.peek() == b"(":
        flags = r.flag_list()
        r.sp()
    when = None
    if r.peek() == b'"':
        when = r.date_time()
        r.sp()
    if r.accept("CATENATE"):  # RFC 4469 append-data =/ "CATENATE" SP "(" cat-part ...")"
        r.sp()
        return AppendMessage(Catenate(r.parenthesised(lambda: _cat_part(r))), flags, when)
    if r.accept("UTF8"):
        r.sp()
        r.expect(b"(")
        data, binary = r.any_literal()
        if not binary:
            raise ParseError("APPEND UTF8 needs a binary literal ~{n}")
        r.expect(b")")
        return AppendMessage(data, flags, when, utf8=True)
    # A bare literal8 (RFC 3516 BINARY) is taken like a literal: AppendMessage has no field
    # to tell them apart, and its message may hold NUL octets.
    data, _binary = r.any_literal()
    return AppendMessage(data, flags, when)


def _cat_part(r: Reader) -> bytes | Spooled | str:
    """RFC 4469 cat-part = text-literal / url; text-literal = "TEXT" SP literal;
    url = "URL" SP astring (RFC 3516 allows a literal8 for TEXT)."""
    if r.accept("TEXT"):
        r.sp()
        return r.any_literal()[0]
    if r.accept("URL"):
        r.sp()
        return decode(r.astring(), "a URL")
    raise r.error("TEXT or URL")


def parse_getquota(r: Reader, tag: str) -> GetQuota:
    """RFC 9208 getquota = "GETQUOTA" SP quota-root-name; quota-root-name = astring."""
    r.sp()
    return GetQuota(tag, decode(r.astring(), "the quota root"))


def parse_getquotaroot(r: Reader, tag: str) -> GetQuotaRoot:
    """RFC 9208 getquotaroot = "GETQUOTAROOT" SP mailbox."""
    r.sp()
    return GetQuotaRoot(tag, r.mailbox())
