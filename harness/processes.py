"""A server's processes as /proc shows them (a supervisor and its workers, or a peer's
tree): which they are, their CPU time and their memory, for benchmarks and tests."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def parents() -> dict[int, int]:
    """Each process and its parent."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                found[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    return found


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    known = parents()
    found, todo = [root], [root]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in known.items() if ppid == parent]
        found += children
        todo += children
    return found


def memory_kib(root: int) -> dict[str, int]:
    """VmRSS and Pss (shared pages counted once in all) summed over the tree, and how
    many processes it has."""
    rss = pss = 0
    pids = tree(root)
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return {"rss": rss, "pss": pss, "processes": len(pids)}


def cpu_seconds(root: int | None) -> float:
    """User + system CPU time of the tree's live processes (/proc/PID/stat)."""
    if root is None:
        return 0.0
    total = 0
    for pid in tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
