"""SRS (services/delivery/srs.py) without a database: the rewrite and its reversal round-trip, a
forged or aged address is refused (SRS1 by its inner stamp too), hashes are 8 base32
characters, SRS0 from another forwarder becomes SRS1, and the null sender and our own
senders are left alone.
"""

from __future__ import annotations

import pytest

from groupware.services.delivery.srs import MAX_AGE_DAYS, forward_sender, is_srs, reverse

KEY = b"k" * 32
DAY = 86400.0
NOW = 20_000 * DAY + 3600  # a fixed day, mid-morning


def test_round_trip() -> None:
    rewritten = forward_sender("Alice.Smith@Sender.example", "fwd.example", KEY, NOW)
    local, _, domain = rewritten.partition("@")
    assert domain == "fwd.example"
    assert local.startswith("SRS0=") and local.endswith("=Sender.example=Alice.Smith")
    assert len(local.split("=")[1]) == 8 and len(local.split("=")[2]) == 2
    assert is_srs(rewritten)
    assert reverse(rewritten, KEY, NOW) == "Alice.Smith@Sender.example"
    # Hashes ignore case: MTAs that lower-case addresses still get bounces home.
    assert reverse(rewritten.lower(), KEY, NOW) == "alice.smith@sender.example"


def test_a_local_part_with_equals_signs_survives() -> None:
    rewritten = forward_sender("a=b==c@x.example", "fwd.example", KEY, NOW)
    assert reverse(rewritten, KEY, NOW) == "a=b==c@x.example"


@pytest.mark.parametrize("days", [0, 1, MAX_AGE_DAYS])
def test_fresh_enough(days: int) -> None:
    rewritten = forward_sender("a@x.example", "fwd.example", KEY, NOW)
    assert reverse(rewritten, KEY, NOW + days * DAY) == "a@x.example"


@pytest.mark.parametrize("days", [MAX_AGE_DAYS + 1, 100, 1023])
def test_too_old(days: int) -> None:
    rewritten = forward_sender("a@x.example", "fwd.example", KEY, NOW)
    assert reverse(rewritten, KEY, NOW + days * DAY) is None


def test_forged_or_tampered_refused() -> None:
    rewritten = forward_sender("a@x.example", "fwd.example", KEY, NOW)
    _, hash_, stamp, domain, local = rewritten.split("@")[0].split("=")
    assert reverse(rewritten, b"another key", NOW) is None
    assert reverse(f"SRS0={hash_}={stamp}={domain}=victim@fwd.example", KEY, NOW) is None
    assert reverse(f"SRS0={hash_}={stamp}=evil.example={local}@fwd.example", KEY, NOW) is None
    # Moving characters between the domain and the local part breaks the hash too.
    assert reverse(f"SRS0={hash_}={stamp}={domain}a=@fwd.example", KEY, NOW) is None
    for broken in ("SRS0=@fwd.example", "SRS0=x=y@fwd.example", "plain@fwd.example", "SRS0"):
        assert reverse(broken, KEY, NOW) is None


def test_null_and_own_senders_stay() -> None:
    assert forward_sender("", "fwd.example", KEY, NOW) == ""
    assert forward_sender("bob@fwd.example", "fwd.example", KEY, NOW) == "bob@fwd.example"


def test_srs0_of_another_forwarder_becomes_srs1_and_reverses_to_it() -> None:
    theirs = forward_sender("a@x.example", "first.example", b"their key", NOW)
    ours = forward_sender(theirs, "fwd.example", KEY, NOW)
    assert ours.startswith("SRS1=") and ours.endswith("@fwd.example")
    assert "=first.example==" in ours
    assert reverse(ours, KEY, NOW) == theirs  # back to the first forwarder
    assert reverse(theirs, b"their key", NOW) == "a@x.example"
    # A third forwarder keeps pointing at the first one.
    third = forward_sender(ours, "third.example", b"third key", NOW)
    assert third.startswith("SRS1=") and "=first.example==" in third
    assert reverse(third, b"third key", NOW) == theirs
    assert reverse(third, KEY, NOW) is None


def test_srs_hashes_of_4_characters_no_longer_reverse() -> None:
    """Regression: 20 bits of hash were found by about a million RCPTs."""
    rewritten = forward_sender("a@x.example", "fwd.example", KEY, NOW)
    _, hash_, rest = rewritten.split("=", 2)
    assert len(hash_) >= 8
    assert reverse(f"SRS0={hash_[:4]}={rest}", KEY, NOW) is None


@pytest.mark.parametrize("days", [MAX_AGE_DAYS + 1, 100, 1023])
def test_srs1_too_old_is_refused(days: int) -> None:
    """Regression: SRS1 had no age check, so one address relayed for ever."""
    theirs = forward_sender("a@x.example", "first.example", b"their key", NOW)
    ours = forward_sender(theirs, "fwd.example", KEY, NOW)
    assert reverse(ours, KEY, NOW + MAX_AGE_DAYS * DAY) == theirs
    assert reverse(ours, KEY, NOW + days * DAY) is None


@pytest.mark.parametrize(
    "inner",
    [
        "SRS0=HHHH=!!=x.example=a",
        "SRS0=HHHH==x.example=a",
        "SRS0=HHHH=AA",
        "SRS0=HHHH=AA=x=",
        "SRS0=",
    ],
)
def test_srs1_whose_inner_stamp_does_not_parse_is_refused(inner: str) -> None:
    # Our hash is good (we made it), but what it wraps is no SRS0 with a day stamp.
    ours = forward_sender(f"{inner}@first.example", "fwd.example", KEY, NOW)
    assert ours.startswith("SRS1=")
    assert reverse(ours, KEY, NOW) is None
