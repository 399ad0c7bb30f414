"""store/locks.py: a named lock is held by one holder at a time across processes (and so
nodes) on SQLite and PostgreSQL, threads of one process included; names taken in any
order by two holders never deadlock."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from pathlib import Path

from groupware.store import Database
from groupware.store.locks import SharedLocks

HOLD_SECONDS = 0.3


def hold(url: str, names: list[str], log: Path, tag: str) -> None:
    """Take the lock, note when, wait, note when it is let go (in another process)."""
    database = Database(url)
    try:
        with SharedLocks(database).holding(names):
            with log.open("a") as out:
                out.write(f"{tag} in {time.time()}\n")
            time.sleep(HOLD_SECONDS)
            with log.open("a") as out:
                out.write(f"{tag} out {time.time()}\n")
    finally:
        database.dispose()


def spans(log: Path) -> list[tuple[float, float]]:
    seen: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        tag, what, when = line.split()
        seen.setdefault(tag, {})[what] = float(when)
    return sorted((times["in"], times["out"]) for times in seen.values())


def test_one_holder_at_a_time_across_processes_and_threads(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    context = multiprocessing.get_context("spawn")  # a fresh process, as another worker
    others = [
        context.Process(target=hold, args=(database_url, names, log, f"p{n}"))
        for n, names in enumerate((["alice/calendar"], ["room/calendar", "alice/calendar"]))
    ]
    for process in others:
        process.start()
    threads = [
        threading.Thread(target=hold, args=(database_url, ["alice/calendar", "x"], log, "t0")),
        threading.Thread(target=hold, args=(database_url, ["alice/calendar"], log, "t1")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for process in others:
        process.join(30)
        assert process.exitcode == 0
    held = spans(log)
    assert len(held) == 4
    for (_, first_out), (second_in, _) in itertools.pairwise(held):
        assert second_in >= first_out  # never two at once


def test_other_names_do_not_wait(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    locks = SharedLocks(database)
    try:
        with locks.holding(["alice/calendar"]):
            done = threading.Event()

            def other() -> None:
                with locks.holding(["bob/calendar"]):
                    done.set()

            thread = threading.Thread(target=other)
            thread.start()
            assert done.wait(10)  # not held up by alice's
            thread.join()
    finally:
        database.dispose()
