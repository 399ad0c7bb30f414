"""Property tests: any octets parse, offsets stay nested, the stored form round-trips.

`_parse` is called directly (not `parse_message`) so that the last-resort fallback in
`parse_message` cannot hide an exception.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupware.mime.address import parse_addresses
from groupware.mime.params import param_value, parse_content_type, parse_params
from groupware.mime.parse import _parse
from groupware.mime.text import html_to_text
from groupware.mime.words import decode_words
from tests.fuzz.content_targets import MIME_TOKENS
from tests.fuzz.strategies import joins, mutations
from tests.unit.mime import check_invariants

CORPUS = [
    path.read_bytes()
    for path in sorted((Path(__file__).resolve().parents[2] / "data" / "mime").glob("*.eml"))
]
SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_octets_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(joins(MIME_TOKENS, max_size=60))
def test_mime_shaped_octets_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(mutations(CORPUS, MIME_TOKENS))
def test_mutated_corpus_messages_parse(raw: bytes) -> None:
    check_invariants(_parse(raw), raw)


@SETTINGS
@given(st.text(max_size=300))
def test_header_readers_are_total(text: str) -> None:
    parse_addresses(text)
    decode_words(text)
    parse_content_type(text)
    params = parse_params(text)
    for name, _ in params:
        param_value(params, name.rstrip("*"))
    html_to_text(text)
