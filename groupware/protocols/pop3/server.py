"""POP3 listeners (110 with STLS, 995 with TLS): bounded, timed line reads, the login
and autologout timers, the conversation of a session. Accepting, connection limits and
stopping are streams.py's, shared with IMAP. New limits go in session.Limits."""

from __future__ import annotations

import asyncio
import logging
import ssl

from groupware.blocking import Blocking
from groupware.config import Config, Endpoint
from groupware.protocols import streams
from groupware.protocols.pop3 import dispatch, grammar
from groupware.protocols.pop3.replies import Refused
from groupware.protocols.pop3.session import Hangup, Limits, LineTooLong, Session, State
from groupware.protocols.tally import Tally
from groupware.services import Services

log = logging.getLogger(__name__)
MAX_SKIPPED = 64 * 1024  # an over-long line longer than this ends the connection


class StreamChannel(streams.StreamChannel):
    """A POP3 session's socket: bounded, timed line reads. Before login the whole
    conversation must fit in the deadline; a drain waits the autologout at most for a
    client to take anything (RFC 1939 §3: it is inactive)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
        limits: Limits,
    ) -> None:
        super().__init__(reader, writer, tls)
        self._limits = limits
        self.patience = limits.autologout

    def timed_out(self) -> Exception:
        return Hangup("too slow to log in, or to read")

    def pipelined(self) -> Exception:
        return Hangup("data pipelined after STLS")

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


class POP3Listener(streams.StreamListener[StreamChannel]):
    """One POP3 port: "pop3" (STLS) or "pop3s" (implicit TLS)."""

    BUSY = b"-ERR [SYS/TEMP] Too many connections; try again later\r\n"
    SHUTTING_DOWN = b"-ERR [SYS/TEMP] Server shutting down\r\n"
    ENDS = (Hangup,)  # RFC 1939 §6: no QUIT, no UPDATE; the marked messages stay
    IMPLICIT_TLS = "pop3s"

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        config: Config,
        services: Services,
        blocking: Blocking,
        tls: ssl.SSLContext,
        tally: Tally | None = None,
    ) -> None:
        pop3 = config.pop3
        # read per connection, so tests may shorten the timers
        self.limits = Limits(login_timeout=pop3.login_timeout)
        shared = config.server.workers > 1
        super().__init__(name, endpoint, tls, self.limits.max_line, pop3, shared, tally)
        self._services = services
        self._blocking = blocking

    def open_channel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
    ) -> StreamChannel:
        return StreamChannel(reader, writer, tls, self.limits)

    async def serve(self, channel: StreamChannel) -> None:
        limits = self.limits
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
