"""Message bytes, content-addressed by SHA-256, in files (default) or in the database.

Files: written to a temp file, fsynced, renamed, directory fsynced, all before the row
that refers to them commits. A per-shard lock (flock) is held by a writer from the file
write until its commit, and by the collector from its check until the unlink, so a blob
being stored again is never removed under a writer. New backends implement `BlobStore`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from groupware.model.base import utcnow
from groupware.model.mail import Blob, Message
from groupware.model.queue import OutboundMessage
from groupware.store.database import Database

CHUNK = 1024 * 1024


def hash_file(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of a spooled file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class StoredBlob:
    """Bytes made durable (or held, for the database backend) and not yet recorded."""

    id: str
    size: int
    data: bytes | None = None

    def record(self, session: Session) -> None:
        """Add the blob's row (if new) to the caller's transaction."""
        connection = session.connection()
        values = {"id": self.id, "size": self.size, "data": self.data, "created_at": utcnow()}
        connection.execute(_RECORD[connection.dialect.name], values)


# Built once per dialect (delivery's hot path): an existing blob's row is left alone.
_RECORD = {
    name: dialect_insert(cast(Table, Blob.__table__)).on_conflict_do_nothing(index_elements=["id"])
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


class BlobStore(Protocol):
    def stored(self, spool: Path) -> contextlib.AbstractContextManager[StoredBlob]:
        """Make the spooled file's bytes durable and yield them; inside, the caller opens
        its transaction, calls `record`, adds the referring rows and commits."""

    def open(self, session: Session, blob_id: str) -> BinaryIO: ...

    def collect(self, database: Database, blob_ids: set[str]) -> int:
        """Remove the blobs no message refers to any more; returns how many went."""

    def sweep(self, database: Database, older_than: float) -> int:
        """Remove what a crash left: files with no row, half-written temp files."""


class FileBlobStore:
    """Blobs as files under `root`/ab/<sha256>, one directory per first byte."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id

    @contextlib.contextmanager
    def _shard_lock(self, blob_id: str) -> Iterator[None]:
        shard = self.root / blob_id[:2]
        shard.mkdir(parents=True, exist_ok=True)
        fd = os.open(shard / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def stored(self, spool: Path) -> Iterator[StoredBlob]:
        blob_id, size = hash_file(spool)
        # The lock comes before any database transaction, in writers and collector alike.
        with self._shard_lock(blob_id):
            target = self.path(blob_id)
            if not target.exists():
                _durable_copy(spool, target)
            yield StoredBlob(blob_id, size)  # the caller commits inside the lock

    def open(self, session: Session, blob_id: str) -> BinaryIO:
        return self.path(blob_id).open("rb")

    def collect(self, database: Database, blob_ids: set[str]) -> int:
        removed = 0
        for blob_id in sorted(blob_ids):
            with self._shard_lock(blob_id):
                with database.write() as session:
                    gone = _delete_unreferenced(session, blob_id)
                if gone:
                    with contextlib.suppress(FileNotFoundError):
                        self.path(blob_id).unlink()
                    removed += 1
        return removed

    def sweep(self, database: Database, older_than: float = 3600) -> int:
        """Files (and temp files) older than `older_than` seconds that no blob row names:
        left by a crash between the fsync and the commit. Checked under the shard lock."""
        removed = 0
        cutoff = time.time() - older_than
        for shard in sorted(p for p in self.root.glob("??") if p.is_dir()):
            candidates = [
                p for p in shard.iterdir() if p.name != ".lock" and p.stat().st_mtime < cutoff
            ]
            if not candidates:
                continue
            with self._shard_lock(shard.name + "0" * 62), database.read() as session:
                known = set(session.scalars(select(Blob.id).where(Blob.id.startswith(shard.name))))
                for path in candidates:
                    if path.name.startswith(".tmp-") or path.name not in known:
                        path.unlink(missing_ok=True)
                        removed += 1
        return removed


class DatabaseBlobStore:
    """Blobs in the blobs table itself: nodes sharing one PostgreSQL need no shared disk."""

    @contextlib.contextmanager
    def stored(self, spool: Path) -> Iterator[StoredBlob]:
        data = spool.read_bytes()
        yield StoredBlob(hashlib.sha256(data).hexdigest(), len(data), data)

    def open(self, session: Session, blob_id: str) -> BinaryIO:
        data = session.scalar(select(Blob.data).where(Blob.id == blob_id))
        return io.BytesIO(data or b"")

    def sweep(self, database: Database, older_than: float = 3600) -> int:
        return 0  # rows and bytes commit together: nothing can be left behind

    def collect(self, database: Database, blob_ids: set[str]) -> int:
        with database.write() as session:
            return sum(_delete_unreferenced(session, b) for b in sorted(blob_ids))


def _delete_unreferenced(session: Session, blob_id: str) -> bool:
    result = session.execute(
        delete(Blob).where(
            Blob.id == blob_id,
            ~exists().where(Message.blob_id == Blob.id),
            ~exists().where(OutboundMessage.blob_id == Blob.id),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _durable_copy(spool: Path, target: Path) -> None:
    """Copy to a temp file beside the target, fsync it, rename it, fsync the directory."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out, spool.open("rb") as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
