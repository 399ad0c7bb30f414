"""The connection counts worker processes share (protocols/tally.py): each writes its own
row of one shared map, a count is the sum, and a row is cleared when its worker ends."""

from __future__ import annotations

import os

from groupware.protocols.connections import ConnectionLimits
from groupware.protocols.tally import Tally


def test_counts_written_in_forked_workers_are_seen_by_all() -> None:
    tally = Tally(rows=3, buckets=4096)
    children = []
    for row in (1, 2):
        pid = os.fork()
        if pid == 0:  # a worker: its own row, then gone (its counts stay until cleared)
            tally.use_row(row)
            for _ in range(row * 2):
                tally.add("imap 192.0.2.1", 1)
            tally.add("imap", 5)
            os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    tally.add("imap 192.0.2.1", 1)  # this process: row 0
    assert tally.count("imap 192.0.2.1") == 1 + 2 + 4
    assert tally.count("imap") == 10
    assert tally.count("imap 192.0.2.2") == 0
    tally.clear(2)  # the second worker ended: its connections with it
    assert tally.count("imap 192.0.2.1") == 3
    assert tally.count("imap") == 5


def test_a_count_is_never_below_the_truth_even_with_few_buckets() -> None:
    """Keys share buckets (here: 64 buckets, 500 keys); a count may grow, never shrink."""
    tally = Tally(rows=2, buckets=64)
    truth = {f"pop3 10.0.{n // 256}.{n % 256}": n % 7 for n in range(500)}
    for key, amount in truth.items():
        tally.use_row(hash(key) % 2)
        tally.add(key, amount)
    assert all(tally.count(key) >= amount for key, amount in truth.items())
    exact = Tally(rows=1)
    exact.add("smtp 192.0.2.9", 3)
    assert exact.count("smtp 192.0.2.9") == 3  # with room, exact


def test_two_workers_limits_are_the_servers() -> None:
    """Two processes' listeners on one tally: the per-address limit is for both."""
    tally = Tally(rows=2, buckets=4096)
    first = ConnectionLimits(total=100, per_ip=3, tally=tally, name="imap")
    assert first.admit("192.0.2.1") and first.admit("192.0.2.1")
    pid = os.fork()
    if pid == 0:
        tally.use_row(1)
        second = ConnectionLimits(total=100, per_ip=3, tally=tally, name="imap")
        admitted = [second.admit("192.0.2.1") for _ in range(3)]
        os._exit(0 if admitted == [True, False, False] else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert not first.admit("192.0.2.1")
    assert first.open == 3
    assert ConnectionLimits(100, 3, tally, "pop3").admit("192.0.2.1")  # another listener
    tally.clear(1)
    assert first.admit("192.0.2.1")
