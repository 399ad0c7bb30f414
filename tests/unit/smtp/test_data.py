"""protocols/smtp/data.py on a StreamReader fed by hand (aiosmtpd's line limit): the
message dot-unstuffed into the file it is given; too big, too long or with a bare CR or
LF refused after the final dot with nothing more written; a client leaving mid-message;
and, for any bytes, a DataRead and nothing else."""

from __future__ import annotations

import asyncio
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.protocols.smtp import statuses
from groupware.protocols.smtp.data import DataRead, read_data

LINE_LIMIT = 1001  # aiosmtpd's StreamReader limit (line_length_limit)


def read(data: bytes, max_bytes: int | None = 1100) -> tuple[DataRead, bytes, bytes]:
    """What read_data makes of `data` (then the end of the stream): its result, what it
    wrote, and what it left unread."""
    out = io.BytesIO()

    async def run() -> tuple[DataRead, bytes]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        reader.feed_data(data)
        reader.feed_eof()
        return await read_data(reader, out, max_bytes), await reader.read()

    result, left = asyncio.run(run())
    return result, out.getvalue(), left


def stored(content: bytes) -> tuple[DataRead, bytes]:
    return DataRead(len(content)), content


def refused(reply: str) -> tuple[DataRead, None]:
    return DataRead(refusal=reply), None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b".\r\n", stored(b"")),
        (b"Subject: x\r\n\r\nhi\r\n.\r\n", stored(b"Subject: x\r\n\r\nhi\r\n")),
        (b"..\r\n...dots\r\n.\r\n", stored(b".\r\n..dots\r\n")),  # RFC 5321 §4.5.2
        (b"x" * 998 + b"\r\n.\r\n", stored(b"x" * 998 + b"\r\n")),
        (b"." + b"x" * 998 + b"\r\n.\r\n", stored(b"x" * 998 + b"\r\n")),  # stuffed
        (b"x" * 999 + b"\r\n.\r\n", refused(statuses.LINE_TOO_LONG)),
        (b"x" * 5000 + b"\r\n.\r\n", refused(statuses.LINE_TOO_LONG)),
        (b"y" * 600 + b"\r\n" + b"z" * 600 + b"\r\n.\r\n", refused(statuses.MESSAGE_TOO_BIG)),
        # RFC 5321 §2.3.8: only CRLF ends a line, and a bare CR or LF refuses the message
        # (SMTP smuggling): "\n.\n" and "\r.\r" are no end either.
        (b"a\n.\nb\r\n.\r\n", refused(statuses.BARE_LINE_ENDING)),
        (b"a\r.\rb\r\n.\r\n", refused(statuses.BARE_LINE_ENDING)),
        (b"ok\r\nend\r\r\n.\r\n", refused(statuses.BARE_LINE_ENDING)),
        (b"unfinished\r\n", (DataRead(closed=True), None)),
        (b"unfinished", (DataRead(closed=True), None)),
    ],
)
def test_read_data(data: bytes, expected: tuple[DataRead, bytes | None]) -> None:
    result, written, _ = read(data)
    assert result == expected[0]
    if expected[1] is not None:
        assert written == expected[1]


def test_nothing_is_written_past_a_refusal() -> None:
    result, written, _ = read(b"a\r\nb\nc\r\n" + b"d\r\n" * 100 + b".\r\n", None)
    assert (result, written) == (DataRead(refusal=statuses.BARE_LINE_ENDING), b"a\r\n")


def test_a_long_lines_tail_is_not_the_end() -> None:
    """The rest of an over-long line that happens to be "." is not the final dot."""
    data = b"x" * 2000 + b".\r\n" + b"after\r\n.\r\nQUIT\r\n"
    assert read(data) == (DataRead(refusal=statuses.LINE_TOO_LONG), b"", b"QUIT\r\n")


def test_reading_stops_at_the_final_dot() -> None:
    assert read(b"hi\r\n.\r\nMAIL FROM:<a@b.example>\r\n") == (
        DataRead(4),
        b"hi\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
    )


def test_no_limit() -> None:
    assert read(b"a" * 500 + b"\r\n" + b".\r\n", None)[:2] == stored(b"a" * 500 + b"\r\n")


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=2000))
def test_any_bytes_give_a_data_read(data: bytes, max_bytes: int) -> None:
    result, written, _ = read(data + b"\r\n.\r\n", max_bytes)
    assert isinstance(result, DataRead)
    assert len(written) <= max_bytes
    if not result.refusal and not result.closed:
        assert result.size == len(written)
        assert written.count(b"\r") == written.count(b"\n") == written.count(b"\r\n")
