"""Engines, connection settings and the unit-of-work helpers every service uses.

SQLite is tuned for durability (WAL, synchronous=FULL, foreign keys, busy timeout) and
writers take the lock up front (BEGIN IMMEDIATE) so two writers never deadlock upgrading.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

SQLITE_BUSY_TIMEOUT_MS = 10_000


class Database:
    """One database: `read()` and `write()` yield a session inside a transaction.

    `write()` commits when the block ends without an exception, and rolls back otherwise;
    `read()` always rolls back, so a read path cannot write by accident.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._reader = _sqlite_engine(url, "BEGIN", echo)
            self._writer = _sqlite_engine(url, "BEGIN IMMEDIATE", echo)
            # Each statement its own snapshot: no BEGIN and ROLLBACK around one SELECT.
            self._quick = _sqlite_engine(url, None, echo)
        else:
            self._reader = self._writer = create_engine(
                url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20
            )
            self._quick = self._reader
        self._read_sessions = sessionmaker(self._reader, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        """The engine writes go through (migrations use it)."""
        return self._writer

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A plain connection for hot read paths that run pre-built Core statements, with
        no ORM session set up and torn down around them (half the cost of a small
        query). On SQLite each statement reads the latest commit by itself (no BEGIN
        sent): callers that need several statements to see one snapshot use read()."""
        with self._quick.connect() as connection:
            try:
                yield connection
            finally:
                connection.rollback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self._reader.dispose()
        if self._quick is not self._reader:
            self._quick.dispose()
        if self._writer is not self._reader:
            self._writer.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL, or None (in-memory, or not SQLite at all)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///").partition("?")[0])


def _sqlite_engine(url: str, begin: str | None, echo: bool) -> Engine:
    """An engine whose transactions start with `begin` (None: statements autocommit)."""
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
    in_memory = url in {"sqlite://", "sqlite:///:memory:"}
    engine = create_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        # Pooled connections for files: each connect pays for opening and the pragmas.
        poolclass=StaticPool if in_memory else QueuePool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's
        # implicit BEGIN comes too late for SAVEPOINTs and can't be IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)

    return engine
