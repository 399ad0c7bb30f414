"""IMAP listeners (143 with STARTTLS, 993 with TLS) on the runtime's event loop: reading
command lines and literals within what a command may bring (see Allowance). Accepting,
connection limits and stopping are streams.py's, shared with POP3; the socket side of a
session is channel.py. What commands mean lives in the handlers."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from groupware.blocking import Blocking
from groupware.cache import TimedCache
from groupware.config import Config, Endpoint
from groupware.protocols import streams
from groupware.protocols.imap import dispatch, grammar
from groupware.protocols.imap.channel import LineTooLong, StreamChannel, TimedOut
from groupware.protocols.imap.commands import Spooled
from groupware.protocols.imap.handlers.anystate import capabilities
from groupware.protocols.imap.loopevents import LoopEvents
from groupware.protocols.imap.session import ConnectionClosed, Limits, Session, State
from groupware.protocols.tally import Tally
from groupware.services import Services

log = logging.getLogger(__name__)
MAX_UNPARSABLE = 20  # unparsable commands in a row before "* BYE" (as Dovecot does)
# Before login a command is small: a login, an ID. Literals of 4 KiB at most, whether
# synchronising or not (RFC 7888 §4 LITERAL-, which we advertise then; Dovecot's imap-login
# takes a few KiB), and 32 KiB in all, lines and literals: RFC 2971 §3.3's largest ID (30
# fields of 30 octets, values of 1024) fits, and an anonymous client claims no more memory.
PRE_LOGIN_COMMAND = 32 * 1024
PRE_LOGIN_LITERAL = 4096
MAX_LITERALS = 1000  # literals in one command (MULTIAPPEND messages, CATENATE parts)
LAST_WORDS = 5.0  # seconds a closing BYE may take to go out
ENVELOPES_KEPT = 10_000  # rendered ENVELOPEs per listener (a few hundred bytes each)


@dataclass
class Allowance:
    """What one command may still bring. Before login: 32 KiB in all, lines and literals,
    and literals of 4 KiB at most. After: line pieces of four times max_line, literals of
    max_literal in all (one APPENDLIMIT for every message of a MULTIAPPEND or CATENATE), of
    which memory_literal octets are kept in memory and the rest spooled to files; and
    MAX_LITERALS literals."""

    lines: int
    literals: int
    memory: int
    largest: int  # one literal
    shared: bool  # lines and literals draw on one allowance (before login)
    count: int = MAX_LITERALS

    @classmethod
    def before_login(cls) -> Allowance:
        size = PRE_LOGIN_COMMAND
        return cls(size, size, size, PRE_LOGIN_LITERAL, shared=True)

    @classmethod
    def after_login(cls, limits: Limits) -> Allowance:
        return cls(
            limits.max_line * 4,
            limits.max_literal,
            limits.memory_literal,
            limits.max_literal,
            shared=False,
        )

    def take_line(self, size: int) -> None:
        self.lines -= size
        if self.shared:
            self.literals -= size
        if self.lines < 0:
            raise LineTooLong

    def take_literal(self, literal: grammar.LiteralRequest) -> str | None:
        """Why the literal is refused, or None once it is counted."""
        if self.count <= 0:
            return "Too many literals in one command"
        if literal.size > self.largest and self.shared:
            return f"Literals take {self.largest} octets at most before login (LITERAL-)"
        if literal.size > min(self.largest, self.literals):
            return "Literal too big"
        self.count -= 1
        self.literals -= literal.size
        if self.shared:
            self.lines -= literal.size
        return None

    def in_memory(self, size: int) -> bool:
        """Keep this literal in memory (else it goes to a spool file)?"""
        if size > self.memory:
            return False
        self.memory -= size
        return True


class IMAPListener(streams.StreamListener[StreamChannel]):
    """One IMAP port: "imap" (STARTTLS) or "imaps" (implicit TLS)."""

    BUSY = b"* BYE Too many connections; try again later\r\n"
    SHUTTING_DOWN = b"* BYE Server shutting down\r\n"
    ENDS = (ConnectionClosed,)
    IMPLICIT_TLS = "imaps"

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
        imap = config.imap
        self.limits = Limits(  # read per connection, so tests may shorten the timers
            max_line=imap.max_line,
            max_literal=imap.max_literal,
            idle_timeout=imap.idle_timeout,
            login_timeout=imap.login_timeout,
            compress=imap.compress,
            max_per_user=imap.max_connections_per_user,
        )
        shared = config.server.workers > 1
        super().__init__(name, endpoint, tls, self.limits.max_line, imap, shared, tally)
        self._config = config
        self._services = services
        self._blocking = blocking
        self._spool = Path(config.data_dir) / "spool"
        self._loop_events = LoopEvents(services.events)  # see Session.loop_events
        self._recent_claimed: TimedCache[int, int] = TimedCache(100_000, 60)  # Session's
        self._envelopes: TimedCache[tuple[int, int, int], bytes] = TimedCache(ENVELOPES_KEPT)

    def open_channel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLContext | None,
    ) -> StreamChannel:
        channel = StreamChannel(reader, writer, tls, self._spool)
        channel.patience = self.limits.autologout
        return channel

    def closed(self, channel: StreamChannel) -> None:
        channel.release()  # literals of a command cut off or never run

    async def serve(self, channel: StreamChannel) -> None:
        limits = self.limits
        session = Session(
            channel,
            self._services,
            self._blocking,
            limits,
            tls_available=not self._implicit,
            spool=self._spool,
            accounts=self.connections.tally,
            recent_claimed=self._recent_claimed,
            envelopes=self._envelopes,
            loop_events=self._loop_events,
            hide=self._config.imap.hidden_for,
        )
        try:
            session.untagged(f"OK [CAPABILITY {' '.join(capabilities(session))}] groupware ready")
            await self._converse(channel, session)
        except ConnectionClosed as closed:
            bye = closed.bye
            if isinstance(closed, TimedOut):
                logged_in = session.state is not State.NOT_AUTHENTICATED
                bye = "Autologout; idle for too long" if logged_in else "Too slow to log in"
            if bye:
                session.untagged("BYE " + bye)
        finally:
            session.close()
        channel.deadline = asyncio.get_running_loop().time() + LAST_WORDS
        await channel.drain()

    async def _converse(self, channel: StreamChannel, session: Session) -> None:
        limits = session.limits
        clock = asyncio.get_running_loop().time
        # Before login the connection has login_timeout in all, whatever it sends (a byte
        # now and then, NOOPs, an AUTHENTICATE left unanswered); RFC 9051 §5.4's autologout
        # of at least 30 minutes is for sessions that logged in.
        login_by = clock() + min(limits.login_timeout, limits.autologout)
        unparsable = 0  # commands in a row the grammar refused
        while session.state is not State.LOGOUT:
            waiting = session.state is State.NOT_AUTHENTICATED
            # Logged in, a command has autologout to arrive whole, lines and literals.
            channel.deadline = login_by if waiting else clock() + limits.autologout
            await channel.drain()
            parts = await self._read_command(channel, session)
            if parts is None:
                return
            if not parts:
                continue  # refused before its literal; already answered
            if session.state is not State.NOT_AUTHENTICATED:
                # The answer may take long to a slow reader (each drain waits `patience`
                # for it to take something); IDLE keeps its own timer.
                channel.deadline = None
            try:
                parsed = await self._execute(session, parts)
            finally:
                channel.release(parts)
            unparsable = 0 if parsed else unparsable + 1
            if unparsable >= MAX_UNPARSABLE:  # a client speaking something else
                session.untagged("BYE Too many invalid commands")
                return

    async def _read_command(
        self, channel: StreamChannel, session: Session
    ) -> list[bytes | Spooled] | None:
        """A command's lines and literals; None at end of stream, [] if refused. Spool
        files of a command cut off by an error stay with the channel, which removes them
        when the connection ends."""
        if session.state is State.NOT_AUTHENTICATED:
            allowance = Allowance.before_login()
        else:
            allowance = Allowance.after_login(session.limits)
        parts: list[bytes | Spooled] = []
        while True:
            line = await channel.readline()
            if channel.ended:  # a command cut off is no command: an APPEND stores nothing
                return None
            parts.append(line)
            allowance.take_line(len(line))
            try:
                literal = grammar.literal_request(line)
            except grammar.ParseError:
                return parts  # the parser will say what is wrong
            if literal is None:
                return parts
            refusal = allowance.take_literal(literal)
            if refusal is not None:
                channel.release(parts)
                _refuse(session, parts[0], literal, refusal)
                return []
            if literal.synchronizing:
                channel.write(b"+ Ready for literal data\r\n")
                await channel.drain()
            keep = allowance.in_memory(literal.size)
            parts.append(await channel.read_literal(literal.size, keep))

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


def _refuse(
    session: Session, first: bytes | Spooled, literal: grammar.LiteralRequest, why: str
) -> None:
    """Refuse a command at its literal's announcement."""
    tag = (grammar.read_tag(first) if isinstance(first, bytes) else None) or "*"
    if literal.synchronizing:
        # RFC 9051 §4.3, RFC 7888 §4: refused before the "+", so the client sends no
        # octet of it and the connection goes on.
        session.write(f"{tag} NO [TOOBIG] {why}\r\n".encode())
        return
    # RFC 7888 §4: BAD [TOOBIG]. The octets are on their way already; reading them to
    # skip them is what a flood wants, so the connection ends.
    session.write(f"{tag} BAD [TOOBIG] {why}\r\n".encode())
    raise ConnectionClosed("literal refused", bye="Literal too big")
