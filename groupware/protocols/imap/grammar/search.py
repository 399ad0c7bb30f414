"""SEARCH, SORT and THREAD (RFC 9051 §6.4.4, RFC 5256, RFC 4731 / RFC 5267 RETURN): search
keys as services/mail/searchkeys.py values. A new key is an entry in one of the tables below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from groupware.protocols.imap.commands import (
    CancelUpdate,
    RecentKey,
    Search,
    SeqKey,
    Sort,
    SortKey,
    Thread,
)
from groupware.protocols.imap.grammar.reader import (
    NUMBER64_MAX,
    ParseError,
    Reader,
    decode,
    show,
)
from groupware.services.mail.searchkeys import (
    All,
    And,
    Date,
    Flag,
    Header,
    Key,
    ModSeq,
    Not,
    Or,
    Size,
    Text,
    Within,
)

MAX_DEPTH = 64  # NOT, OR and "(" nest; deeper searches are refused, not recursed into
# Keys in one command. Each becomes SQL conditions (a few milliseconds to build), and a
# command of literals can carry 20,000 of them: half a minute of one core, refused.
MAX_KEYS = 1000
BADCHARSET = "BADCHARSET (US-ASCII UTF-8)"
CHARSETS = {"US-ASCII": "ascii", "UTF-8": "utf-8"}  # RFC 9051 §6.4.4: both MUST work
# RFC 4731, RFC 5182 SAVE, RFC 5267 UPDATE and PARTIAL
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE", "PARTIAL"})
SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
THREAD_ALGORITHMS = frozenset({"REFERENCES", "ORDEREDSUBJECT"})

_FIXED_KEYS: dict[str, Key] = {
    "ALL": All(),
    "ANSWERED": Flag("\\Answered"),
    "DELETED": Flag("\\Deleted"),
    "DRAFT": Flag("\\Draft"),
    "FLAGGED": Flag("\\Flagged"),
    "SEEN": Flag("\\Seen"),
    "UNANSWERED": Flag("\\Answered", False),
    "UNDELETED": Flag("\\Deleted", False),
    "UNDRAFT": Flag("\\Draft", False),
    "UNFLAGGED": Flag("\\Flagged", False),
    "UNSEEN": Flag("\\Seen", False),
    # RFC 3501 only; RFC 9051 dropped \Recent but old clients still send these.
    "NEW": And((RecentKey(True), Flag("\\Seen", False))),
    "OLD": RecentKey(False),
    "RECENT": RecentKey(True),
}
_HEADER_KEYS = {"BCC": "bcc", "CC": "cc", "FROM": "from", "SUBJECT": "subject", "TO": "to"}
_DateField = Literal["internal", "sent"]
_DateOp = Literal["before", "on", "since"]
_DATE_KEYS: dict[str, tuple[_DateField, _DateOp]] = {
    "BEFORE": ("internal", "before"),
    "ON": ("internal", "on"),
    "SINCE": ("internal", "since"),
    "SENTBEFORE": ("sent", "before"),
    "SENTON": ("sent", "on"),
    "SENTSINCE": ("sent", "since"),
}


class KeyReader:
    """Reads RFC 9051 search-key values, decoding strings in the command's charset."""

    def __init__(self, reader: Reader, encoding: str) -> None:
        self.r = reader
        self.encoding = encoding
        self.count = 0

    def program(self) -> Key:
        """search-key *(SP search-key) to the end of the command; several are an And."""
        keys = self.r.to_end(lambda: self.key(0))
        return keys[0] if len(keys) == 1 else And(keys)

    def key(self, depth: int) -> Key:
        if depth > MAX_DEPTH:
            raise ParseError(f"search keys nested more than {MAX_DEPTH} deep")
        self.count += 1
        if self.count > MAX_KEYS:
            raise ParseError(f"more than {MAX_KEYS} search keys")
        head = self.r.peek()
        if head == b"(":
            keys = self.r.parenthesised(lambda: self.key(depth + 1))
            return keys[0] if len(keys) == 1 else And(keys)
        if head.isdigit() or head in (b"*", b"$"):
            return SeqKey(self.r.sequence_set())
        name = self.r.keyword("a search key")
        if name in _FIXED_KEYS:
            return _FIXED_KEYS[name]
        if name in _HEADER_KEYS:
            return Header(_HEADER_KEYS[name], self.argument())
        if name in _DATE_KEYS:
            self.r.sp()
            return Date(*_DATE_KEYS[name], self.r.date())
        parse = _OTHER_KEYS.get(name)
        if parse is None:
            raise ParseError(f"unknown search key {show(name)}")
        self.r.sp()
        return parse(self, depth)

    def string(self) -> str:
        """astring, decoded in the search charset."""
        return decode(self.r.astring(), "a search string", self.encoding)

    def argument(self) -> str:
        self.r.sp()
        return self.string()


def _header(k: KeyReader, depth: int) -> Key:
    """ "HEADER" SP header-fld-name SP astring."""
    return Header(k.string().lower(), k.argument())


def _modseq(k: KeyReader, depth: int) -> Key:
    """RFC 7162 "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer; the
    entry is read and ignored: one MODSEQ per message serves every flag."""
    if k.r.peek() == b'"':
        name = k.r.string()
        if not name.lower().startswith(b"/flags/"):
            raise ParseError(f"MODSEQ entry name {show(name)} does not start with /flags/")
        k.r.sp()
        if k.r.keyword("an entry type") not in ("PRIV", "SHARED", "ALL"):
            raise ParseError("MODSEQ entry type must be priv, shared or all")
        k.r.sp()
    return ModSeq(k.r.number(NUMBER64_MAX))


