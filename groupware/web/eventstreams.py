"""Open event streams (server-sent events), carried on the runtime's asyncio loop.

Once a view's response has become a stream and its head is out, web/server.py takes
the connection out of waitress's loop and hands its socket here: waitress's loop walks
every connection it holds on each turn (and flushes without the lock that writers from
other threads take), while asyncio's waits on epoll and writes from its own thread. So
a thousand idle tabs cost the portal's pages nothing, and an event published from any
thread reaches its stream safely.

A stream gets a comment line every HEARTBEAT seconds (it and any proxy stay awake),
ends after LIFETIME seconds (the browser reconnects, which checks its login again), and
is dropped when its client reads nothing while BACKLOG octets wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)
HEARTBEAT = 25
LIFETIME = 15 * 60
BACKLOG = 256 * 1024


class Feed(Protocol):
    """What a view hands over to keep its response open: `start` gets the function
    that sends an event from any thread (False once the stream is gone); `stop` comes
    when it ends."""

    def start(self, send: Callable[[bytes], bool]) -> None: ...
    def stop(self) -> None: ...


class StreamCarrier:
    """The open streams; `release` frees the client address's place once one ends."""

    def __init__(self, release: Callable[[str | None], None]) -> None:
        self._release = release
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open: set[_Stream] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def count(self) -> int:
        return len(self._open)

    def adopt(self, sock: socket.socket, feed: Feed, *, chunked: bool, ip: str | None) -> None:
        """Carry `feed` on `sock` from now on (called from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._give_up(sock, feed, ip)
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(self._connect(sock, feed, chunked, ip)))

    async def _connect(
        self, sock: socket.socket, feed: Feed, chunked: bool, ip: str | None
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: _Stream(self, feed, chunked=chunked, ip=ip), sock=sock
            )
        except OSError:
            self._give_up(sock, feed, ip)

    def _give_up(self, sock: socket.socket, feed: Feed, ip: str | None) -> None:
        with contextlib.suppress(OSError):
            sock.close()
        feed.stop()
        self._release(ip)

    def opened(self, stream: _Stream) -> None:
        self._open.add(stream)

    def ended(self, stream: _Stream, ip: str | None) -> None:
        self._open.discard(stream)
        self._release(ip)

    def close_all(self) -> None:
        """End every stream (the server stops); call on the loop."""
        for stream in list(self._open):
            stream.close()


class _Stream(asyncio.Protocol):
    def __init__(self, carrier: StreamCarrier, feed: Feed, *, chunked: bool, ip: str | None):
        self._carrier = carrier
        self._feed = feed
        self._chunked = chunked  # HTTP/1.1 chunked framing, as the head announced
        self._ip = ip
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._timers: list[asyncio.TimerHandle] = []
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._carrier.opened(self)
        self._timers = [
            self._loop.call_later(HEARTBEAT, self._beat),
            self._loop.call_later(LIFETIME, self.close),
        ]
        self._feed.start(self.send)

    def send(self, event: bytes) -> bool:
        """Queue `event` from any thread; False once the stream has ended."""
        if self._closed:
            return False
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server stops
            self._loop.call_soon_threadsafe(self._write, event)
            return True
        return False

    def _write(self, event: bytes) -> None:
        transport = self._transport
        if self._closed or transport is None:
            return
        if transport.get_write_buffer_size() > BACKLOG:
            log.info("event stream of %s dropped: its client reads nothing", self._ip)
            self.close()
            return
        transport.write(b"%X\r\n%s\r\n" % (len(event), event) if self._chunked else event)

    def _beat(self) -> None:
        self._write(b":\n\n")
        if not self._closed:
            self._timers[0] = self._loop.call_later(HEARTBEAT, self._beat)

    def data_received(self, data: bytes) -> None:
        self.close()  # a stream's client has nothing more to ask

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._feed.stop()
        self._carrier.ended(self, self._ip)
