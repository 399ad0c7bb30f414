"""Fuzz targets of the protocol grammars, pure: IMAP commands (framed as the server reads
them), modified UTF-7 names and IMAP URLs, POP3 commands, SASL responses, and our SMTP
extras (addresses, the DATA checks). A new grammar gets a function and a Target here.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

from groupware.errors import InvalidInput
from groupware.protocols.imap import grammar as imap
from groupware.protocols.imap.commands import Command, Spooled
from groupware.protocols.imap.urls import BadUrl, parse_message_url
from groupware.protocols.imap.wire import decode_mutf7, encode_mutf7
from groupware.protocols.logins import BadPlain, split_plain
from groupware.protocols.pop3 import grammar as pop3
from groupware.protocols.smtp import statuses
from groupware.protocols.smtp.accept import strip_own_results
from groupware.protocols.smtp.data import MAX_LINE, DataRead, read_data
from groupware.protocols.smtp.server import _b64 as smtp_b64
from groupware.services.core.addresses import normalize_address, normalize_alias, normalize_domain
from tests.fuzz.target import TESTS, Finding, Target

MEMORY_LITERAL = 1024  # octets; larger literals stand for what server.py spools to a file
SPOOL = Path("/nonexistent/spool")  # the grammar never opens a spooled literal
_PRINTABLE = re.compile(r"[\x20-\x7e]*")

# Pieces of real commands, so that random joins reach deep into the grammar.
IMAP_TOKENS = (
    *(b"a1", b" ", b"  ", b"\r\n", b"UID", b"FETCH", b"STORE", b"SEARCH", b"SORT", b"THREAD"),
    *(b"APPEND", b"LOGIN", b"SELECT", b"LIST", b"STATUS", b"ID", b"AUTHENTICATE", b"CREATE"),
    *(b"EXPUNGE", b"COPY", b"MOVE", b"ENABLE", b"(", b")", b"[", b"]", b"<", b">", b"."),
    *(b"1", b"0", b"*", b":", b",", b"$", b"1:*", b"4294967296", b"99999999999999999999999"),
    *(b'"', b'"x"', b"\\", b"\\Seen", b"{", b"}", b"{5}", b"~{3}", b"{3+}", b"{0}\r\n"),
    *(b"NIL", b"ALL", b"FULL", b"BODY", b"BODY.PEEK[", b"BINARY[", b"HEADER.FIELDS", b"MIME"),
    *(b"TEXT", b"NOT", b"OR", b"FROM", b"HEADER", b"SINCE", b"1-Feb-2024", b"31-Feb-2024"),
    *(b'"01-Feb-2024 10:00:00 +0100"', b"CHARSET", b"UTF-8", b"KOI8-R", b"RETURN"),
    *(b"PARTIAL", b"UPDATE", b"2:1", b"CANCELUPDATE", b"NOTIFY", b"SET", b"PERSONAL"),
    *(b"SUBTREE", b"MessageNew", b"CATENATE", b"URL", b"MODSEQ", b"CHANGEDSINCE"),
    *(b"VANISHED", b"UNCHANGEDSINCE", b"+FLAGS", b"FLAGS.SILENT", b"QRESYNC", b"CONDSTORE"),
    *(b"USE", b"UTF8", b"REVERSE", b"DATE", b"REFERENCES", b"=", b"AGFi", b"\xff"),
    *(b"\xc3\xa9", b"\x00", b"\r", b"/;UID=1", b"imap://h/INBOX", b"&AOk-", b"LARGER"),
)
POP3_TOKENS = (
    *(b"USER ", b"PASS ", b"AUTH ", b"PLAIN", b"STLS", b"STAT", b"LIST ", b"UIDL ", b"RETR "),
    *(b"DELE ", b"TOP ", b"RSET", b"NOOP", b"CAPA", b"QUIT", b"1", b"0", b" ", b"\r\n", b"="),
    *(b"AGFsaWNlAHB3", b"*", b"\x00", b"\xff", b"99999999999"),
)
SASL_TOKENS = (b"\x00", b"alice", b"@example.test", b"AGFsaWNlAHB3", b"=", b"==", b"*", b" ")
ADDRESS_TOKENS = (
    *(b"alice", b"@", b"example.test", b".", b"-", b"+tag", b"xn--", b"\xc3\xa9", b"<>"),
    *(b"\xe2\x80\x8b", b"\xef\xbc\x8e", b" ", b"\n", b"a" * 64, b"b" * 63 + b"."),
)
SMTP_DATA_TOKENS = (
    *(b"\r\n", b"\n", b"\r", b"\r\n\r\n", b" ", b"\t", b"x" * 999, b"Subject: x\r\n"),
    *(b"Authentication-Results: mail.example.test; spf=pass\r\n", b"authentication-results:"),
    *(b"mail.example.test", b"mail.example.test.evil", b"\r\n\tfolded"),
)


def imap_commands(data: bytes) -> list[list[bytes | Spooled]]:
    """The commands in `data` as server.py's _read_command frames them: a line up to LF
    (its CRLF or LF dropped), then, if it announces a literal, that many octets and the
    next line. A literal larger than MEMORY_LITERAL is spooled (not read from `data`); a
    command whose literal is cut short is left out, as the server would still wait."""
    commands: list[list[bytes | Spooled]] = []
    pos = 0
    while pos < len(data):
        parts: list[bytes | Spooled] = []
        while True:
            newline = data.find(b"\n", pos)
            end = len(data) if newline < 0 else newline
            line = data[pos:end]
            pos = end + 1
            parts.append(line[:-1] if line.endswith(b"\r") else line)
            try:
                literal = imap.literal_request(line.rstrip(b"\r"))
            except imap.ParseError:
                literal = None  # the parser will say what is wrong
            if literal is None:
                commands.append(parts)
                break
            if literal.size > MEMORY_LITERAL:
                parts.append(Spooled(SPOOL, literal.size))
            elif literal.size <= len(data) - pos:
                parts.append(data[pos : pos + literal.size])
                pos += literal.size
            else:
                return commands
    return commands


def transcript_commands() -> list[bytes]:
    """What the client sends in each IMAP transcript (its C: lines), one seed each."""
    seeds = []
    for path in sorted((TESTS / "transcripts" / "imap").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        sent = [line[3:] for line in lines if line.startswith("C: ") or line == "C:"]
        seeds.append("".join(f"{line}\r\n" for line in sent).encode())
    return seeds


def check_refusal(message: str, tag: str | None = None, code: str | None = None) -> None:
    """A parse error goes on the wire after BAD / -ERR: one line of printable ASCII."""
    for text in (message, tag or "", code or ""):
        if not _PRINTABLE.fullmatch(text):
            raise Finding(f"refusal not printable ASCII: {text[:80]!r}")
    if not message:
        raise Finding("refusal without a message")


def imap_command(data: bytes) -> None:
    for parts in imap_commands(data):
        try:
            command = imap.parse_command(parts)
        except imap.ParseError as error:
            check_refusal(error.message, error.tag, error.code)
            if error.tag is not None and imap.read_tag(error.tag.encode()) != error.tag:
                raise Finding(f"refused with a tag that is no tag: {error.tag!r}") from None
            continue
        if not isinstance(command, Command):
            raise Finding(f"parse_command gave {command!r}")


def imap_mutf7(data: bytes) -> None:
    """RFC 3501 §5.1.3 names: decode only the canonical form, which encodes back as is."""
    text = data.decode("latin-1")
    try:
        name = decode_mutf7(text)
    except ValueError:
        return
    if encode_mutf7(name) != text:
        raise Finding(f"{text!r} decoded to {name!r}, which encodes otherwise")


def imap_url(data: bytes) -> None:
    """RFC 5092 URLs as CATENATE passes them on: text the grammar decoded as UTF-8."""
    parse_message_url(data.decode("utf-8", "replace"))


def pop3_command(data: bytes) -> None:
    for line in data.split(b"\n"):
        line = line.removesuffix(b"\r")
        for parse in (pop3.parse_command, pop3.parse_sasl_response):
            try:
                parse(line)
            except pop3.ParseError as error:
                check_refusal(error.message)


def sasl(data: bytes) -> None:
    """AUTH PLAIN (RFC 4616) responses as IMAP and POP3 split them, and SMTP's base64."""
    try:
        user, password = split_plain(data)
    except BadPlain as error:
        check_refusal(str(error))
    else:
        if "\x00" in user + password:
            raise Finding("a NUL kept in a PLAIN user or password")
    decoded = smtp_b64(data.decode("utf-8", "surrogateescape"))
    if decoded is not None and not isinstance(decoded, bytes):
        raise Finding(f"SMTP base64 gave {decoded!r}")