_OTHER_KEYS: dict[str, Callable[[KeyReader, int], Key]] = {
    "BODY": lambda k, d: Text(k.string(), "body"),
    "TEXT": lambda k, d: Text(k.string(), "text"),
    "HEADER": _header,
    "KEYWORD": lambda k, d: Flag(k.r.atom("a keyword")),
    "UNKEYWORD": lambda k, d: Flag(k.r.atom("a keyword"), False),
    "LARGER": lambda k, d: Size(True, k.r.number(NUMBER64_MAX)),
    "SMALLER": lambda k, d: Size(False, k.r.number(NUMBER64_MAX)),
    "UID": lambda k, d: SeqKey(k.r.sequence_set(), uid=True),
    "NOT": lambda k, d: Not(k.key(d + 1)),
    "OR": lambda k, d: Or(k.key(d + 1), _then(k, d + 1)),
    "MODSEQ": _modseq,
    "OLDER": lambda k, d: Within(True, k.r.number(nonzero=True)),  # RFC 5032
    "YOUNGER": lambda k, d: Within(False, k.r.number(nonzero=True)),
}


def _then(k: KeyReader, depth: int) -> Key:
    k.r.sp()
    return k.key(depth)


def search_returns(r: Reader) -> tuple[tuple[str, ...] | None, tuple[int, int] | None]:
    """RFC 4731 search-return-opts = SP "RETURN" SP "(" [opt *(SP opt)] ")", read after
    the SP; "RETURN ()" is kept as () (RFC 4731: it means ALL). The second value is
    RFC 5267's PARTIAL range, low first."""
    if not r.accept("RETURN"):
        return None, None
    r.sp()
    ranges: list[tuple[int, int]] = []

    def option() -> str:
        name = r.keyword("a RETURN option")
        if name not in RETURN_OPTIONS:
            raise ParseError(f"unknown RETURN option {show(name)}")
        if name == "PARTIAL":  # RFC 5267 §4.4: partial-range = nz-number ":" nz-number
            r.sp()
            low = r.number(nonzero=True)
            r.expect(b":")
            high = r.number(nonzero=True)
            ranges.append((min(low, high), max(low, high)))
        return name

    returns = r.parenthesised(option, empty=True)
    r.sp()
    return returns, (ranges[0] if ranges else None)


def charset(r: Reader) -> tuple[str, str]:
    """RFC 9051 charset = atom / quoted: (its upper-case name, the Python codec)."""
    if r.peek() == b'"':
        name = r.string().decode("ascii", "replace").upper()
    else:
        name = r.keyword("a charset")
    if name not in CHARSETS:
        raise ParseError(f"unsupported charset {show(name)}", code=BADCHARSET)
    return name, CHARSETS[name]


def parse_search(r: Reader, tag: str, uid: bool) -> Search:
    """RFC 9051 search = "SEARCH" [search-return-opts] SP search-program; search-program =
    ["CHARSET" SP charset SP] search-key *(SP search-key)."""
    r.sp()
    returns, partial = search_returns(r)
    name, encoding = None, "utf-8"
    if r.accept("CHARSET"):
        r.sp()
        name, encoding = charset(r)
        r.sp()
    key = KeyReader(r, encoding).program()
    return Search(tag, key, uid=uid, charset=name, returns=returns, partial=partial)


def _sort_key(r: Reader) -> SortKey:
    """RFC 5256 sort-criterion = ["REVERSE" SP] sort-key; RFC 5957 DISPLAYFROM/DISPLAYTO."""
    reverse = r.accept("REVERSE")
    if reverse:
        r.sp()
    name = r.keyword("a sort key")
    if name not in SORT_KEYS:
        raise ParseError(f"unknown sort key {show(name)}")
    return SortKey(name, reverse)


def parse_sort(r: Reader, tag: str, uid: bool) -> Sort:
    """RFC 5256 sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria; RFC 5267
    ESORT adds search-return-opts before the criteria."""
    r.sp()
    returns, partial = search_returns(r)
    if partial is not None:  # CONTEXT=SORT is not offered
        raise ParseError("PARTIAL is not supported with SORT")
    criteria = r.parenthesised(lambda: _sort_key(r))
    r.sp()
    name, encoding = charset(r)
    r.sp()
    key = KeyReader(r, encoding).program()
    return Sort(tag, criteria, name, key, uid=uid, returns=returns)


def parse_thread(r: Reader, tag: str, uid: bool) -> Thread:
    """RFC 5256 thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria."""
    r.sp()
    algorithm = r.keyword("a thread algorithm")
    if algorithm not in THREAD_ALGORITHMS:
        raise ParseError(f"unknown thread algorithm {show(algorithm)}")
    r.sp()
    name, encoding = charset(r)
    r.sp()
    return Thread(tag, algorithm, name, KeyReader(r, encoding).program(), uid=uid)


def parse_cancelupdate(r: Reader, tag: str) -> CancelUpdate:
    """RFC 5267 §4.3 cancelupdate = "CANCELUPDATE" 1*(SP tag-string); tag-string = string."""
    r.sp()
    return CancelUpdate(tag, r.to_end(lambda: decode(r.string(), "a search tag")))
