"""The IMAP grammar for SEARCH, SORT and THREAD (and their UID forms): search keys as
services.searchkeys values, charsets, RETURN options; tables of input and result.
"""

from __future__ import annotations

from datetime import date

import pytest

from groupware.protocols.imap.commands import (
    STAR,
    CancelUpdate,
    RecentKey,
    Search,
    SeqKey,
    SequenceSet,
    Sort,
    SortKey,
    Thread,
)
from groupware.protocols.imap.grammar import ParseError, parse_command
from groupware.protocols.imap.grammar.search import MAX_KEYS
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

SEEN, UNSEEN = Flag("\\Seen"), Flag("\\Seen", False)


def key_of(keys: str) -> Key:
    command = parse_command([b"a SEARCH " + keys.encode()])
    assert isinstance(command, Search)
    return command.key


KEYS = [
    ("ALL", All()),
    ("all", All()),
    ("ANSWERED", Flag("\\Answered")),
    ("UNANSWERED", Flag("\\Answered", False)),
    ("DELETED", Flag("\\Deleted")),
    ("UNDELETED", Flag("\\Deleted", False)),
    ("DRAFT", Flag("\\Draft")),
    ("UNDRAFT", Flag("\\Draft", False)),
    ("FLAGGED", Flag("\\Flagged")),
    ("UNFLAGGED", Flag("\\Flagged", False)),
    ("SEEN", SEEN),
    ("UNSEEN", UNSEEN),
    ("KEYWORD $Forwarded", Flag("$Forwarded")),
    ("UNKEYWORD Junk", Flag("Junk", False)),
    ("NEW", And((RecentKey(True), UNSEEN))),
    ("OLD", RecentKey(False)),
    ("RECENT", RecentKey(True)),
    ("FROM fred", Header("from", "fred")),
    ('TO "a b"', Header("to", "a b")),
    ("CC x", Header("cc", "x")),
    ("BCC x", Header("bcc", "x")),
    ('SUBJECT ""', Header("subject", "")),
    ('SUBJECT "Grüße"', Header("subject", "Grüße")),
    ("HEADER X-Mailer mutt", Header("x-mailer", "mutt")),
    ('HEADER Message-ID ""', Header("message-id", "")),
    ("BODY hello", Text("hello", "body")),
    ('TEXT "hello world"', Text("hello world", "text")),
    ("BEFORE 1-Feb-2024", Date("internal", "before", date(2024, 2, 1))),
    ("ON 01-feb-2024", Date("internal", "on", date(2024, 2, 1))),
    ('SINCE "29-FEB-2024"', Date("internal", "since", date(2024, 2, 29))),
    ("SENTBEFORE 1-Jan-2000", Date("sent", "before", date(2000, 1, 1))),
    ("SENTON 31-Dec-1999", Date("sent", "on", date(1999, 12, 31))),
    ("SENTSINCE 15-Jul-2023", Date("sent", "since", date(2023, 7, 15))),
    ("LARGER 1024", Size(True, 1024)),
    ("SMALLER 0", Size(False, 0)),
    ("LARGER 9223372036854775807", Size(True, 2**63 - 1)),
    ("UID 1:100", SeqKey(SequenceSet(((1, 100),)), uid=True)),
    ("UID $", SeqKey(SequenceSet((), saved=True), uid=True)),
    ("1:5,7", SeqKey(SequenceSet(((1, 5), (7, 7))))),
    ("*", SeqKey(SequenceSet(((STAR, STAR),)))),
    ("$", SeqKey(SequenceSet((), saved=True))),
    ("MODSEQ 620162338", ModSeq(620162338)),
    ("MODSEQ 0", ModSeq(0)),
    ('MODSEQ "/flags/\\\\draft" all 620162338', ModSeq(620162338)),
    ('MODSEQ "/flags/$Label" PRIV 5', ModSeq(5)),
    ("OLDER 3600", Within(True, 3600)),
    ("YOUNGER 60", Within(False, 60)),
    ("NOT SEEN", Not(SEEN)),
    ("NOT NOT SEEN", Not(Not(SEEN))),
    ("OR SEEN FLAGGED", Or(SEEN, Flag("\\Flagged"))),
    ("OR OR SEEN DELETED DRAFT", Or(Or(SEEN, Flag("\\Deleted")), Flag("\\Draft"))),
    ("OR SEEN OR DELETED DRAFT", Or(SEEN, Or(Flag("\\Deleted"), Flag("\\Draft")))),
    ("(SEEN)", SEEN),
    ("((SEEN))", SEEN),
    ("(SEEN FLAGGED)", And((SEEN, Flag("\\Flagged")))),
    ("SEEN FLAGGED", And((SEEN, Flag("\\Flagged")))),
    ("NOT (FROM a TO b)", Not(And((Header("from", "a"), Header("to", "b"))))),
    (
        "OR (FROM a TO b) NOT (1:3 UID 7)",
        Or(
            And((Header("from", "a"), Header("to", "b"))),
            Not(And((SeqKey(SequenceSet(((1, 3),))), SeqKey(SequenceSet(((7, 7),)), uid=True)))),
        ),
    ),
    (
        "1:* UNDELETED SINCE 1-Jan-2024 OR (SUBJECT x) (BODY y)",
        And(
            (
                SeqKey(SequenceSet(((1, STAR),))),
                Flag("\\Deleted", False),
                Date("internal", "since", date(2024, 1, 1)),
                Or(Header("subject", "x"), Text("y", "body")),
            )
        ),
    ),
]


