"""The socket side shared by the line-based front doors (IMAP and POP3): a listener that
accepts connections, turns away those over its limits, tracks them and ends them all on
stop; and a stream channel with STARTTLS and one deadline for every wait. What a protocol
says and how it reads its commands stays in its own package (imap/, pop3/); SMTP runs on
aiosmtpd's server instead.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable
from typing import Generic, Protocol, TypeVar

from groupware.config import Endpoint
from groupware.protocols.connections import ConnectionLimits
from groupware.protocols.tally import Tally

log = logging.getLogger(__name__)
T = TypeVar("T")


class StreamChannel(abc.ABC):
    """A session's socket: asyncio streams with STARTTLS. `deadline` (the event loop's
    clock; None: none) bounds every wait on the client, however it trickles its bytes,
    and a drain waits `patience` seconds at most for a client to take anything; past
    either, `timed_out()` is raised. Each protocol names its own exceptions."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.reader, self.writer, self._tls = reader, writer, tls
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        self.secure = writer.get_extra_info("sslcontext") is not None
        self.deadline: float | None = None
        self.patience: float | None = None

    @abc.abstractmethod
    def timed_out(self) -> Exception:
        """What a missed deadline raises."""

    @abc.abstractmethod
    def pipelined(self) -> Exception:
        """What data sent in clear behind STARTTLS raises (the connection ends)."""

    async def _bounded(self, waiting: Awaitable[T], patience: float | None = None) -> T:
        at = self.deadline
        if patience is not None:
            until = asyncio.get_running_loop().time() + patience
            at = until if at is None else min(at, until)
        try:
            async with asyncio.timeout_at(at):
                return await waiting
        except TimeoutError:
            raise self.timed_out() from None

    def write(self, data: bytes) -> None:
        if self.writer.transport.is_closing():
            return  # nothing would arrive, and asyncio logs a warning for every such write
        self.writer.write(data)

    async def drain(self) -> None:
        # A client that reads nothing is not active (RFC 9051 §5.4, RFC 1939 §3): it must
        # not hold the connection past the deadline, nor for ever once logged in.
        transport = self.writer.transport
        if (
            transport.get_write_buffer_size() == 0
            and not transport.is_closing()
            and self.reader.exception() is None
        ):
            # All sent and the connection whole: asyncio's drain would return at once
            # too (it raises the reader's error, and yields only once closing), so no
            # timer is set and cancelled. One delivery drains 10,000 IDLE sessions.
            return
        await self._bounded(self.writer.drain(), self.patience)

    async def start_tls(self) -> None:
        assert self._tls is not None
        if self.reader._buffer:  # type: ignore[attr-defined]
            # Commands pipelined behind STARTTLS/STLS in clear must not run as if
            # protected (RFC 2595 §4, CVE-2011-0411): the connection ends instead.
            raise self.pipelined()
        await self._bounded(self.writer.start_tls(self._tls))  # a slow handshake too
        self.secure = True


C = TypeVar("C", bound=StreamChannel)


class ConnectionSettings(Protocol):
    """A listener's section of the configuration ([imap], [pop3])."""

    @property
    def max_connections(self) -> int: ...
    @property
    def max_connections_per_ip(self) -> int: ...


class StreamListener(abc.ABC, Generic[C]):
    """One port of a line protocol, with implicit TLS or STARTTLS. A subclass opens its
    channel (`open_channel`), holds the conversation (`serve`) and says what a client
    turned away (`BUSY`) or cut off by a stop (`SHUTTING_DOWN`) reads; `ENDS` are its
    exceptions that simply end a connection; `IMPLICIT_TLS` names its TLS port."""

    BUSY = b""
    SHUTTING_DOWN = b""
    ENDS: tuple[type[BaseException], ...] = ()
    IMPLICIT_TLS = ""

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        tls: ssl.SSLContext,
        max_line: int,
        section: ConnectionSettings,
        reuse_port: bool = False,
        tally: Tally | None = None,
    ) -> None:
        self.name = name
        self.reuse_port = reuse_port  # several worker processes serve this port
        self.endpoint = endpoint
        self.port = endpoint.port
        self.connections = ConnectionLimits(
            section.max_connections, section.max_connections_per_ip, tally, name
        )
        self._tls = tls
        self._implicit = name == self.IMPLICIT_TLS
        self._max_line = max_line
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        ends = (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, *self.ENDS)
        self._ends: tuple[type[BaseException], ...] = ends

    @abc.abstractmethod
    def open_channel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
    ) -> C:
        """The channel of a new connection (`tls`: for STARTTLS, None with implicit TLS)."""

    @abc.abstractmethod
    async def serve(self, channel: C) -> None:
        """The conversation of one connection, until it ends."""

    def closed(self, channel: C) -> None:
        """The connection has ended, however: free what it still holds."""

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.endpoint.host,
            self.endpoint.port,
            ssl=self._tls if self._implicit else None,
            limit=self._max_line,
            reuse_port=self.reuse_port or None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", self.name, self.endpoint.host, self.port)

    def stop_accepting(self) -> None:
        """Leave new connections to the other workers; serve the open ones on."""
        if self._server is not None:
            self._server.close()

    def busy(self) -> int:
        return self.connections.here

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        channel = self.open_channel(reader, writer, None if self._implicit else self._tls)
        ip = channel.peer
        try:
            if not self.connections.admit(ip):
                writer.write(self.BUSY)
                return
            try:
                await self.serve(channel)
            finally:
                self.connections.release(ip)
        except self._ends:
            pass
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                writer.write(self.SHUTTING_DOWN)
        finally:
            self._tasks.discard(task)
            self.closed(channel)
            with contextlib.suppress(Exception):
                writer.close()
