"""The IMAP command grammar, pure: wire bytes (line pieces, literals) to commands.py values.
A new command is a parse_x here or in grammar_{mailbox,selected,search}.py and a table entry.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from groupware.protocols.imap.commands import (
    Authenticate,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Enable,
    Id,
    Idle,
    Login,
    Logout,
    Namespace,
    Noop,
    Spooled,
    StartTLS,
    Unselect,
)
from groupware.protocols.imap.grammar_mailbox import (
    parse_append,
    parse_create,
    parse_delete,
    parse_getquota,
    parse_getquotaroot,
    parse_list,
    parse_lsub,
    parse_rename,
    parse_select,
    parse_status,
    parse_subscribe,
)
from groupware.protocols.imap.grammar_notify import parse_notify
from groupware.protocols.imap.grammar_reader import (
    TAG,
    ParseError,
    Reader,
    decode,
    parse_sequence_set,
    show,
)
from groupware.protocols.imap.grammar_search import (
    parse_cancelupdate,
    parse_search,
    parse_sort,
    parse_thread,
)
from groupware.protocols.imap.grammar_selected import (
    parse_copy,
    parse_expunge,
    parse_fetch,
    parse_move,
    parse_store,
)

__all__ = [
    "LiteralRequest",
    "ParseError",
    "literal_request",
    "parse_command",
    "parse_sequence_set",
]

_MARKER_SIZE = re.compile(rb"([0-9]{1,20})(\+?)")
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_SASL_TOKEN = re.compile(rb"[A-Za-z0-9+/=]+")


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


def parse_id(r: Reader, tag: str) -> Id:
    """RFC 2971 id = "ID" SP id-params-list; id-params-list = "(" #(string SP nstring) ")"
    / nil (the pairs space-separated, as clients send them)."""
    r.sp()
    if r.accept("NIL"):
        return Id(tag, None)
    return Id(tag, r.parenthesised(lambda: _id_pair(r), empty=True))


def _id_pair(r: Reader) -> tuple[str, str | None]:
    name = decode(r.string(), "an ID field name")
    r.sp()
    value = r.nstring()
    return name, None if value is None else decode(value, "an ID value")


def parse_enable(r: Reader, tag: str) -> Enable:
    """RFC 5161 enable = "ENABLE" 1*(SP capability)."""
    r.sp()
    return Enable(tag, r.to_end(lambda: r.keyword("a capability")))


def parse_compress(r: Reader, tag: str) -> Compress:
    """RFC 4978 compress = "COMPRESS" SP algorithm; algorithm = atom."""
    r.sp()
    return Compress(tag, r.keyword("a compression algorithm"))


def parse_login(r: Reader, tag: str) -> Login:
    """RFC 9051 login = "LOGIN" SP userid SP password; both astring, UTF-8."""
    r.sp()
    user = decode(r.astring(), "the user name")
    r.sp()
    return Login(tag, user, decode(r.astring(), "the password"))


def parse_authenticate(r: Reader, tag: str) -> Authenticate:
    """RFC 9051 authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]; RFC 4959
    initial-resp = base64 / "=" (an empty response)."""
    r.sp()
    mechanism = r.keyword("a SASL mechanism")
    if r.done():
        return Authenticate(tag, mechanism)
    r.sp()
    token = r.match(_SASL_TOKEN, "a base64 initial response or =")[0]
    if token == b"=":
        return Authenticate(tag, mechanism, b"")
    if not _BASE64.fullmatch(token):
        raise ParseError("the initial response is not valid base64")
    try:
        return Authenticate(tag, mechanism, base64.b64decode(token, validate=True))
    except binascii.Error:
        raise ParseError("the initial response is not valid base64") from None


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
