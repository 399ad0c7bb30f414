"""Reading the message after DATA (RFC 5321 §4.1.1.4, dot-stuffing §4.5.2) in memory
bounded by the size limit, whatever the client sends.

Lines are kept until the message outgrows the limit, then only counted until the final
dot (the refusal comes after it, RFC 5321 §4.2.5); a line longer than RFC 5321
§4.5.3.1.6 allows is dropped piece by piece as it arrives. aiosmtpd's own reader keeps
every piece of an over-long line until its CRLF comes, so one endless line was held whole
in memory; GroupwareSMTP.smtp_DATA reads with this one instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from groupware.protocols.smtp import statuses

MAX_LINE = 998  # RFC 5321 §4.5.3.1.6: 998 octets plus CRLF


@dataclass(frozen=True)
class DataRead:
    """The message (dot-unstuffed), or the reply refusing it; `closed`: the client left."""

    content: bytes = b""
    refusal: str = ""
    closed: bool = False


async def read_data(reader: asyncio.StreamReader, max_bytes: int | None) -> DataRead:
    """Read up to and including the line "." from `reader` (a StreamReader whose limit is
    about one line, as aiosmtpd makes it)."""
    lines: list[bytes] = []
    size = 0
    refusal = ""
    rest_of_long_line = False  # what comes next continues a line already refused
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as overrun:
            size += len(await reader.read(overrun.consumed))  # dropped, only counted
            refusal = refusal or statuses.LINE_TOO_LONG
            lines.clear()
            rest_of_long_line = True
            continue
        except asyncio.IncompleteReadError:
            return DataRead(closed=True)
        if line == b".\r\n" and not rest_of_long_line:
            break
        size += len(line)
        if rest_of_long_line:
            rest_of_long_line = False
            continue
        if line.startswith(b"."):
            line = line[1:]
        if not refusal and len(line) > MAX_LINE + 2:
            refusal = statuses.LINE_TOO_LONG
        if not refusal and max_bytes and size > max_bytes:
            refusal = statuses.MESSAGE_TOO_BIG
        if refusal:
            lines.clear()
        else:
            lines.append(line)
    if refusal:
        return DataRead(refusal=refusal)
    return DataRead(b"".join(lines))
