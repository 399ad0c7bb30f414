"""IMAP listeners (143 with STARTTLS, 993 with TLS) on the runtime's event loop: reading
command lines and literals (big ones spooled to a file as they arrive), limits, and the
socket side of a session. What commands mean lives in the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from groupware.blocking import Blocking
from groupware.config import Config, Endpoint
from groupware.protocols.connections import ConnectionLimits
from groupware.protocols.imap import dispatch, grammar
from groupware.protocols.imap.commands import Spooled
from groupware.protocols.imap.handlers.anystate import capabilities
from groupware.protocols.imap.session import ConnectionClosed, Limits, Session, State
from groupware.services import Services

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
MAX_UNPARSABLE = 20  # unparsable commands in a row before "* BYE" (as Dovecot does)


class StreamChannel:
    """A session's socket: asyncio streams, with STARTTLS and bounded line reads."""

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
        self._deflate: Any = None  # a zlib compressor once COMPRESS is active
        self._unsent: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self._deflate is None:
            self.writer.write(data)
        else:
            self._unsent.append(data)

    async def drain(self) -> None:
        if self._deflate is not None and self._unsent:
            data = b"".join(self._unsent)
            self._unsent.clear()
            self.writer.write(self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH))
        await self.writer.drain()

    async def readline(self) -> bytes:
        """One line without its line break; b"" when the client went away."""
        try:
            line = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return b""
        except asyncio.LimitOverrunError:
            raise LineTooLong from None
        return line[:-2] if line.endswith(b"\r\n") else line[:-1]

    async def read_literal(self, size: int, spool: Path) -> bytes | Spooled:
        """A literal's octets: in memory when small, else streamed to a spool file."""
        if size <= self._limits.memory_literal:
            return await self.reader.readexactly(size)
        spool.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=spool, prefix="imap-")
        with os.fdopen(fd, "wb") as handle:
            left = size
            while left:
                chunk = await self.reader.readexactly(min(CHUNK, left))
                handle.write(chunk)
                left -= len(chunk)
        return Spooled(Path(name), size)

    async def start_tls(self) -> None:
        assert self._tls is not None
        if self.reader._buffer:  # type: ignore[attr-defined]
            # Commands sent behind STARTTLS in clear must not run as if protected
            # (CVE-2011-0411 class): drop the connection.
            raise ConnectionClosed("data pipelined after STARTTLS")
        await self.writer.start_tls(self._tls)
        self.secure = True

    def compress(self) -> None:
        """RFC 4978: from now on both directions are raw DEFLATE streams; what we send
        is flushed (Z_SYNC_FLUSH) at each drain, so every response arrives whole."""
        transport = self.writer.transport
        transport.set_protocol(InflatingProtocol(transport.get_protocol(), transport))
        self._deflate = zlib.compressobj(wbits=-15)


class LineTooLong(Exception):
    pass


