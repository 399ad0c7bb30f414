"""POP3 commands as typed values (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH), one frozen
dataclass per verb. A new verb is a class here, a parser in grammar.py, a dispatch entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """The base of every command; dispatch.COMMANDS has exactly one entry per subclass."""


# -- AUTHORIZATION state ---------------------------------------------------------------


@dataclass(frozen=True)
class User(Command):
    name: str


@dataclass(frozen=True)
class Pass(Command):
    password: str  # the rest of the line: RFC 1939 §7 allows spaces in it


@dataclass(frozen=True)
class Auth(Command):
    """RFC 5034 AUTH: `mechanism` upper case; None for a bare AUTH (list mechanisms).
    `initial` is the decoded initial response (b"" for "="), None when not given."""

    mechanism: str | None = None
    initial: bytes | None = None


@dataclass(frozen=True)
class Stls(Command):
    pass


# -- TRANSACTION state -----------------------------------------------------------------


@dataclass(frozen=True)
class Stat(Command):
    pass


@dataclass(frozen=True)
class List(Command):
    message: int | None = None  # a message number (1..), or None for all


@dataclass(frozen=True)
class Uidl(Command):
    message: int | None = None


@dataclass(frozen=True)
class Retr(Command):
    message: int


@dataclass(frozen=True)
class Top(Command):
    message: int
    lines: int  # body lines after the header (0..)


@dataclass(frozen=True)
class Dele(Command):
    message: int


@dataclass(frozen=True)
class Rset(Command):
    pass


@dataclass(frozen=True)
class Noop(Command):
    pass


# -- either state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Capa(Command):
    pass


@dataclass(frozen=True)
class Quit(Command):
    pass