def address(data: bytes) -> None:
    """The directory's keys (services/core/addresses.py), as SMTP MAIL/RCPT and logins read
    them: InvalidInput or an ASCII normal form that normalises to itself."""
    text = data.decode("utf-8", "surrogateescape")
    for normalize in (normalize_address, normalize_alias, normalize_domain):
        try:
            value = normalize(text)
        except InvalidInput:
            continue
        if not value.isascii() or normalize(value) != value:
            raise Finding(f"{normalize.__name__}({text!r}) = {value!r}, not a normal form")


def smtp_data(data: bytes) -> None:
    """DATA as protocols/smtp/data.py reads it (the client's octets, then the final dot),
    and Authentication-Results claiming to be ours dropped from the header only."""
    out = io.BytesIO()
    read = asyncio.run(_read_data(data + b"\r\n.\r\n", out))
    if read.closed:
        raise Finding("the final dot was not seen")
    if not read.refusal:
        written = out.getvalue()
        if read.size != len(written):
            raise Finding("the size told is not what was written")
        for line in written.split(b"\r\n"):
            if b"\r" in line or b"\n" in line:
                raise Finding(f"a bare line ending was taken: {line[:60]!r}")
            if len(line) > MAX_LINE:
                raise Finding("an over-long line was taken")
    elif read.refusal not in (statuses.LINE_TOO_LONG, statuses.BARE_LINE_ENDING):
        raise Finding(f"unexpected refusal {read.refusal!r}")
    stripped = strip_own_results(data, "mail.example.test")
    end = data.find(b"\r\n\r\n")
    if end >= 0 and not stripped.endswith(data[end + 2 :]):
        raise Finding("strip_own_results changed the body")
    if len(stripped) > len(data):
        raise Finding("strip_own_results added octets")


async def _read_data(data: bytes, out: io.BytesIO) -> DataRead:
    reader = asyncio.StreamReader(limit=MAX_LINE + 2)  # about a line, as aiosmtpd's
    reader.feed_data(data)
    reader.feed_eof()
    return await read_data(reader, out, None)


TARGETS = (
    Target(
        "imap_command",
        imap_command,
        tokens=IMAP_TOKENS,
        seeds=transcript_commands,
        max_len=8192,
    ),
    Target("imap_mutf7", imap_mutf7, tokens=(b"&", b"-", b"&-", b"AOk", b",", b"+", b"&2D3")),
    Target("imap_url", imap_url, allowed=(BadUrl,), tokens=IMAP_TOKENS),
    Target("pop3_command", pop3_command, tokens=POP3_TOKENS),
    Target("sasl", sasl, tokens=SASL_TOKENS),
    Target("address", address, tokens=ADDRESS_TOKENS, max_len=1024),
    Target("smtp_data", smtp_data, tokens=SMTP_DATA_TOKENS, max_len=16384),
)
