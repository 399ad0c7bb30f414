"""One POP3 connection's state without its socket: AUTHORIZATION → TRANSACTION → UPDATE
(RFC 1939 §3), login and maildrop. New per-connection state is a field of Session."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, Protocol, TypeVar

from groupware.blocking import Blocking
from groupware.protocols.pop3.maildrop import Maildrop
from groupware.protocols.pop3.replies import Refused
from groupware.services import Services
from groupware.services.core.access import Principal

P = ParamSpec("P")
T = TypeVar("T")


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"


class Hangup(Exception):
    """The connection ends now, with no UPDATE: the client went away, stayed silent past
    the autologout timer (RFC 1939 §3), did not log in in time, or pipelined data behind
    STLS."""


class LineTooLong(Exception):
    """A line longer than Limits.max_line; the rest of it was read and dropped."""


class Channel(Protocol):
    """What the server gives a session: bytes out, lines in, TLS on demand."""

    peer: str
    secure: bool

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def readline(self) -> bytes: ...  # without CRLF; Hangup, LineTooLong
    async def start_tls(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    # RFC 2449 §4: command lines up to 255 octets; we take up to 1 KiB before -ERR.
    max_line: int = 1024
    autologout: float = 10 * 60  # RFC 1939 §3: at least 10 minutes, once logged in
    login_timeout: float = 3 * 60  # from connecting to logging in, however it trickles
    max_bad_commands: int = 20  # then the connection is closed, as Dovecot does


@dataclass
class Session:
    channel: Channel
    services: Services
    blocking: Blocking
    limits: Limits = field(default_factory=Limits)
    tls_available: bool = False  # STLS can be offered (the "pop3" port, not "pop3s")
    state: State = State.AUTHORIZATION
    user: str | None = None  # the name USER gave, until PASS
    principal: Principal | None = None
    drop: Maildrop | None = None
    bad_commands: int = 0
    done: bool = False  # QUIT answered: the server closes the connection

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A service call, off the event loop (the only way handlers reach services)."""
        return await self.blocking.call(fn, *args, **kwargs)

    def plaintext_allowed(self) -> bool:
        """May a password cross this connection (TLS, or loopback when allowed)?"""
        return self.services.auth.plaintext_allowed(self.channel.peer, self.channel.secure)

    @property
    def actor(self) -> Principal:
        if self.principal is None:
            raise Refused("Log in first")
        return self.principal

    @property
    def maildrop(self) -> Maildrop:
        if self.drop is None:
            raise Refused("Log in first")
        return self.drop

    def log_in(self, principal: Principal, drop: Maildrop) -> None:
        self.principal, self.drop, self.user = principal, drop, None
        self.state = State.TRANSACTION

    def write(self, data: bytes) -> None:
        self.channel.write(data)

    def ok(self, text: str = "") -> None:
        self.channel.write(f"+OK {text}\r\n".encode() if text else b"+OK\r\n")

    def refuse(self, refused: Refused) -> None:
        self.channel.write(refused.line())