@pytest.mark.parametrize(("keys", "expected"), KEYS)
def test_search_keys(keys: str, expected: Key) -> None:
    assert key_of(keys) == expected


SEARCHES = [
    ("a SEARCH ALL", Search("a", All())),
    ("a UID SEARCH ALL", Search("a", All(), uid=True)),
    ("a SEARCH CHARSET UTF-8 ALL", Search("a", All(), charset="UTF-8")),
    ("a SEARCH charset us-ascii ALL", Search("a", All(), charset="US-ASCII")),
    ('a SEARCH CHARSET "UTF-8" ALL', Search("a", All(), charset="UTF-8")),
    ("a SEARCH RETURN (MIN MAX) ALL", Search("a", All(), returns=("MIN", "MAX"))),
    ("a SEARCH RETURN () ALL", Search("a", All(), returns=())),
    # RFC 5267: UPDATE, and PARTIAL with its range (kept low first)
    ("a SEARCH RETURN (UPDATE ALL) SEEN", Search("a", SEEN, returns=("UPDATE", "ALL"))),
    (
        "a SEARCH RETURN (partial 4:2) ALL",
        Search("a", All(), returns=("PARTIAL",), partial=(2, 4)),
    ),
    (
        "a UID SEARCH RETURN (COUNT PARTIAL 1:100) ALL",
        Search("a", All(), uid=True, returns=("COUNT", "PARTIAL"), partial=(1, 100)),
    ),
    ('a CANCELUPDATE "a1"', CancelUpdate("a", ("a1",))),
    ('a CANCELUPDATE "a1" "b2"', CancelUpdate("a", ("a1", "b2"))),
    (
        "a SEARCH return (all count save) CHARSET UTF-8 SEEN",
        Search("a", SEEN, charset="UTF-8", returns=("ALL", "COUNT", "SAVE")),
    ),
    (
        "a UID SEARCH RETURN (SAVE) UID 1:*",
        Search("a", SeqKey(SequenceSet(((1, STAR),)), uid=True), uid=True, returns=("SAVE",)),
    ),
    ("a SORT (DATE) UTF-8 ALL", Sort("a", (SortKey("DATE"),), "UTF-8", All())),
    (
        "a UID SORT (REVERSE ARRIVAL cc from SIZE SUBJECT TO DISPLAYFROM reverse DISPLAYTO) "
        "us-ascii SEEN UNDELETED",
        Sort(
            "a",
            (
                SortKey("ARRIVAL", True),
                SortKey("CC"),
                SortKey("FROM"),
                SortKey("SIZE"),
                SortKey("SUBJECT"),
                SortKey("TO"),
                SortKey("DISPLAYFROM"),
                SortKey("DISPLAYTO", True),
            ),
            "US-ASCII",
            And((SEEN, Flag("\\Deleted", False))),
            uid=True,
        ),
    ),
    (
        "a SORT RETURN (MIN COUNT) (SUBJECT) UTF-8 ALL",
        Sort("a", (SortKey("SUBJECT"),), "UTF-8", All(), returns=("MIN", "COUNT")),
    ),
    ("a THREAD REFERENCES UTF-8 ALL", Thread("a", "REFERENCES", "UTF-8", All())),
    (
        "a UID THREAD orderedsubject US-ASCII SINCE 1-Jan-2024",
        Thread(
            "a", "ORDEREDSUBJECT", "US-ASCII", Date("internal", "since", date(2024, 1, 1)), uid=True
        ),
    ),
]

