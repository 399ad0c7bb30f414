"""The IMAP command grammar, pure: wire bytes (line pieces, literals) to commands.py values.
Its modules mirror handlers/ (a command is parsed in the module named like the one that
runs it; reader.py holds the tokens they share). A new command is a parse_x there and an
entry in the tables below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from groupware.protocols.imap.commands import (
    Capability,
    Check,
    Close,
    Command,
    Idle,
    Logout,
    Namespace,
    Noop,
    Spooled,
    StartTLS,
    Unselect,
)
from groupware.protocols.imap.grammar.anystate import parse_compress, parse_enable, parse_id
from groupware.protocols.imap.grammar.fetch import parse_fetch
from groupware.protocols.imap.grammar.listing import parse_list, parse_lsub
from groupware.protocols.imap.grammar.login import parse_authenticate, parse_login
from groupware.protocols.imap.grammar.mailboxes import (
    parse_create,
    parse_delete,
    parse_getquota,
    parse_getquotaroot,
    parse_rename,
    parse_select,
    parse_status,
    parse_subscribe,
)
from groupware.protocols.imap.grammar.messages import (
    parse_append,
    parse_copy,
    parse_expunge,
    parse_move,
    parse_store,
)
from groupware.protocols.imap.grammar.notify import parse_notify
from groupware.protocols.imap.grammar.reader import (
    TAG,
    ParseError,
    Reader,
    parse_sequence_set,
    show,
)
from groupware.protocols.imap.grammar.search import (
    parse_cancelupdate,
    parse_search,
    parse_sort,
    parse_thread,
)

__all__ = [
    "LiteralRequest",
    "ParseError",
    "literal_request",
    "parse_command",
    "parse_sequence_set",
]

_MARKER_SIZE = re.compile(rb"([0-9]{1,20})(\+?)")


@dataclass(frozen=True)
class LiteralRequest:
    """A literal announced at the end of a line: {n} waits for "+ ", {n+} (RFC 7888) does
    not; ~{n} is RFC 3516 literal8 (binary, and RFC 6855's UTF8 APPEND)."""

    size: int
    synchronizing: bool
    binary: bool = False


def literal_request(line: bytes) -> LiteralRequest | None:
    """The literal a line piece (without CRLF) announces, if it ends with {n}, {n+}, ~{n} or
    ~{n+}. A brace group ending the line with anything else in it (more than 20 digits,
    "-5", "5-": RFC 7888's LITERAL- keeps the "+" syntax) raises ParseError, tag None."""
    if not line.endswith(b"}"):
        return None
    start = line.rfind(b"{")
    content = line[start + 1 : -1]
    if start < 0 or b"}" in content:
        return None
    found = _MARKER_SIZE.fullmatch(content)
    if found is None:
        raise ParseError(f"bad literal size {show(content)}")
    binary = line[start - 1 : start] == b"~" if start else False
    return LiteralRequest(int(found[1]), not found[2], binary)


def parse_command(parts: Sequence[bytes | Spooled]) -> Command:
    """RFC 9051 command = tag SP (command-any / command-auth / command-nonauth /
    command-select) CRLF. `parts` = [line, literal, line, ..., line]: the line pieces as
    received without CRLF, each but the last ending with the marker of the literal after
    it; a literal is bytes, or Spooled (only for APPEND's message)."""
    first = parts[0] if parts else b""
    if not first:
        raise ParseError("empty command line")
    tag = read_tag(first) if isinstance(first, bytes) else None
    if tag is None:
        raise ParseError("expected a tag (letters, digits, punctuation) then a space")
    try:
        r = Reader(parts, len(tag))
        command = _command(r, tag)
        r.end()
    except ParseError as error:
        error.tag = tag
        raise
    return command


def read_tag(line: bytes) -> str | None:
    """RFC 9051 tag = 1*<any ASTRING-CHAR except "+">, when a space or the end follows."""
    found = TAG.match(line)
    if found is None or line[found.end() : found.end() + 1] not in (b" ", b""):
        return None
    return found[0].decode("ascii")


def _command(r: Reader, tag: str) -> Command:
    if r.done():
        raise ParseError("missing command name after the tag")
    r.sp()
    name = r.keyword("a command name")
    if name == "UID":
        r.sp()
        name = r.keyword("a command name after UID")
        if name not in UID_PARSERS:
            raise ParseError(f"UID {show(name)} is not a command")
        return UID_PARSERS[name](r, tag, True)
    if name in UID_PARSERS:
        return UID_PARSERS[name](r, tag, False)
    if name in PARSERS:
        return PARSERS[name](r, tag)
    raise ParseError(f"unknown command {show(name)}")


# -- session commands (any state, not authenticated) ------------------------------------


def _bare(command: type[Command]) -> Callable[[Reader, str], Command]:
    return lambda r, tag: command(tag)


PARSERS: dict[str, Callable[[Reader, str], Command]] = {
    "CAPABILITY": _bare(Capability),
    "NOOP": _bare(Noop),
    "LOGOUT": _bare(Logout),
    "ID": parse_id,
    "ENABLE": parse_enable,
    "COMPRESS": parse_compress,
    "STARTTLS": _bare(StartTLS),
    "LOGIN": parse_login,
    "AUTHENTICATE": parse_authenticate,
    "SELECT": parse_select,
    "EXAMINE": lambda r, tag: parse_select(r, tag, readonly=True),
    "CREATE": parse_create,
    "DELETE": parse_delete,
    "RENAME": parse_rename,
    "SUBSCRIBE": parse_subscribe,
    "UNSUBSCRIBE": lambda r, tag: parse_subscribe(r, tag, subscribe=False),
    "LIST": parse_list,
    "LSUB": parse_lsub,
    "NAMESPACE": _bare(Namespace),
    "STATUS": parse_status,
    "APPEND": parse_append,
    "IDLE": _bare(Idle),
    "GETQUOTA": parse_getquota,
    "GETQUOTAROOT": parse_getquotaroot,
    "CHECK": _bare(Check),
    "CLOSE": _bare(Close),
    "UNSELECT": _bare(Unselect),
    "CANCELUPDATE": parse_cancelupdate,
    "NOTIFY": parse_notify,
}
"""Commands by name; those that take a UID prefix are in UID_PARSERS instead."""

UID_PARSERS: dict[str, Callable[[Reader, str, bool], Command]] = {
    "COPY": parse_copy,
    "MOVE": parse_move,
    "FETCH": parse_fetch,
    "STORE": parse_store,
    "SEARCH": parse_search,
    "SORT": parse_sort,
    "THREAD": parse_thread,
    "EXPUNGE": parse_expunge,
}
"""Commands that also come as "UID name ..." (the bool says which)."""
