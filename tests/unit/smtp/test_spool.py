"""groupware/spool.py on real files: the header section read back in pieces (found
across chunk boundaries, none, empty), copies with fields on top, and prepending."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from groupware import spool


@pytest.mark.parametrize(
    ("message", "head"),
    [
        (b"Subject: x\r\n\r\nbody\r\n", b"Subject: x\r\n\r\n"),
        (b"A: 1\r\nB: 2\r\n\r\n\r\nbody\r\n\r\n", b"A: 1\r\nB: 2\r\n\r\n"),
        (b"\r\nbody without header\r\n", b""),  # RFC 5322 §2.1: the header may be empty
        (b"A: 1\r\nB: 2\r\n", b"A: 1\r\nB: 2\r\n"),  # no body: all header
        (b"", b""),
        # The empty line straddles reads of CHUNK octets.
        *[
            (b"X: " + b"y" * (spool.CHUNK - 5 + shift) + b"\r\n\r\nbody", None)
            for shift in range(-2, 5)
        ],
    ],
)
def test_read_head(message: bytes, head: bytes | None) -> None:
    expected = head if head is not None else message[: message.index(b"\r\n\r\n") + 4]
    source = io.BytesIO(message)
    source.seek(7)  # wherever it stands, the head is read from the start
    assert spool.read_head(source) == expected


def test_copies_and_prepending(tmp_path: Path) -> None:
    original, out = spool.create(tmp_path / "spool", "test-")
    with out:
        out.write(b"A: 1\r\n\r\nbody\r\n" * 50_000)
    copy = spool.copy_with(original.parent, b"Top: 1\r\n", original)
    assert copy.read_bytes() == b"Top: 1\r\n" + original.read_bytes()
    spool.prepend(copy, b"Sig: 2\r\n")
    assert copy.read_bytes() == b"Sig: 2\r\nTop: 1\r\n" + original.read_bytes()
    with original.open("rb") as source, io.BytesIO() as target:
        spool.write_copy(target, b"New: head\r\n\r\n", source, len(b"A: 1\r\n\r\n"))
        assert target.getvalue() == b"New: head\r\n\r\n" + original.read_bytes()[8:]
    assert sorted(p.name for p in original.parent.iterdir()) == sorted([original.name, copy.name])


def test_a_failed_copy_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    with pytest.raises(FileNotFoundError):
        spool.copy_with(folder, b"Top: 1\r\n", tmp_path / "missing")
    assert list(folder.iterdir()) == []
