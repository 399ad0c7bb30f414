"""Hypothesis strategies for fuzz inputs: random octets, joins of a target's tokens, and
kept inputs with random edits (what libFuzzer's mutations do, in small). Unit property
tests draw from these too, so a grammar's pieces are listed once, beside its target.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.target import Target

MAX_RANDOM = 2000  # octets of plain random input


def joins(tokens: tuple[bytes, ...], max_size: int = 40) -> st.SearchStrategy[bytes]:
    """Up to `max_size` tokens (or a few random octets between them) end to end."""
    piece = st.sampled_from(tokens) | st.binary(max_size=8) if tokens else st.binary(max_size=8)
    return st.lists(piece, max_size=max_size).map(b"".join)


@st.composite
def mutations(draw: st.DrawFn, kept: list[bytes], tokens: tuple[bytes, ...]) -> bytes:
    """A kept input with 1 to 6 edits: a cut, random octets or a token put in, a stretch
    repeated, or the rest dropped."""
    data = bytearray(draw(st.sampled_from(kept)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "token", "duplicate", "truncate"]))
        if action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert" or (action == "token" and not tokens):
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif action == "token":
            data[at:at] = draw(st.sampled_from(tokens))
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            del data[at:]
    return bytes(data)


def inputs(target: Target) -> st.SearchStrategy[bytes]:
    """What CI feeds a target: random octets, token joins, and edited kept inputs."""
    kept = [path.read_bytes() for path in target.corpus()] + target.seeds()
    options = [st.binary(max_size=min(MAX_RANDOM, target.max_len)), joins(target.tokens)]
    if kept:
        options.append(mutations(kept, target.tokens))
    return st.one_of(options)
