"""Address and domain normalisation (the directory's keys) and password strength rules.

Tables of accepted and refused input, and hypothesis properties: for any text the
normalisers return a plain ASCII key or raise InvalidInput, and they are idempotent.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import InvalidInput
from groupware.services.core.addresses import (
    domain_of,
    normalize_address,
    normalize_alias,
    normalize_domain,
)
from groupware.services.directory.passwords import check_strength

# What a stored key may look like: lower-case ASCII, no whitespace or control characters.
DOMAIN_KEY = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]*[a-z][a-z0-9-]*")
ADDRESS_KEY = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@" + DOMAIN_KEY.pattern)


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("example.org", "example.org"),
        ("Example.ORG", "example.org"),
        ("  example.org  ", "example.org"),
        ("example.org.", "example.org"),
        ("mail.sub.example.org", "mail.sub.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("a-b.example", "a-b.example"),
        ("1.example", "1.example"),
        ("x" * 63 + ".example", "x" * 63 + ".example"),
    ],
)
def test_normalize_domain(given_name: str, expected: str) -> None:
    assert normalize_domain(given_name) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        ".",
        "localhost",
        "example",
        ".example.org",
        "example..org",
        "-bad.example",
        "bad-.example",
        "under_score.example",
        "exa mple.org",
        "example.org/x",
        "192.168.0.1",
        "example.123",
        "x" * 64 + ".example",
        ".".join(["abcdefghi"] * 26),  # 259 characters
        "exam\n.org",
        "example.org\x00",
        "@example.org",
    ],
)
def test_normalize_domain_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid domain name"):
        normalize_domain(bad)


@pytest.mark.parametrize(
    ("given_address", "expected"),
    [
        ("alice@example.org", "alice@example.org"),
        ("Alice@Example.ORG", "alice@example.org"),
        ("  alice@example.org\t", "alice@example.org"),
        ("alice@example.org.", "alice@example.org"),
        ("first.last+tag@example.org", "first.last+tag@example.org"),
        ("o'brien@example.org", "o'brien@example.org"),
        ("x!#$%&*/=?^_`{|}~-@example.org", "x!#$%&*/=?^_`{|}~-@example.org"),
        ("alice@Bücher.example", "alice@xn--bcher-kva.example"),
        ("a" * 64 + "@example.org", "a" * 64 + "@example.org"),
    ],
)
def test_normalize_address(given_address: str, expected: str) -> None:
    assert normalize_address(given_address) == expected
    assert domain_of(expected) == expected.rpartition("@")[2]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "@example.org",
        "alice@",
        "alice@@example.org",
        "alice@localhost",
        "a..b@example.org",
        ".alice@example.org",
        "alice.@example.org",
        '"alice"@example.org',
        "al ice@example.org",
        "alice\n@example.org",
        "alice@exam\n.org",
        "alice\r@example.org",
        "ålice@example.org",
        "a(b)@example.org",
        "a" * 65 + "@example.org",
        "a" * 64 + "@" + ".".join(["abcdefghijklmnopqrstuvwxyz0123456789"] * 6) + ".org",
    ],
)
def test_normalize_address_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_address(bad)
    assert repr(bad) in str(refused.value) or "domain" in str(refused.value)


@pytest.mark.parametrize(
    ("given_alias", "expected"),
    [
        ("@example.org", "@example.org"),
        ("@Example.ORG.", "@example.org"),
        (" @bücher.example ", "@xn--bcher-kva.example"),
        ("Sales@Example.org", "sales@example.org"),
    ],
)
def test_normalize_alias(given_alias: str, expected: str) -> None:
    assert normalize_alias(given_alias) == expected
    assert domain_of(expected) == expected.lstrip("@").rpartition("@")[2]


@pytest.mark.parametrize("bad", ["@", "@@example.org", "@localhost", "sales@", "sales", ""])
def test_normalize_alias_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_alias(bad)


# Text built from the characters that matter to the grammar, so that valid and nearly
# valid input is common, mixed with arbitrary text.
_NEAR = st.text(alphabet="aZ09.-_@+ äÜ。\n\t\x00\"'xn", max_size=40)
_PLAUSIBLE = st.builds(
    lambda local, labels: f"{local}@{'.'.join(labels)}",
    st.text(alphabet="abcXYZ09.+-_!ü", min_size=0, max_size=12),
    st.lists(st.text(alphabet="abcü-9", min_size=0, max_size=8), min_size=0, max_size=4),
)
ANY_TEXT = st.one_of(st.text(), _NEAR, _PLAUSIBLE)


@settings(deadline=None, max_examples=400)
@given(ANY_TEXT)
def test_normalize_domain_total(text: str) -> None:
    try:
        result = normalize_domain(text)
    except InvalidInput:
        return
    assert isinstance(result, str)
    assert DOMAIN_KEY.fullmatch(result), result
    assert normalize_domain(result) == result


@settings(deadline=None, max_examples=400)
@given(ANY_TEXT)
def test_normalize_address_total(text: str) -> None:
    try:
        result = normalize_address(text)
    except InvalidInput:
        return
    assert isinstance(result, str)
    assert ADDRESS_KEY.fullmatch(result), result
    assert len(result) <= 254
    assert normalize_address(result) == result
    assert normalize_alias(result) == result


@settings(deadline=None, max_examples=400)
@given(st.one_of(ANY_TEXT, ANY_TEXT.map(lambda t: "@" + t)))
def test_normalize_alias_total(text: str) -> None:
    try:
        result = normalize_alias(text)
    except InvalidInput:
        return
    assert isinstance(result, str)
    if result.startswith("@"):
        assert DOMAIN_KEY.fullmatch(result[1:]), result
    else:
        assert ADDRESS_KEY.fullmatch(result), result
    assert normalize_alias(result) == result


@pytest.mark.parametrize(
    "password",
    ["S3cret-pass", "correct horse battery staple", "abcdabcdab", "pässwörter!", "x" * 5 + "1234"],
)
def test_check_strength_accepts(password: str) -> None:
    check_strength(password, 9)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "too short"),
        ("S3cret-pa", "too short"),  # 9 < 10
        ("", "too short"),
        ("x" * 1025, "too long"),
        ("aaaaaaaaaaaa", "too weak"),
        ("abababababab", "too weak"),
        ("abcabcabcabc", "too weak"),
        ("S3cret-pass\n", "line breaks"),
        ("S3cret-pass\r", "line breaks"),
        ("S3cret\x00-pass", "NUL"),
    ],
)
def test_check_strength_refuses(password: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        check_strength(password, 10)


def test_check_strength_boundaries() -> None:
    check_strength("abcd" * 3, 12)  # exactly the minimum
    check_strength("abcd" * 256, 10)  # exactly 1024
    with pytest.raises(InvalidInput, match="at least 13"):
        check_strength("abcd" * 3, 13)
