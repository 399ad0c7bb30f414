"""The POP3 grammar: tables of lines and the command (or ParseError) each gives, and hypothesis
properties (any bytes: a command or ParseError). A new verb adds rows to both tables."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from groupware.protocols.pop3 import dispatch
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
from groupware.protocols.pop3.grammar import ParseError, parse_command, parse_sasl_response

PARSED = [
    (b"USER alice@example.test", User("alice@example.test")),
    (b"user  alice ", User("alice")),
    (b"PASS secret", Pass("secret")),
    (b"PASS with spaces  inside ", Pass("with spaces  inside ")),
    (b"PASS p\xc3\xa4ss", Pass("päss")),
    (b"AUTH", Auth()),
    (b"AUTH plain", Auth("PLAIN")),
    (b"AUTH PLAIN =", Auth("PLAIN", b"")),
    (b"AUTH PLAIN AGFsaWNlAHB3", Auth("PLAIN", b"\x00alice\x00pw")),
    (b"AUTH X-OAUTH2", Auth("X-OAUTH2")),
    (b"STLS", Stls()),
    (b"STAT", Stat()),
    (b"stat ", Stat()),
    (b"LIST", List()),
    (b"LIST 2", List(2)),
    (b"UIDL", Uidl()),
    (b"UIDL 10", Uidl(10)),
    (b"RETR 1", Retr(1)),
    (b"DELE 3", Dele(3)),
    (b"TOP 1 0", Top(1, 0)),
    (b"top 4  10", Top(4, 10)),
    (b"RSET", Rset()),
    (b"NOOP", Noop()),
    (b"CAPA", Capa()),
    (b"QUIT", Quit()),
    (b"Quit", Quit()),
]

REFUSED = [
    (b"", "Empty command"),
    (b" STAT", "Empty command"),
    (b"APOP alice 0123456789abcdef", "Unknown command APOP"),
    (b"XYZZY", "Unknown command"),
    (b"ST", "Unknown command"),
    (b"\xff\xfe", "Unknown command"),
    (b"USER", "wrong number of arguments"),
    (b"USER a b", "wrong number of arguments"),
    (b"USER \xff", "UTF-8"),
    (b"USER a\tb", "control characters"),
    (b"PASS", "needs a password"),
    (b"PASS ", "needs a password"),
    (b"PASS a\x00b", "NUL"),
    (b"STAT 1", "takes no arguments"),
    (b"QUIT now", "takes no arguments"),
    (b"LIST 0", "invalid message number"),
    (b"LIST -1", "invalid message number"),
    (b"LIST 1 2", "wrong number of arguments"),
    (b"RETR", "wrong number of arguments"),
    (b"RETR x", "invalid message number"),
    (b"RETR 12345678901", "invalid message number"),
    (b"DELE 1.5", "invalid message number"),
    (b"TOP 1", "wrong number of arguments"),
    (b"TOP 1 -1", "number of lines"),
    (b"TOP 0 5", "invalid message number"),
    (b"AUTH PLAIN not*base64", "Invalid base64"),
    (b"AUTH PLAIN AGFsaWN", "Invalid base64"),  # padding missing
    (b"AUTH PL@IN", "Invalid SASL mechanism"),
    (b"AUTH P\xc3\xa9", r"Invalid SASL mechanism name 'P\\xe9'"),  # -ERR text is ASCII
    (b"AUTH PLAIN a b", "wrong number of arguments"),
    (b"NOOP\rSTAT", "Line breaks"),
]


@pytest.mark.parametrize(("line", "expected"), PARSED)
def test_parse(line: bytes, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(("line", "message"), REFUSED)
def test_refused(line: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_command(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b"*", None), (b" * ", None), (b"AGFsaWNlAHB3", b"\x00alice\x00pw"), (b"YQ==", b"a")],
)
def test_sasl_response(line: bytes, expected: bytes | None) -> None:
    assert parse_sasl_response(line) == expected


@pytest.mark.parametrize("line", [b"", b"=", b"YQ=", b"not base64!", b"**"])
def test_sasl_response_refused(line: bytes) -> None:
    with pytest.raises(ParseError, match="Invalid base64"):
        parse_sasl_response(line)


def test_every_command_has_exactly_one_dispatch_entry() -> None:
    assert set(Command.__subclasses__()) == set(dispatch.COMMANDS)


# -- hypothesis ------------------------------------------------------------------------

FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = [b"USER", b"PASS", b"AUTH", b"PLAIN", b"LIST", b"UIDL", b"RETR", b"TOP", b"DELE"]
TOKENS += [b"STLS", b"CAPA", b"QUIT", b" ", b"  ", b"0", b"1", b"99", b"-", b"=", b"*"]
TOKENS += [b"YQ==", b"AGFsaWNlAHB3", b"\r", b"\x00", b"\xc3\xa4", b"\xff", b"a", b"\t"]
LINES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(TOKENS), max_size=8).map(b"".join),
)


@FAST
@given(LINES)
@example(b"TOP 1 99999999999")
@example(b"AUTH PLAIN " + b"A" * 300)
@example(b"aUTH D!\xec\xbe\xaaPL")  # found by fuzzing: the refusal echoed it as UTF-8
def test_any_bytes_give_a_command_or_parse_error(line: bytes) -> None:
    try:
        command = parse_command(line)
    except ParseError as error:
        # It follows -ERR on the wire: one line of printable ASCII (RFC 1939 §3).
        assert error.message and error.message.isascii() and error.message.isprintable()
        return
    assert type(command) in dispatch.COMMANDS


@FAST
@given(LINES)
def test_any_sasl_response_gives_bytes_none_or_parse_error(line: bytes) -> None:
    try:
        response = parse_sasl_response(line)
    except ParseError:
        return
    assert response is None or isinstance(response, bytes)


@FAST
@given(st.integers(1, 10**10 - 1), st.integers(0, 10**10 - 1))
def test_numbers_round_trip(message: int, lines: int) -> None:
    assert parse_command(b"TOP %d %d" % (message, lines)) == Top(message, lines)
    assert parse_command(b"RETR %d" % message) == Retr(message)
