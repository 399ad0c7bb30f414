"""The IMAP grammar: session and mailbox commands, tags, literals and literal_request.

Tables of wire input and the commands.py value (or the ParseError) it must give. FETCH,
STORE, COPY, MOVE, EXPUNGE are in test_grammar_selected.py, SEARCH, SORT, THREAD in
test_grammar_search.py, the hypothesis properties in test_grammar_properties.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from groupware.protocols.imap.commands import (
    Append,
    AppendMessage,
    Authenticate,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Create,
    Delete,
    Enable,
    FetchAttr,
    GetQuota,
    GetQuotaRoot,
    Id,
    Idle,
    List,
    Login,
    Logout,
    Namespace,
    Noop,
    Notify,
    NotifyFilter,
    Rename,
    Select,
    SequenceSet,
    Spooled,
    StartTLS,
    Status,
    Subscribe,
    Unselect,
)
from groupware.protocols.imap.grammar import (
    LiteralRequest,
    ParseError,
    literal_request,
    parse_command,
)

SPOOLED = Spooled(Path("/tmp/spooled-literal"), 70_000)


def parse(*parts: bytes | str | Spooled) -> Command:
    return parse_command([part.encode() if isinstance(part, str) else part for part in parts])


def refused(*parts: bytes | str | Spooled) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(*parts)
    return caught.value


def seqs(*ranges: tuple[int, int]) -> SequenceSet:
    return SequenceSet(tuple(ranges))


SESSION = [
    ("a CAPABILITY", Capability("a")),
    ("a1 capability", Capability("a1")),
    ("A.b-c_d NOOP", Noop("A.b-c_d")),
    ("x] NOOP", Noop("x]")),  # "]" is an ASTRING-CHAR, allowed in tags
    ("a LOGOUT", Logout("a")),
    ("a STARTTLS", StartTLS("a")),
    ("a NAMESPACE", Namespace("a")),
    ("a IDLE", Idle("a")),
    ("a CHECK", Check("a")),
    ("a CLOSE", Close("a")),
    ("a UNSELECT", Unselect("a")),
    ("a ID NIL", Id("a", None)),
    ("a ID nil", Id("a", None)),
    ("a ID ()", Id("a", ())),
    ('a ID ("name" "Thunderbird")', Id("a", (("name", "Thunderbird"),))),
    ('a ID ("name" "x" "version" NIL)', Id("a", (("name", "x"), ("version", None)))),
    ("a ENABLE CONDSTORE", Enable("a", ("CONDSTORE",))),
    ("a ENABLE qresync utf8=accept", Enable("a", ("QRESYNC", "UTF8=ACCEPT"))),
    ("a COMPRESS deflate", Compress("a", "DEFLATE")),
    ("a LOGIN fred secret", Login("a", "fred", "secret")),
    ('a LOGIN "fred smith" "p\\"a\\\\ss"', Login("a", "fred smith", 'p"a\\ss')),
    ('a LOGIN "" ""', Login("a", "", "")),
    ('a LOGIN "jürgen" "pässword"', Login("a", "jürgen", "pässword")),
    ("a login fred]x pass[0]", Login("a", "fred]x", "pass[0]")),
    ("a AUTHENTICATE plain", Authenticate("a", "PLAIN")),
    ("a AUTHENTICATE PLAIN =", Authenticate("a", "PLAIN", b"")),
    ("a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0", Authenticate("a", "PLAIN", b"\0fred\0secret")),
    ("a AUTHENTICATE XOAUTH2 YWI=", Authenticate("a", "XOAUTH2", b"ab")),
    ("a AUTHENTICATE SCRAM-SHA-256 YWJj", Authenticate("a", "SCRAM-SHA-256", b"abc")),
]

MAILBOXES = [
    ("a SELECT INBOX", Select("a", "INBOX")),
    ("a select inbox", Select("a", "inbox")),  # the session folds INBOX's case
    ('a SELECT "Sent Items"', Select("a", "Sent Items")),
    ("a SELECT &AOQ-", Select("a", "&AOQ-")),  # modified UTF-7 kept as given
    ('a SELECT "Entwürfe"', Select("a", "Entwürfe")),  # RFC 6855 UTF8=ACCEPT
    ("a EXAMINE INBOX", Select("a", "INBOX", readonly=True)),
    ("a SELECT INBOX (CONDSTORE)", Select("a", "INBOX", condstore=True)),
    ("a EXAMINE x (condstore)", Select("a", "x", readonly=True, condstore=True)),
    (
        "a SELECT INBOX (QRESYNC (67890007 20050715194045000))",
        Select("a", "INBOX", qresync=(67890007, 20050715194045000, None, None)),
    ),
    (
        "a SELECT INBOX (QRESYNC (1 2 41,43:211,214:541))",
        Select("a", "INBOX", qresync=(1, 2, seqs((41, 41), (43, 211), (214, 541)), None)),
    ),
    (
        "a SELECT INBOX (QRESYNC (1 2 1:9 (1,3 10,30)))",
        Select(
            "a",
            "INBOX",
            qresync=(1, 2, seqs((1, 9)), (seqs((1, 1), (3, 3)), seqs((10, 10), (30, 30)))),
        ),
    ),
    (
        "a SELECT INBOX (QRESYNC (1 2 (1 10)))",
        Select("a", "INBOX", qresync=(1, 2, None, (seqs((1, 1)), seqs((10, 10))))),
    ),
    (
        "a SELECT INBOX (CONDSTORE QRESYNC (1 2))",
        Select("a", "INBOX", condstore=True, qresync=(1, 2, None, None)),
    ),
    ("a CREATE foo", Create("a", "foo")),
    ("a CREATE foo/bar/", Create("a", "foo/bar/")),
    ("a CREATE Sent (USE (\\Sent))", Create("a", "Sent", ("\\Sent",))),
    ("a CREATE x (USE (\\Archive \\Junk))", Create("a", "x", ("\\Archive", "\\Junk"))),
    ("a CREATE x (USE ())", Create("a", "x")),
    ("a DELETE foo", Delete("a", "foo")),
    ("a RENAME foo bar", Rename("a", "foo", "bar")),
    ('a RENAME "a b" "c d"', Rename("a", "a b", "c d")),
    ("a SUBSCRIBE foo", Subscribe("a", "foo")),
    ("a UNSUBSCRIBE foo", Subscribe("a", "foo", subscribe=False)),
    ('a LIST "" *', List("a", "", ("*",))),
    ('a LIST "" ""', List("a", "", ("",))),
    ("a LIST ~/Mail/ %", List("a", "~/Mail/", ("%",))),
    ('a LIST "" INBOX.%]*', List("a", "", ("INBOX.%]*",))),
    ('a LIST "" ("INBOX" Drafts*)', List("a", "", ("INBOX", "Drafts*"))),
    ('a LIST (SUBSCRIBED) "" *', List("a", "", ("*",), selection=("SUBSCRIBED",))),
    ('a LIST () "" *', List("a", "", ("*",))),
    (
        'a list (subscribed recursivematch remote) "" %',
        List("a", "", ("%",), selection=("SUBSCRIBED", "RECURSIVEMATCH", "REMOTE")),
    ),
    ('a LIST (SPECIAL-USE) "" *', List("a", "", ("*",), selection=("SPECIAL-USE",))),
    ('a LIST "" % RETURN (CHILDREN)', List("a", "", ("%",), returns=("CHILDREN",))),
    ('a LIST "" % RETURN ()', List("a", "", ("%",))),
    (
        'a LIST "" % RETURN (SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UIDNEXT))',
        List(
            "a",
            "",
            ("%",),
            returns=("SUBSCRIBED", "SPECIAL-USE", "STATUS"),
            status_items=("MESSAGES", "UIDNEXT"),
        ),
    ),
    ('a LSUB "" *', List("a", "", ("*",), lsub=True)),
    ("a LSUB #news. comp.mail.*", List("a", "#news.", ("comp.mail.*",), lsub=True)),
    ("a STATUS INBOX (MESSAGES)", Status("a", "INBOX", ("MESSAGES",))),
    (
        "a STATUS blurdybloop (uidnext messages highestmodseq size deleted appendlimit)",
        Status(
            "a",
            "blurdybloop",
            ("UIDNEXT", "MESSAGES", "HIGHESTMODSEQ", "SIZE", "DELETED", "APPENDLIMIT"),
        ),
    ),
    (
        "a STATUS x (RECENT UIDVALIDITY UNSEEN)",
        Status("a", "x", ("RECENT", "UIDVALIDITY", "UNSEEN")),
    ),
    ('a GETQUOTA ""', GetQuota("a", "")),
    ("a GETQUOTA user/fred", GetQuota("a", "user/fred")),
    ("a GETQUOTAROOT INBOX", GetQuotaRoot("a", "INBOX")),
    # RFC 5465 NOTIFY
    ("a NOTIFY NONE", Notify("a", None)),
    (
        "a notify set status (selected (MessageNew messageexpunge)) (personal NONE)",
        Notify(
            "a",
            (
                NotifyFilter("SELECTED", ("MessageNew", "MessageExpunge")),
                NotifyFilter("PERSONAL", ()),
            ),
            status=True,
        ),
    ),
    (
        'a NOTIFY SET (SUBTREE ("Lists" x) (MailboxName)) (MAILBOXES INBOX (MessageNew '
        "MessageExpunge FlagChange)) (SUBSCRIBED (SubscriptionChange)) (INBOXES (Foo))",
        Notify(
            "a",
            (
                NotifyFilter("SUBTREE", ("MailboxName",), ("Lists", "x")),
                NotifyFilter(
                    "MAILBOXES", ("MessageNew", "MessageExpunge", "FlagChange"), ("INBOX",)
                ),
                NotifyFilter("SUBSCRIBED", ("SubscriptionChange",)),
                NotifyFilter("INBOXES", ("FOO",)),
            ),
        ),
    ),
    (
        "a NOTIFY SET (SELECTED-DELAYED (MessageNew (UID FLAGS) MessageExpunge))",
        Notify(
            "a",
            (
                NotifyFilter(
                    "SELECTED-DELAYED",
                    ("MessageNew", "MessageExpunge"),
                    new_fetch=(FetchAttr("UID"), FetchAttr("FLAGS")),
                ),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), SESSION + MAILBOXES)
def test_parse(line: str, expected: Command) -> None:
    assert parse(line) == expected


def test_every_command_class_is_parsed() -> None:
    """commands.COMMANDS against what the tables here and in the sibling files produce."""
    from groupware.protocols.imap import commands
    from tests.unit.imap import test_grammar_search, test_grammar_selected

    seen = {type(command) for _, command in SESSION + MAILBOXES}
    seen |= {type(parse(line)) for line in test_grammar_selected.LINES}
    seen |= {type(parse(line)) for line in test_grammar_search.LINES}
    seen.add(Append)
    assert set(commands.COMMANDS) == seen


# -- literals ------------------------------------------------------------------------------

LITERALS = [
    (["a LOGIN {4}", b"fred", " {6}", b"secret", ""], Login("a", "fred", "secret")),
    (["a LOGIN {4+}", b"fred", " {6+}", b"sec et", ""], Login("a", "fred", "sec et")),
    (["a LOGIN fred {0}", b"", ""], Login("a", "fred", "")),
    (["a LOGIN {5}", "jörg".encode(), " x"], Login("a", "jörg", "x")),
    (["a LOGIN {3}", b'"\\ ', " x"], Login("a", '"\\ ', "x")),  # literals are not unescaped
    (["a SELECT {5}", b"a\r\nb)", ""], Select("a", "a\r\nb)")),
    (["a RENAME {1}", b"x", " {1}", b"y", ""], Rename("a", "x", "y")),
    (["a ID ({4}", b"name", " {1}", b"x", ")"], Id("a", (("name", "x"),))),
    (['a LIST "" {3}', b"a b", ""], List("a", "", ("a b",))),
    (["a APPEND INBOX {5}", b"hello", ""], Append("a", "INBOX", (AppendMessage(b"hello"),))),
    (["a APPEND INBOX {5+}", b"hello", ""], Append("a", "INBOX", (AppendMessage(b"hello"),))),
    (["a APPEND INBOX {70000}", SPOOLED, ""], Append("a", "INBOX", (AppendMessage(SPOOLED),))),
    (["a APPEND {5}", b"Sent ", " {2}", b"hi", ""], Append("a", "Sent ", (AppendMessage(b"hi"),))),
    (
        ['a APPEND Sent (\\Seen $Label \\Foo) "05-Jan-2024 13:04:05 -0800" {2}', b"hi", ""],
        Append(
            "a",
            "Sent",
            (
                AppendMessage(
                    b"hi",
                    ("\\Seen", "$Label", "\\Foo"),
                    datetime(2024, 1, 5, 13, 4, 5, tzinfo=timezone(timedelta(hours=-8))),
                ),
            ),
        ),
    ),
    (
        ['a APPEND x " 5-jan-2024 00:00:00 +0000" {2}', b"hi", ""],
        Append("a", "x", (AppendMessage(b"hi", (), datetime(2024, 1, 5, tzinfo=UTC)),)),
    ),
    (["a APPEND x () {2}", b"hi", ""], Append("a", "x", (AppendMessage(b"hi"),))),
    (["a APPEND x ~{3}", b"a\0b", ""], Append("a", "x", (AppendMessage(b"a\0b"),))),
    (
        ["a APPEND x (\\Seen) UTF8 (~{2}", b"hi", ")"],
        Append("a", "x", (AppendMessage(b"hi", ("\\Seen",), utf8=True),)),
    ),
    (
        ["a APPEND x utf8 (~{70000+}", SPOOLED, ")"],
        Append("a", "x", (AppendMessage(SPOOLED, utf8=True),)),
    ),
    # RFC 3502 MULTIAPPEND
    (
        [
            "a APPEND x {1}",
            b"1",
            " (\\Seen) {1+}",
            b"2",
            ' "01-Feb-2024 10:00:00 +0100" {1}',
            b"3",
            "",
        ],
        Append(
            "a",
            "x",
            (
                AppendMessage(b"1"),
                AppendMessage(b"2", ("\\Seen",)),
                AppendMessage(
                    b"3", (), datetime(2024, 2, 1, 10, tzinfo=timezone(timedelta(hours=1)))
                ),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("parts", "expected"), LITERALS)
def test_literals(parts: list[bytes | str | Spooled], expected: Command) -> None:
    assert parse(*parts) == expected


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (["a LOGIN {70000}", SPOOLED, " x"], "too large"),  # Spooled only for APPEND
        (["a SELECT {70000}", SPOOLED, ""], "too large"),
        (["a LOGIN ~{4}", b"fred", " x"], "binary literal"),
        (["a LOGIN {4}", b"fr\0d", " x"], "NUL"),
        (["a LOGIN {5}", b"fred", " x"], "4 octets announced as 5"),
        (["a APPEND x {5}", SPOOLED, ""], "70000 octets announced as 5"),
        (["a LOGIN {4}", b"fred"], "literal without the line after it"),
        (["a LOGIN {4}"], "data is missing"),
        (["a LOGIN {4} x", b"fred", ""], "must end the line"),
        (["a LOGIN {123456789012345678901}", b"x", " y"], "larger than"),
        ([SPOOLED], "tag"),
        (["a LOGIN {1}", b"x", SPOOLED, b"", ""], "neither bytes"),
        (["a APPEND x (\\Seen) UTF8 ({2}", b"hi", ")"], "binary literal"),
        (["a APPEND x UTF8 ~{2}", b"hi", ""], "'('"),
        (["a APPEND x {2}", b"hi", "{2}", b"hi", ""], "' '"),
        (["a APPEND x {2}", b"hi", " "], "space"),
        (["a APPEND x {2}", b"hi", " (\\Seen)"], "missing"),
        (["a APPEND x"], "missing"),
        (["a APPEND x (\\Seen)"], "missing"),
        (["a APPEND x hello"], "expected a literal"),
        (["a APPEND x (\\*) {2}", b"hi", ""], "flag"),
        (['a APPEND x "5-Jan-2024 00:00:00 +0000" {2}', b"hi", ""], "date-time"),
        (['a APPEND x "31-Feb-2024 00:00:00 +0000" {2}', b"hi", ""], "no such date"),
        (['a APPEND x "01-Feb-2024 24:00:00 +0000" {2}', b"hi", ""], "no such time"),
        (['a APPEND x "01-Feb-2024 23:00:00 +2400" {2}', b"hi", ""], "time zone"),
        (['a APPEND x "01-Foo-2024 23:00:00 +0000" {2}', b"hi", ""], "month"),
    ],
)
def test_literal_errors(parts: list[bytes | str | Spooled], message: str) -> None:
    assert message in refused(*parts).message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"a LOGIN {5}", LiteralRequest(5, True)),
        (b"a LOGIN {05}", LiteralRequest(5, True)),
        (b"a LOGIN fred {0}", LiteralRequest(0, True)),
        (b"a APPEND x {5+}", LiteralRequest(5, False)),
        (b"a APPEND x ~{5}", LiteralRequest(5, True, binary=True)),
        (b"a APPEND x UTF8 (~{5+}", LiteralRequest(5, False, binary=True)),
        (b"{12345678901234567890}", LiteralRequest(12345678901234567890, True)),
        (b"a NOOP", None),
        (b"", None),
        (b"}", None),
        (b"a LOGIN {5}}", None),
        (b'a LOGIN "{5}" x', None),
        (b"a LOGIN {5} ", None),
    ],
)
def test_literal_request(line: bytes, expected: LiteralRequest | None) -> None:
    assert literal_request(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"a LOGIN {123456789012345678901}",
        b"a LOGIN {-5}",
        b"a LOGIN {5-}",
        b"a {}",
        b"a { 5}",
        b"a {5++}",
        b"a ~{x}",
        b"a {\xff}",
    ],
)
def test_literal_request_refuses_garbage(line: bytes) -> None:
    # RFC 7888: LITERAL- uses the same {n+} as LITERAL+; there is no {n-}.
    with pytest.raises(ParseError) as caught:
        literal_request(line)
    assert caught.value.tag is None


# -- refusals ------------------------------------------------------------------------------

REFUSED = [
    # (line, tag the BAD carries, words of the message)
    ("", None, "empty"),
    (" NOOP", None, "tag"),
    ("+ NOOP", None, "tag"),
    ("a+b NOOP", None, "tag"),
    ("a*b NOOP", None, "tag"),
    ('"a" NOOP', None, "tag"),
    ("a(b NOOP", None, "tag"),
    ("\xff NOOP", None, "tag"),
    ("a", "a", "missing command"),
    ("a ", "a", "space"),
    ("a  NOOP", "a", "double space"),
    ("a NOOP ", "a", "space at the end"),
    ("a NOOP  ", "a", "space at the end"),
    ("a NOOP x", "a", "end of the command"),
    ("a NOOP\r", "a", "end of the command"),
    ("a\tNOOP", None, "tag"),
    ("a FOO", "a", "unknown command 'FOO'"),
    ("a UID", "a", "missing"),
    ("a UID LOGIN x y", "a", "UID 'LOGIN' is not a command"),
    ("a UID UID FETCH 1 FLAGS", "a", "UID 'UID'"),
    ('a "NOOP"', "a", "command name"),
    ("a " + "X" * 5000, "a", "unknown command 'XXXX"),
    ("a ID", "a", "missing"),
    ("a ID (name x)", "a", "quoted string"),
    ('a ID ("name")', "a", "' '"),
    ('a ID ("name" "x" )', "a", "space"),
    ('a ID ( "name" "x")', "a", "quoted string"),
    ("a ENABLE", "a", "missing"),
    ("a ENABLE ", "a", "space"),
    ("a COMPRESS", "a", "missing"),
    ("a LOGIN fred", "a", "missing"),
    ("a LOGIN fred ", "a", "space"),
    ("a LOGIN fred  secret", "a", "double space"),
    ('a LOGIN "fred secret', "a", "closed quoted string"),
    ('a LOGIN "fr\\ed" x', "a", "closed quoted string"),  # only \\ and \" escape
    ('a LOGIN "fr\x00d" x', "a", "closed quoted string"),
    ('a LOGIN "\xff" x', "a", "not valid UTF-8"),
    ("a LOGIN fr%d x", "a", "' '"),
    ("a LOGIN (fred) x", "a", "string"),
    ("a AUTHENTICATE", "a", "missing"),
    ("a AUTHENTICATE PLAIN abc", "a", "base64"),
    ("a AUTHENTICATE PLAIN ab=c", "a", "base64"),
    ("a AUTHENTICATE PLAIN a===", "a", "base64"),
    ("a AUTHENTICATE PLAIN ==", "a", "base64"),
    ("a AUTHENTICATE PLAIN a*b", "a", "base64"),
    ("a AUTHENTICATE PLAIN YWI= x", "a", "end of the command"),
    ("a AUTHENTICATE PLAIN = x", "a", "end of the command"),
    ("a SELECT", "a", "missing"),
    ("a SELECT \xff", "a", "string"),
    ('a SELECT "\xff"', "a", "mailbox name is not valid UTF-8"),
    ('a SELECT "\xed\xa0\x80"', "a", "not valid UTF-8"),  # an encoded surrogate
    ("a SELECT INBOX ()", "a", "SELECT parameter"),
    ("a SELECT INBOX (FOO)", "a", "unknown SELECT parameter"),
    ("a SELECT INBOX (CONDSTORE", "a", "' ' or ')'"),
    ("a SELECT INBOX (QRESYNC (0 1))", "a", "from 1"),
    ("a SELECT INBOX (QRESYNC (1 0))", "a", "from 1"),
    ("a SELECT INBOX (QRESYNC (1))", "a", "' '"),
    ("a SELECT INBOX (QRESYNC (1 2 1:*))", "a", "'*'"),
    ("a SELECT INBOX (QRESYNC (1 2 $))", "a", "'*' and '$'"),
    ("a SELECT INBOX (QRESYNC (1 2 1:5 ))", "a", "space"),
    ("a SELECT INBOX (QRESYNC (1 2 1:5 (1:2)))", "a", "' '"),
    ("a SELECT INBOX (QRESYNC (1 99999999999999999999))", "a", "larger than"),
    ("a SELECT INBOX (QRESYNC (4294967296 1))", "a", "larger than"),
    ("a CREATE x (USE (Sent))", "a", "does not start with"),
    ("a CREATE x (FOO (\\Sent))", "a", "USE"),
    ("a CREATE x ()", "a", "USE"),
    ("a RENAME x", "a", "missing"),
    ("a LIST", "a", "missing"),
    ('a LIST ""', "a", "missing"),
    ('a LIST "" (', "a", "pattern"),
    ('a LIST "" ()', "a", "pattern"),
    ('a LIST "" * RETURN', "a", "missing"),
    ('a LIST "" * (CHILDREN)', "a", "RETURN"),
    ('a LIST "" * RETURN (FOO)', "a", "unknown LIST return option"),
    ('a LIST "" * RETURN (STATUS ())', "a", "STATUS item"),
    ('a LIST "" * RETURN (STATUS (FOO))', "a", "unknown STATUS item"),
    ('a LIST (FOO) "" *', "a", "unknown LIST selection option"),
    ('a LIST (RECURSIVEMATCH) "" *', "a", "RECURSIVEMATCH needs"),
    ('a LIST (REMOTE RECURSIVEMATCH) "" *', "a", "RECURSIVEMATCH needs"),
    ('a LIST "" (a b', "a", "')'"),
    ('a LSUB "" * RETURN (CHILDREN)', "a", "end of the command"),
    ("a STATUS INBOX", "a", "missing"),
    ("a STATUS INBOX ()", "a", "STATUS item"),
    ("a STATUS INBOX (MESSAGES FOO)", "a", "unknown STATUS item 'FOO'"),
    ("a STATUS INBOX (MESSAGES", "a", "')'"),
    ("a STATUS INBOX MESSAGES", "a", "'('"),
    ("a STATUS INBOX (MESSAGES))", "a", "end of the command"),
    ("a GETQUOTA", "a", "missing"),
    ("a NOOP \x00", "a", "end of the command"),
    ("a NOTIFY", "a", "missing"),
    ("a NOTIFY SET", "a", "missing"),
    ("a NOTIFY SET STATUS", "a", "missing"),
    ("a NOTIFY GET", "a", "SET or NONE"),
    ("a NOTIFY SET ()", "a", "mailbox filter"),
    ("a NOTIFY SET (ELSEWHERE NONE)", "a", "unknown mailbox filter"),
    ("a NOTIFY SET (PERSONAL)", "a", "' '"),
    ("a NOTIFY SET (PERSONAL ())", "a", "event"),
    ("a NOTIFY SET (PERSONAL (MailboxName)", "a", "')'"),
    ("a NOTIFY SET (MAILBOXES (MailboxName))", "a", "' '"),
    ("a NOTIFY SET (SUBTREE () (MailboxName))", "a", None),
    ("a NOTIFY SET (PERSONAL (MessageNew (FOO) MessageExpunge))", "a", "FETCH item"),
    ("a NOTIFY NONE (PERSONAL NONE)", "a", "end of the command"),
]


@pytest.mark.parametrize(("line", "tag", "message"), REFUSED)
def test_refused(line: str, tag: str | None, message: str | None) -> None:
    error = refused(line.encode("latin-1"))
    assert error.tag == tag
    assert error.code is None
    assert message is None or message in error.message
    assert "\r" not in error.message and "\n" not in error.message


def test_parse_error_carries_its_parts() -> None:
    error = ParseError("bad", "t1", "BADCHARSET (US-ASCII UTF-8)")
    assert (error.message, error.tag, error.code, str(error)) == (
        "bad",
        "t1",
        "BADCHARSET (US-ASCII UTF-8)",
        "bad",
    )
    assert ParseError("bad").tag is None and ParseError("bad").code is None
