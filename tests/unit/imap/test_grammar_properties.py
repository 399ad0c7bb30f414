"""Hypothesis properties of the IMAP grammar: for any input only ParseError escapes (never
IndexError, UnicodeDecodeError, ValueError, RecursionError...), and sequence sets round-trip.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from groupware.protocols.imap.commands import STAR, Command, SequenceSet, Spooled
from groupware.protocols.imap.grammar import (
    LiteralRequest,
    ParseError,
    literal_request,
    parse_command,
    parse_sequence_set,
)
from tests.fuzz.protocol_targets import IMAP_TOKENS

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = list(IMAP_TOKENS)  # pieces of real commands, beside the fuzz target
token_lines = st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join)
lines = st.one_of(st.binary(max_size=200), token_lines, token_lines.map(lambda line: b"a " + line))
spooled = st.builds(Spooled, st.just(Path("/nonexistent/spool")), st.integers(0, 2**64))
literals = st.one_of(st.binary(max_size=20), spooled)


def parses_or_refuses(parts: list[bytes | Spooled]) -> None:
    try:
        command = parse_command(parts)
    except ParseError as error:
        assert isinstance(error.message, str) and error.message
        assert "\r" not in error.message and "\n" not in error.message
        assert error.tag is None or isinstance(error.tag, str)
    else:
        assert isinstance(command, Command)


@FAST
@given(lines)
@example(b"a SEARCH " + b"NOT " * 10_000 + b"ALL")
@example(b"a SEARCH " + b"(" * 10_000)
@example(b"a FETCH 1 BODY[" + b"1." * 5000 + b"1]")
@example(b'a LOGIN "' + b"\\" * 5001)
def test_any_line_parses_or_is_refused(line: bytes) -> None:
    parses_or_refuses([line])


@FAST
@given(st.lists(st.tuples(token_lines, literals), max_size=4), lines)
def test_any_parts_parse_or_are_refused(
    pairs: list[tuple[bytes, bytes | Spooled]], last: bytes
) -> None:
    """[line, literal, ..., line], the lines often ending with a marker of the right size."""
    parts: list[bytes | Spooled] = []
    for line, literal in pairs:
        size = literal.size if isinstance(literal, Spooled) else len(literal)
        parts += [b"a APPEND x " + line + b" {%d}" % size, literal]
    parses_or_refuses([*parts, last])


@FAST
@given(st.lists(st.one_of(st.binary(max_size=30), spooled, st.none(), st.integers()), max_size=6))
def test_malformed_parts_are_refused(parts: list[object]) -> None:
    parses_or_refuses(parts)  # type: ignore[arg-type]


@FAST
@given(st.one_of(lines, token_lines.map(lambda line: line + b"}")))
@example(b"{" + b"9" * 5000 + b"}")
def test_literal_request_returns_or_refuses(line: bytes) -> None:
    try:
        request = literal_request(line)
    except ParseError as error:
        assert error.tag is None
    else:
        assert request is None or isinstance(request, LiteralRequest)
        assert request is None or line.endswith(b"}")


numbers = st.one_of(st.integers(1, 2**32 - 1), st.just(STAR))
sequence_sets = st.builds(
    SequenceSet, st.lists(st.tuples(numbers, numbers), min_size=1, max_size=8).map(tuple)
)


def format_sequence_set(numbers: SequenceSet) -> str:
    """The RFC 9051 form, each range as "a:b" unless a single number (as servers write it)."""
    if numbers.saved:
        return "$"

    def one(number: int) -> str:
        return "*" if number == STAR else str(number)

    return ",".join(
        one(low) if low == high else f"{one(low)}:{one(high)}" for low, high in numbers.ranges
    )


@FAST
@given(st.one_of(sequence_sets, st.just(SequenceSet((), saved=True))))
def test_sequence_sets_round_trip(numbers: SequenceSet) -> None:
    text = format_sequence_set(numbers)
    assert parse_sequence_set(text) == numbers
    command = parse_command([f"a UID FETCH {text} FLAGS".encode()])
    assert command.set == numbers  # type: ignore[attr-defined]


@FAST
@given(st.text(max_size=30))
def test_parse_sequence_set_returns_or_refuses(text: str) -> None:
    try:
        numbers = parse_sequence_set(text)
    except ParseError:
        return
    assert all(0 <= n <= 2**32 - 1 for pair in numbers.ranges for n in pair)
    assert format_sequence_set(numbers).replace(":", "").replace(",", "") != ""
