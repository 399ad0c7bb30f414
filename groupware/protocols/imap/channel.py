"""An IMAP connection's socket, the Channel a Session talks to: the shared stream channel
(streams.py: STARTTLS, one deadline for every wait) with COMPRESS=DEFLATE, bounded line
reads, and literals spooled to files as they arrive (and removed whatever becomes of the
connection). The server sets the deadline; new IMAP socket behaviour goes here."""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from groupware import spool
from groupware.protocols import streams
from groupware.protocols.imap.commands import Spooled
from groupware.protocols.imap.session import ConnectionClosed

CHUNK = 64 * 1024


class LineTooLong(ConnectionClosed):
    def __init__(self) -> None:
        super().__init__("line too long", bye="Command line too long")


class TimedOut(ConnectionClosed):
    """The deadline passed while waiting on the client (a read, or a write it does not
    take): the server picks the BYE, which depends on the state."""


class StreamChannel(streams.StreamChannel):
    """An IMAP session's socket: the shared stream channel (deadline, patience,
    STARTTLS) with COMPRESS=DEFLATE, line reads bounded by the stream's limit, and
    literals spooled to files. TimedOut when the deadline or patience runs out."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
        spool: Path,
    ) -> None:
        super().__init__(reader, writer, tls)
        self._spool = spool
        self._deflate: Any = None  # a zlib compressor once COMPRESS is active
        self._unsent: list[bytes] = []
        self._spooled: set[Path] = set()  # this connection's spool files not yet removed
        self.ended = False  # the client closed its side (what it sent last had no CRLF)

    def timed_out(self) -> Exception:
        return TimedOut("the client took too long")

    def pipelined(self) -> Exception:
        return ConnectionClosed("data pipelined after STARTTLS")

    def write(self, data: bytes) -> None:
        if self._deflate is None:
            super().write(data)
        else:
            self._unsent.append(data)

    async def drain(self) -> None:
        if self._deflate is not None and self._unsent:
            data = b"".join(self._unsent)
            self._unsent.clear()
            super().write(self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH))
        await super().drain()

    async def readline(self) -> bytes:
        """One line without its line break; b"" when the client went away (and `ended`)."""
        try:
            line = await self._bounded(self.reader.readuntil(b"\n"))
        except asyncio.IncompleteReadError:
            self.ended = True
            return b""
        except asyncio.LimitOverrunError:
            raise LineTooLong from None
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    async def read_literal(self, size: int, in_memory: bool) -> bytes | Spooled:
        """A literal's octets: in memory, or streamed to a spool file that this channel
        removes at the latest when the connection ends (see `release`)."""
        if in_memory:
            return await self._bounded(self.reader.readexactly(size))
        path, handle = spool.create(self._spool, "imap-")
        self._spooled.add(path)
        with handle:
            left = size
            while left:
                chunk = await self._bounded(self.reader.readexactly(min(CHUNK, left)))
                handle.write(chunk)
                left -= len(chunk)
        return Spooled(path, size)

    def release(self, parts: Iterable[object] | None = None) -> None:
        """Remove the spool files among a command's `parts` (None: every file this
        connection still has, whether its command ran, was refused or was cut off)."""
        if parts is None:
            paths = set(self._spooled)
        else:
            paths = {part.path for part in parts if isinstance(part, Spooled)}
        for path in paths:
            path.unlink(missing_ok=True)
            self._spooled.discard(path)

    def compress(self) -> None:
        """RFC 4978: from now on both directions are raw DEFLATE streams; what we send
        is flushed (Z_SYNC_FLUSH) at each drain, so every response arrives whole."""
        transport = self.writer.transport
        reader = self.reader

        def reader_full() -> bool:
            # Read straight off the buffer: after STARTTLS the reader pauses the socket's
            # transport, not the TLS one this protocol sits on.
            return len(reader._buffer) >= InflatingProtocol.PIECE  # type: ignore[attr-defined]

        inflating = InflatingProtocol(transport.get_protocol(), transport, reader_full)
        transport.set_protocol(inflating)
        self._deflate = zlib.compressobj(wbits=-15)


class InflatingProtocol(asyncio.Protocol):
    """Sits between the transport and the stream's protocol, inflating what arrives.

    It inflates PIECE octets at a time and only while the stream reader has room
    (`reader_full` says when it has not); what waits stays compressed. So a
    deflate bomb (one read of 256 KiB can inflate to 256 MiB) costs no more memory than a
    plain client sending the same octets, and a legitimate big compressed APPEND still
    arrives whole.
    """

    PIECE = 64 * 1024
    HELD = 256 * 1024  # compressed octets kept waiting before the socket is paused
    RETRY = 0.002  # seconds between looks at a full reader (only while one is full)

    def __init__(
        self, inner: Any, transport: asyncio.BaseTransport, reader_full: Callable[[], bool]
    ) -> None:
        self._inner = inner
        self._transport = transport
        self._reader_full = reader_full
        self._inflate = zlib.decompressobj(wbits=-15)
        self._waiting: deque[bytes] = deque()  # compressed, not inflated yet
        self._retry: asyncio.TimerHandle | None = None
        self._eof = False  # the client closed its side; told once the waiting is inflated
        self._paused = False  # we paused the transport (too much waiting)

    def data_received(self, data: bytes) -> None:
        self._waiting.append(data)
        if self._retry is None:
            self._pump()
        if not self._paused and sum(map(len, self._waiting)) > self.HELD:
            self._paused = True
            self._transport.pause_reading()  # type: ignore[attr-defined]

    def _pump(self) -> None:
        self._retry = None
        while self._waiting:
            if self._reader_full():  # look again once the session has read some
                loop = asyncio.get_running_loop()
                self._retry = loop.call_later(self.RETRY, self._pump)
                return
            data = self._waiting.popleft()
            try:
                plain = self._inflate.decompress(data, self.PIECE)
            except zlib.error:
                plain = None
            if plain is None or (not plain and self._inflate.unconsumed_tail == data):
                self._waiting.clear()
                self._transport.close()  # corrupt input: no way to resynchronise
                return
            if self._inflate.unconsumed_tail:
                self._waiting.appendleft(self._inflate.unconsumed_tail)
            if plain:
                self._inner.data_received(plain)
        if self._paused:
            self._paused = False
            self._transport.resume_reading()  # type: ignore[attr-defined]
        if self._eof:
            self._eof = False
            self._inner.eof_received()

    def eof_received(self) -> bool | None:
        if self._waiting:  # the reader gets the end after what came before it
            self._eof = True
            return True
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._waiting.clear()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
