"""Lines between the worker processes of one machine, through their supervisor: what
carries the store's events between workers on SQLite (on PostgreSQL, NOTIFY does, and
across machines too).

`FanOut` is the supervisor's end: a Unix socket it reads in its own loop (no thread, so
forking a worker from that loop is safe); every line one worker writes goes to every
connected worker, the writer included. `UnixChannel` is a worker's end, a `Channel` for
services/core/relay.py. A line is one message, ASCII (the relay's JSON is).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

LIMIT = 1 << 16  # bytes of one message
MAX_BACKLOG = 1 << 24  # bytes waiting for one worker before it is cut off
CONNECT_SECONDS = 10.0
SOCKET = "events.sock"  # in the data dir: the supervisor's, mode 0700


class FanOut:
    def __init__(self, path: Path) -> None:
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a supervisor that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o077)  # only this user's processes may join
        try:
            self._server.bind(str(path))
        finally:
            os.umask(old_mask)
        self._server.listen(64)
        self._server.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)
        self._read: dict[socket.socket, bytes] = {}  # partial lines
        self._unsent: dict[socket.socket, bytearray] = {}

    def poll(self, timeout: float) -> None:
        """Accept, read and pass on what is ready, waiting at most `timeout` seconds."""
        for key, events in self._selector.select(timeout):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is self._server:
                self._accept()
                continue
            if events & selectors.EVENT_READ:
                self._receive(sock)
            if events & selectors.EVENT_WRITE and sock in self._unsent:
                self._flush(sock)

    def close_inherited(self) -> None:
        """In a forked worker: let go of the supervisor's sockets (the path stays)."""
        for sock in list(self._read):
            sock.close()
        self._selector.close()
        self._server.close()

    def close(self) -> None:
        for sock in list(self._read):
            self._drop(sock)
        self._selector.close()
        self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            sock, _ = self._server.accept()
            sock.setblocking(False)
            self._read[sock] = b""
            self._unsent[sock] = bytearray()
            self._selector.register(sock, selectors.EVENT_READ)

    def _receive(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(LIMIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        lines = (self._read[sock] + data).split(b"\n")
        self._read[sock] = lines.pop()
        if len(self._read[sock]) > LIMIT:
            log.warning("a worker sent a line over %d bytes; cut off", LIMIT)
            self._drop(sock)
            return
        for line in lines:
            for other in list(self._unsent):
                if other in self._unsent:  # not dropped by an earlier flush
                    self._unsent[other] += line + b"\n"
                    self._flush(other)

    def _flush(self, sock: socket.socket) -> None:
        pending = self._unsent[sock]
        try:
            sent = sock.send(pending) if pending else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(sock)
            return
        del pending[:sent]
        if len(pending) > MAX_BACKLOG:
            log.warning("a worker does not read its events; cut off")
            self._drop(sock)
            return
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
        self._selector.modify(sock, wanted)

    def _drop(self, sock: socket.socket) -> None:
        self._read.pop(sock, None)
        self._unsent.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()


class UnixChannel:
    """A worker's end of the supervisor's FanOut."""

    limit = LIMIT - 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self, heard: Callable[[str], None] | None) -> None:
        """Connect (a worker waits for its supervisor's socket; a command, which only
        sends (`heard` None), tries once) and start sending, and listening if asked."""
        deadline = time.monotonic() + (CONNECT_SECONDS if heard is not None else 0)
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.path))
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock = sock
        self._threads = [
            threading.Thread(target=self._send, args=(sock,), name="events-out", daemon=True)
        ]
        if heard is not None:
            self._threads.append(
                threading.Thread(
                    target=self._listen, args=(sock, heard), name="events-in", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def send(self, payload: str) -> None:
        """Queue one line: a publisher never waits on the supervisor."""
        data = payload.encode("ascii") + b"\n"
        if len(data) > LIMIT or b"\n" in data[:-1]:
            raise ValueError("not one line of at most LIMIT bytes")
        self._outbox.put(data)

    def _send(self, sock: socket.socket) -> None:
        while (data := self._outbox.get()) is not None:
            try:
                sock.sendall(data)
            except OSError as exc:  # the reading side stops this worker
                log.warning("event channel lost: %s", exc)
                return

    def stop(self) -> None:
        """Send what is queued, then close."""
        self._stopping = True
        self._outbox.put(None)
        if self._threads:
            self._threads[0].join(5)  # the sender
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        for thread in self._threads:
            thread.join(5)
        self._threads = []

    def _listen(self, sock: socket.socket, heard: Callable[[str], None]) -> None:
        with contextlib.suppress(OSError), sock.makefile("rb") as lines:
            for line in lines:
                try:
                    heard(line.rstrip(b"\n").decode("ascii"))
                except Exception:
                    log.exception("event relay could not take a message")
        if not self._stopping:
            # Cut off by the supervisor (or it is gone): a worker that hears no other
            # worker's mail would serve stale views, so it stops and is started again.
            log.error("event channel to the supervisor closed; this worker stops")
            os.kill(os.getpid(), signal.SIGTERM)
