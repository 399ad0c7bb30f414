"""Messages as spool files while SMTP takes them and the router sends them on: made in the
spool folder (which the runtime empties at start-up, and the supervisor of a dead
worker's files), read back a header section at a
time, and copied with new header fields on top, disk to disk, so a message is never held
whole in memory to be changed. New ways of rewriting a spooled message go here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 256 * 1024


def create(folder: Path, prefix: str = "smtp-") -> tuple[Path, BinaryIO]:
    """A new, empty spool file and its handle open for writing; the caller removes it.
    Its name holds the process id ("smtp-<pid>-…"), so that what a worker killed midway
    left can be removed while the others' files are in use (`remove_left_by`)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{prefix}{os.getpid()}-")
    return Path(name), os.fdopen(fd, "wb", buffering=CHUNK)


def remove_left_by(folder: Path, pid: int) -> int:
    """Remove the spool files process `pid` made (it has ended: none is in use, none was
    answered 250, as a message is stored before that); how many there were."""
    removed = 0
    for leftover in folder.glob(f"*-{pid}-*"):  # mkstemp's own part has no "-"
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def read_head(source: BinaryIO) -> bytes:
    """The header section from the start of `source`, with the empty line that ends it
    (RFC 5322 §2.1; lines end in CRLF, as smtp/data.py made sure): b"" when the message
    begins with the empty line, everything when there is none."""
    source.seek(0)
    head = bytearray()
    while chunk := source.read(CHUNK):
        searched = max(0, len(head) - 3)
        head += chunk
        if head.startswith(b"\r\n"):
            return b""
        end = head.find(b"\r\n\r\n", searched)
        if end >= 0:
            return bytes(head[: end + 4])
    return bytes(head)


def write_copy(out: BinaryIO, prefix: bytes, source: BinaryIO, offset: int = 0) -> None:
    """Write `prefix`, then `source` from `offset` to its end, to `out`."""
    out.write(prefix)
    source.seek(offset)
    shutil.copyfileobj(source, out, CHUNK)


def copy_with(folder: Path, prefix: bytes, source: Path, prefix_name: str = "smtp-") -> Path:
    """A new spool file holding `prefix` then the whole of `source` (removed on failure;
    the caller removes it once used)."""
    path, out = create(folder, prefix_name)
    try:
        with out, source.open("rb") as original:
            write_copy(out, prefix, original)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def prepend(path: Path, prefix: bytes) -> None:
    """Put `prefix` on top of the file at `path` (a copy renamed over it)."""
    copy = copy_with(path.parent, prefix, path)
    os.replace(copy, path)