LINES = [line for line, _ in SEARCHES]


@pytest.mark.parametrize(("line", "expected"), SEARCHES)
def test_parse(line: str, expected: object) -> None:
    assert parse_command([line.encode()]) == expected


def test_search_strings_may_be_literals() -> None:
    parts = [b"a SEARCH CHARSET UTF-8 SUBJECT {6}", "Grüß".encode(), b" TEXT {3+}", b"a b", b""]
    assert parse_command(parts) == Search(
        "a", And((Header("subject", "Grüß"), Text("a b"))), charset="UTF-8"
    )


def test_search_depth_limit() -> None:
    assert key_of("NOT " * 60 + "ALL") is not None
    assert key_of("(" * 60 + "ALL" + ")" * 60) == All()
    for deep in ("NOT " * 100 + "ALL", "(" * 100 + "ALL" + ")" * 100, "OR " * 100 + "ALL"):
        with pytest.raises(ParseError, match="nested"):
            key_of(deep)
    with pytest.raises(ParseError, match="nested"):
        key_of("NOT " * 100_000 + "ALL")


def test_search_key_count_limit() -> None:
    """Found by timing fuzz inputs: 16,000 TEXT keys sent as literals (within the line
    limits) took half a minute of SQL building in services.search."""
    assert key_of(" ".join(["SEEN"] * MAX_KEYS)) == And((SEEN,) * MAX_KEYS)
    with pytest.raises(ParseError, match=f"more than {MAX_KEYS} search keys"):
        key_of(" ".join(["SEEN"] * (MAX_KEYS + 1)))
    pieces = [b"a SEARCH TEXT {1}"] + [b"x", b" TEXT {1}"] * 16_000 + [b"x", b""]
    with pytest.raises(ParseError, match="search keys"):
        parse_command(pieces)


