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
from groupware.store.locks import SQLITE_BUCKETS, SharedLocks, lock_number

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


def test_a_holder_may_take_more_inside_even_on_its_own_bucket(database_url: str) -> None:
    """A room's booking, then its calendar: two lockers of one thread never wait on
    themselves, even for a name that falls where one they hold fell (one file, on SQLite)."""
    database = Database(database_url)
    room, calendar = SharedLocks(database), SharedLocks(database)
    same_bucket = next(
        f"name-{n}"
        for n in range(100_000)
        if lock_number(f"name-{n}") % SQLITE_BUCKETS == lock_number("room") % SQLITE_BUCKETS
    )
    done = threading.Event()

    def nested() -> None:
        with room.holding(["room"]), calendar.holding([same_bucket, "room"]):
            done.set()

    thread = threading.Thread(target=nested, daemon=True)
    try:
        thread.start()
        assert done.wait(10)
        thread.join(10)
        with room.holding(["room"]):  # and all was let go
            pass
    finally:
        database.dispose()
