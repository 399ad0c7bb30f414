"""Group commit: many small write transactions committed together, so one fsync of the
database serves a whole batch while each caller still waits for its own durability.

Each unit runs in a SAVEPOINT of the shared transaction: a unit that raises is undone
alone and its caller gets the exception; the others commit. Callers block until the
batch's COMMIT returned, so "accepted" still means "on disk".

Batches of several processes or nodes on PostgreSQL take turns (a transaction advisory
lock), as they do in one process: two batches updating the same mailboxes' counters in
different orders deadlocked (bench/smtp.py, two workers, 32 connections: 451s and a
p99 of 2.3 s). SQLite's one writer takes turns by itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from groupware.store.database import Database
from groupware.store.locks import lock_number

T = TypeVar("T")
MAX_BATCH = 128
TURN = text("SELECT pg_advisory_xact_lock(:n)")
TURN_LOCK = lock_number("group-commit")
_STOP = object()


class GroupCommit:
    def __init__(self, database: Database, max_batch: int = MAX_BATCH) -> None:
        self._db = database
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, unit: Callable[[Session], T]) -> T:
        """Run `unit` in the next batch; return its result once the batch committed."""
        future: Future[T] = Future()
        self._ensure_thread()
        self._queue.put((unit, future))
        return future.result()

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join(10)
                self._thread = None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            self._commit([item for item in batch if item is not _STOP])
            if stop:
                return

    def _commit(self, batch: list[tuple[Callable[[Session], Any], Future[Any]]]) -> None:
        if not batch:
            return
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._db.write() as session:
                if not self._db.is_sqlite:
                    session.execute(TURN, {"n": TURN_LOCK})
                for unit, future in batch:
                    try:
                        with session.begin_nested():
                            outcomes.append((future, unit(session), None))
                    except Exception as error:  # undone alone; its caller gets it
                        outcomes.append((future, None, error))
        except Exception as failure:  # the COMMIT itself failed: nobody is durable
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        for future, result, problem in outcomes:
            if problem is not None:
                future.set_exception(problem)
            else:
                future.set_result(result)