REFUSED = [
    ("a SEARCH", "missing"),
    ("a SEARCH ", "space"),
    ("a SEARCH ALL ", "space"),
    ("a SEARCH ALL  SEEN", "double space"),
    ("a SEARCH FOO", "unknown search key 'FOO'"),
    ("a SEARCH RETURN (MIN)", "missing"),
    ("a SEARCH RETURN (FOO) ALL", "unknown RETURN option"),
    ("a SEARCH RETURN MIN ALL", "'('"),
    ("a SEARCH RETURN (PARTIAL) ALL", "expected ' '"),
    ("a SEARCH RETURN (PARTIAL 1) ALL", "':'"),
    ("a SEARCH RETURN (PARTIAL 1:*) ALL", "number"),
    ("a SEARCH RETURN (PARTIAL 0:3) ALL", "number"),
    ("a SEARCH RETURN (PARTIAL -1:3) ALL", "number"),
    ("a SORT RETURN (PARTIAL 1:3) (DATE) UTF-8 ALL", "PARTIAL"),
    ("a CANCELUPDATE", "missing"),
    ("a CANCELUPDATE a1", "string"),
    ("a SEARCH CHARSET", "missing"),
    ("a SEARCH CHARSET UTF-8", "missing"),
    ("a SEARCH ALL CHARSET UTF-8", "unknown search key 'CHARSET'"),
    ("a SEARCH (", "search key"),
    ("a SEARCH ()", "search key"),
    ("a SEARCH (ALL", "')'"),
    ("a SEARCH ALL)", "' '"),
    ("a SEARCH (ALL))", "' '"),
    ("a SEARCH ( ALL)", "search key"),
    ("a SEARCH (ALL )", "space"),
    ("a SEARCH NOT", "missing"),
    ("a SEARCH OR SEEN", "missing"),
    ("a SEARCH OR SEEN ", "space"),
    ("a SEARCH FROM", "missing"),
    ("a SEARCH FROM (x)", "string"),
    ("a SEARCH HEADER X-Foo", "missing"),
    ('a SEARCH SUBJECT "\xff"', "not valid UTF-8"),
    ('a SEARCH CHARSET US-ASCII SUBJECT "\xc3\xa9"', "not valid ASCII"),
    ("a SEARCH KEYWORD \\Seen", "keyword"),
    ("a SEARCH KEYWORD", "missing"),
    ("a SEARCH LARGER x", "number"),
    ("a SEARCH LARGER -1", "number"),
    ("a SEARCH LARGER 9223372036854775808", "larger than"),
    ("a SEARCH SINCE 2024-02-01", "date"),
    ("a SEARCH SINCE 1-Feb-24", "date"),
    ("a SEARCH SINCE 1-Febr-2024", "date"),
    ("a SEARCH SINCE 1-Foo-2024", "unknown month"),
    ("a SEARCH SINCE 30-Feb-2024", "no such date"),
    ("a SEARCH SINCE 0-Feb-2024", "no such date"),
    ("a SEARCH SINCE 1-Feb-0000", "no such date"),
    ("a SEARCH SINCE 123-Feb-2024", "date"),
    ("a SEARCH SINCE 1-Feb-20245", "' '"),
    ('a SEARCH SINCE "1-Feb-2024', "'\"'"),
    ("a SEARCH UID", "missing"),
    ("a SEARCH UID 0", "sequence set"),
    ("a SEARCH 0", "sequence set"),
    ("a SEARCH 1:5x", "' '"),
    ("a SEARCH $x", "' '"),
    ("a SEARCH MODSEQ", "missing"),
    ("a SEARCH MODSEQ -1", "number"),
    ('a SEARCH MODSEQ "/flags/\\\\draft" 5', "entry type"),
    ('a SEARCH MODSEQ "/flags/\\\\draft" foo 5', "priv, shared or all"),
    ('a SEARCH MODSEQ "/meta/x" all 5', "/flags/"),
    ("a SEARCH OLDER 0", "from 1"),
    ("a SEARCH YOUNGER", "missing"),
    ("a SEARCH SEEN NOT", "missing"),
    ("a SORT", "missing"),
    ("a SORT DATE UTF-8 ALL", "'('"),
    ("a SORT () UTF-8 ALL", "sort key"),
    ("a SORT (FOO) UTF-8 ALL", "unknown sort key 'FOO'"),
    ("a SORT (REVERSE) UTF-8 ALL", "' '"),
    ("a SORT (REVERSE REVERSE DATE) UTF-8 ALL", "unknown sort key 'REVERSE'"),
    ("a SORT (DATE) UTF-8", "missing"),
    ("a SORT (DATE) UTF-8 RETURN (ALL) ALL", "unknown search key 'RETURN'"),
    ("a THREAD", "missing"),
    ("a THREAD REFS UTF-8 ALL", "unknown thread algorithm"),
    ("a THREAD REFERENCES UTF-8", "missing"),
]


@pytest.mark.parametrize(("line", "message"), REFUSED)
def test_refused(line: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command([line.encode("latin-1")])
    assert caught.value.tag == "a"
    assert caught.value.code is None
    assert message in caught.value.message


@pytest.mark.parametrize(
    "line",
    [
        "a SEARCH CHARSET KOI8-R ALL",
        'a SEARCH CHARSET "ISO-8859-1" ALL',
        "a SORT (DATE) UTF-16 ALL",
        "a THREAD REFERENCES x ALL",
        "a SORT (DATE) ALL",
        "a THREAD REFERENCES ALL",
        'a SEARCH CHARSET "\xff" ALL',
    ],
)
def test_bad_charset(line: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command([line.encode("latin-1")])
    assert (caught.value.tag, caught.value.code) == ("a", "BADCHARSET (US-ASCII UTF-8)")