class InflatingProtocol(asyncio.Protocol):
    """Sits between the transport and the stream's protocol, inflating what arrives."""

    MAX_BURST = 64 * 1024 * 1024  # what one read may inflate to (a deflate bomb stops here)

    def __init__(self, inner: Any, transport: asyncio.BaseTransport) -> None:
        self._inner = inner
        self._transport = transport
        self._inflate = zlib.decompressobj(wbits=-15)

    def data_received(self, data: bytes) -> None:
        try:
            plain = self._inflate.decompress(data, self.MAX_BURST)
        except zlib.error:
            plain = None
        if plain is None or self._inflate.unconsumed_tail:
            self._transport.close()  # corrupt or explosive input: no way to resynchronise
            return
        if plain:
            self._inner.data_received(plain)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class IMAPListener:
    """One IMAP port: "imap" (STARTTLS) or "imaps" (implicit TLS)."""

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
        self._implicit = name == "imaps"
        imap = config.imap
        self._limits = Limits(
            max_line=imap.max_line,
            max_literal=imap.max_literal,
            idle_timeout=imap.idle_timeout,
            compress=imap.compress,
            max_per_user=imap.max_connections_per_user,
        )
        self._spool = Path(config.data_dir) / "spool"
        self._server: asyncio.Server | None = None
        self._users: Counter[int] = Counter()  # logged-in connections per account
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = ConnectionLimits(imap.max_connections, imap.max_connections_per_ip)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.endpoint.host,
            self.endpoint.port,
            ssl=self._tls if self._implicit else None,
            limit=self._limits.max_line,
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
        channel = StreamChannel(reader, writer, None if self._implicit else self._tls, self._limits)
        ip = channel.peer
        try:
            if not self.connections.admit(ip):
                writer.write(b"* BYE Too many connections; try again later\r\n")
                return
            try:
                await self._serve(channel)
            finally:
                self.connections.release(ip)
        except (ConnectionError, ConnectionClosed, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                writer.write(b"* BYE Server shutting down\r\n")
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, channel: StreamChannel) -> None:
        session = Session(
            channel,
            self._services,
            self._blocking,
            self._limits,
            tls_available=not self._implicit,
            spool=self._spool,
            accounts=self._users,
            hide=self._config.imap.hidden_for,
        )
        unparsable = 0  # commands in a row the grammar refused
        try:
            session.untagged(f"OK [CAPABILITY {' '.join(capabilities(session))}] groupware ready")
            while session.state is not State.LOGOUT:
                await channel.drain()
                try:
                    parts = await asyncio.wait_for(
                        self._read_command(channel, session), self._limits.autologout
                    )
                except TimeoutError:
                    session.untagged("BYE Autologout; idle for too long")
                    break
                except LineTooLong:
                    session.untagged("BYE Command line too long")
                    break
                if parts is None:
                    break
                if not parts:
                    continue  # refused before its literal; already answered
                try:
                    parsed = await self._execute(session, parts)
                finally:
                    _remove_spooled(parts)
                unparsable = 0 if parsed else unparsable + 1
                if unparsable >= MAX_UNPARSABLE:  # a client speaking something else
                    session.untagged("BYE Too many invalid commands")
                    break
            await channel.drain()
        finally:
            session.close()

    async def _read_command(
        self, channel: StreamChannel, session: Session
    ) -> list[bytes | Spooled] | None:
        """A command's lines and literals; None at end of stream, [] if refused."""
        parts: list[bytes | Spooled] = []
        total = 0
        while True:
            line = await channel.readline()
            if not line and not parts and channel.reader.at_eof():
                return None
            parts.append(line)
            total += len(line)
            try:
                literal = grammar.literal_request(line)
            except grammar.ParseError:
                return parts  # the parser will say what is wrong
            if literal is None:
                return parts
            if total > self._limits.max_line * 4:
                raise LineTooLong
            too_big = literal.size > self._limits.max_literal
            if too_big and literal.synchronizing:
                # RFC 7888 §4 / RFC 9051 §4.3: refuse before the "+", the client sends nothing
                first = parts[0] if isinstance(parts[0], bytes) else b"*"
                tag = first.split(b" ", 1)[0].decode("ascii", "replace")
                channel.write(f"{tag} NO [TOOBIG] Literal too big\r\n".encode())
                return []
            if too_big:  # a non-synchronising literal is on its way: we cannot skip it
                session.untagged("BYE Literal too big")
                raise ConnectionClosed("literal too big")
            if literal.synchronizing:
                channel.write(b"+ Ready for literal data\r\n")
                await channel.drain()
            parts.append(await channel.read_literal(literal.size, self._spool))

    async def _execute(self, session: Session, parts: list[bytes | Spooled]) -> bool:
        """Parse and run one command; False when it did not parse (answered BAD)."""
        try:
            command = grammar.parse_command(parts)
        except grammar.ParseError as error:
            code = f"[{error.code}] " if error.code else ""
            tag = error.tag or "*"
            # RFC 9051 §6.4.4: an unknown charset is a NO [BADCHARSET], not a BAD
            status = "NO" if error.tag and (error.code or "").startswith("BADCHARSET") else "BAD"
            session.write(f"{tag} {status} {code}{error.message}\r\n".encode())
            return False
        await dispatch.run(session, command)
        return True


def _remove_spooled(parts: list[bytes | Spooled]) -> None:
    for part in parts:
        if isinstance(part, Spooled):
            part.path.unlink(missing_ok=True)
