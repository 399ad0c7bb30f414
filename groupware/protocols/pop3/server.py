"""POP3 listeners (110 with STLS, 995 with TLS): bounded line reads, the login and
autologout timers, connection limits, the socket side of a session. New limits go in
session.Limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from groupware.blocking import Blocking
from groupware.config import Config, Endpoint
from groupware.protocols.connections import ConnectionLimits
from groupware.protocols.pop3 import dispatch, grammar
from groupware.protocols.pop3.replies import Refused
from groupware.protocols.pop3.session import Hangup, Limits, LineTooLong, Session, State
from groupware.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_SKIPPED = 64 * 1024  # an over-long line longer than this ends the connection


class StreamChannel:
    """A session's socket: asyncio streams, with STLS and bounded, timed line reads.
    `deadline` (the event loop's clock; None: none) also bounds every read and drain:
    before login the whole conversation must fit in it, however the client trickles. A
    drain waits the autologout at most for a client to take anything (RFC 1939 §3: it is
    inactive)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
        limits: Limits,
    ) -> None:
        self.reader, self.writer, self._tls, self._limits = reader, writer, tls, limits
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if peer else ""
        self.secure = writer.get_extra_info("sslcontext") is not None
        self.deadline: float | None = None

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def _bounded(self, waiting: Awaitable[T], patience: float | None = None) -> T:
        at = self.deadline
        if patience is not None:
            until = asyncio.get_running_loop().time() + patience
            at = until if at is None else min(at, until)
        try:
            async with asyncio.timeout_at(at):
                return await waiting
        except TimeoutError:
            raise Hangup("too slow to log in, or to read") from None

    async def drain(self) -> None:
        await self._bounded(self.writer.drain(), self._limits.autologout)

    async def readline(self) -> bytes:
        """One line without its line break. RFC 1939 §3: a client silent for the
        autologout time is cut off without a reply (and without UPDATE)."""
        try:
            line = await self._until_newline()
        except asyncio.LimitOverrunError as error:
            await self._skip_line(error.consumed)
            raise LineTooLong from None
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    async def _until_newline(self) -> bytes:
        # A line has autologout to arrive whole: a trickle does not stretch it.
        timeout = self._limits.autologout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - asyncio.get_running_loop().time())
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\n"), max(timeout, 0))
        except TimeoutError:
            raise Hangup("autologout") from None
        except asyncio.IncompleteReadError:
            raise Hangup("the client closed the connection") from None

    async def _skip_line(self, consumed: int) -> None:
        """Drop the rest of an over-long line (so the next one parses), up to a bound."""
        skipped = 0
        while True:
            await self.reader.readexactly(max(1, consumed))  # already buffered
            skipped += consumed
            if skipped > MAX_SKIPPED:
                raise Hangup("endless line")
            try:
                await self._until_newline()
                return
            except asyncio.LimitOverrunError as error:
                consumed = error.consumed

    async def start_tls(self) -> None:
        assert self._tls is not None
        if self.reader._buffer:  # type: ignore[attr-defined]
            # RFC 2595 §4 and CVE-2011-0411: commands pipelined behind STLS in clear must
            # not run as if protected; hang up instead.
            raise Hangup("data pipelined after STLS")
        await self._bounded(self.writer.start_tls(self._tls))  # a slow handshake too
        self.secure = True


class POP3Listener:
    """One POP3 port: "pop3" (STLS) or "pop3s" (implicit TLS)."""

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        config: Config,
        services: Services,
        blocking: Blocking,
        tls: ssl.SSLContext,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.port = endpoint.port
        self._config = config
        self._services = services
        self._blocking = blocking
        self._tls = tls
        self._implicit = name == "pop3s"
        pop3 = config.pop3
        # read per connection, so tests may shorten the timers
        self.limits = Limits(login_timeout=pop3.login_timeout)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = ConnectionLimits(pop3.max_connections, pop3.max_connections_per_ip)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.endpoint.host,
            self.endpoint.port,
            ssl=self._tls if self._implicit else None,
            limit=self.limits.max_line,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", self.name, self.endpoint.host, self.port)

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
        limits = self.limits
        channel = StreamChannel(reader, writer, None if self._implicit else self._tls, limits)
        ip = channel.peer
        try:
            if not self.connections.admit(ip):
                writer.write(b"-ERR [SYS/TEMP] Too many connections; try again later\r\n")
                return
            try:
                await self._serve(channel, limits)
            finally:
                self.connections.release(ip)
        except (Hangup, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # RFC 1939 §6: no QUIT, no UPDATE; the marked messages stay
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                writer.write(b"-ERR [SYS/TEMP] Server shutting down\r\n")
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, channel: StreamChannel, limits: Limits) -> None:
        session = Session(
            channel, self._services, self._blocking, limits, tls_available=not self._implicit
        )
        session.ok("groupware POP3 server ready")
        loop = asyncio.get_running_loop()
        # Before login the connection has login_timeout in all, whatever it sends (RFC
        # 1939 §3's autologout of at least 10 minutes is for sessions that logged in).
        channel.deadline = loop.time() + limits.login_timeout
        while not session.done:
            if session.state is not State.AUTHORIZATION:
                channel.deadline = None
            await channel.drain()
            if session.bad_commands >= session.limits.max_bad_commands:
                session.refuse(Refused("Too many bad commands; closing the connection"))
                break
            try:
                line = await channel.readline()
                command = grammar.parse_command(line)
            except LineTooLong:
                session.bad_commands += 1
                session.refuse(Refused("Line too long"))
                continue
            except grammar.ParseError as error:
                session.bad_commands += 1
                session.refuse(Refused(error.message))
                continue
            await dispatch.run(session, command)
        await channel.drain()
