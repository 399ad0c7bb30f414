"""What hostile clients do to a line protocol, over a raw socket, for the abuse tests of IMAP
and POP3: trickle bytes, pipeline without reading, flood; and the server's memory meanwhile
(tracemalloc, the servers running in this process). Loops are bounded in count and time."""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

GIVE_UP = 30.0  # seconds: far past every timer the tests set, so a hang fails, not stalls


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def trickle_until_closed(
    sock: socket.socket, payload: bytes, every: float = 0.25
) -> tuple[bytes, float]:
    """Send `payload` a byte at a time (from the start again when it runs out), one every
    `every` seconds, reading what comes, until the server closes the connection: (what
    was read, seconds it took). Gives up after GIVE_UP seconds."""
    started = time.monotonic()
    received = b""
    sock.settimeout(every)
    sent = 0
    while time.monotonic() - started < GIVE_UP:
        at = sent % len(payload)
        try:
            sock.sendall(payload[at : at + 1])
            chunk = sock.recv(65536)
        except TimeoutError:
            sent += 1
            continue
        except OSError:  # reset or broken pipe: closed
            break
        if not chunk:
            break
        received += chunk
        sent += 1
    return received, time.monotonic() - started


def wait_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Read until the server closes: (what was read, seconds it took); GIVE_UP at most."""
    started = time.monotonic()
    received = b""
    sock.settimeout(1)
    while time.monotonic() - started < GIVE_UP:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started


def send_without_reading(sock: socket.socket, data: bytes, seconds: float = 10.0) -> int:
    """Send as much of `data` as the server takes in `seconds`, reading nothing; the
    octets sent (the server may close or stop reading on the way)."""
    sock.settimeout(seconds)
    sent = 0
    view = memoryview(data)
    try:
        while sent < len(data):
            sent += sock.send(view[sent : sent + 65536])
    except OSError:  # closed, reset or no room for that long
        pass
    return sent


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Trace allocations in this process (servers included) for the block; the callable
    gives the highest rise above the start so far, in octets."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        yield lambda: tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def eventually(attempt: Callable[[], T], within: float = 10.0) -> T:
    """`attempt()` once it stops failing (the server notices a close a moment later)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return attempt()
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
