"""Reading the message after DATA (RFC 5321 §4.1.1.4, dot-stuffing §4.5.2) straight into
a spool file, line by line as it arrives, whatever the client sends.

Each line is checked as it comes: longer than RFC 5321 §4.5.3.1.6 allows, a bare CR or LF
(RFC 5321 §2.3.8), or past the size limit, and the message is refused; from then on lines
are only counted until the final dot (the refusal comes after it, RFC 5321 §4.2.5). A
line longer than allowed is dropped piece by piece as it arrives: aiosmtpd's own reader
keeps every piece of an over-long line until its CRLF comes, and the whole message in
memory besides, so GroupwareSMTP.smtp_DATA reads with this one instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import BinaryIO

from groupware.protocols.smtp import statuses

MAX_LINE = 998  # RFC 5321 §4.5.3.1.6: 998 octets plus CRLF


@dataclass(frozen=True)
class DataRead:
    """How reading went: `size` octets written (dot-unstuffed), or the reply refusing the
    message (what was written is then of no use); `closed`: the client left."""

    size: int = 0
    refusal: str = ""
    closed: bool = False


async def read_data(reader: asyncio.StreamReader, out: BinaryIO, max_bytes: int | None) -> DataRead:
    """Read up to and including the line "." from `reader` (a StreamReader whose limit is
    about one line, as aiosmtpd makes it), writing the message to `out`."""
    received = 0  # as sent, stuffing dots included: what the size limit counts
    written = 0
    refusal = ""
    rest_of_long_line = False  # what comes next continues a line already refused
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as overrun:
            received += len(await reader.read(overrun.consumed))  # dropped, only counted
            refusal = refusal or statuses.LINE_TOO_LONG
            rest_of_long_line = True
            continue
        except asyncio.IncompleteReadError:
            return DataRead(closed=True)
        if line == b".\r\n" and not rest_of_long_line:
            break
        received += len(line)
        if rest_of_long_line:
            rest_of_long_line = False
            continue
        if refusal:
            continue
        if line.startswith(b"."):
            line = line[1:]
        refusal = _refusal(line, received, max_bytes)
        if not refusal:
            out.write(line)
            written += len(line)
    return DataRead(refusal=refusal) if refusal else DataRead(written)


def _refusal(line: bytes, received: int, max_bytes: int | None) -> str:
    """Why a line (ending in CRLF, unstuffed) refuses the message, or ""."""
    if len(line) > MAX_LINE + 2:
        return statuses.LINE_TOO_LONG
    # RFC 5321 §2.3.8: lines end in CRLF; a bare CR or LF is how SMTP smuggling (2023)
    # slips a second message past a filter, so such messages are refused outright.
    end = len(line) - 2
    if line.find(b"\r", 0, end) >= 0 or line.find(b"\n", 0, end) >= 0:
        return statuses.BARE_LINE_ENDING
    if max_bytes and received > max_bytes:
        return statuses.MESSAGE_TOO_BIG
    return ""
