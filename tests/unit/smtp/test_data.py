"""protocols/smtp/data.py on a StreamReader fed by hand (aiosmtpd's line limit): the
message dot-unstuffed; too big or too long refused after the final dot with memory
bounded; a client leaving mid-message; and, for any bytes, a DataRead and nothing else."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.protocols.smtp import statuses
from groupware.protocols.smtp.data import DataRead, read_data

LINE_LIMIT = 1001  # aiosmtpd's StreamReader limit (line_length_limit)


def read(data: bytes, max_bytes: int | None = 1100) -> tuple[DataRead, bytes]:
    """What read_data makes of `data` (then the end of the stream), and what it left."""

    async def run() -> tuple[DataRead, bytes]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        reader.feed_data(data)
        reader.feed_eof()
        return await read_data(reader, max_bytes), await reader.read()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b".\r\n", DataRead(b"")),
        (b"Subject: x\r\n\r\nhi\r\n.\r\n", DataRead(b"Subject: x\r\n\r\nhi\r\n")),
        (b"..\r\n...dots\r\n.\r\n", DataRead(b".\r\n..dots\r\n")),  # RFC 5321 §4.5.2
        (b"a\n.\nb\r\n.\r\n", DataRead(b"a\n.\nb\r\n")),  # only CRLF ends a line
        (b"x" * 998 + b"\r\n.\r\n", DataRead(b"x" * 998 + b"\r\n")),
        (b"." + b"x" * 998 + b"\r\n.\r\n", DataRead(b"x" * 998 + b"\r\n")),  # stuffed
        (b"x" * 999 + b"\r\n.\r\n", DataRead(refusal=statuses.LINE_TOO_LONG)),
        (b"x" * 5000 + b"\r\n.\r\n", DataRead(refusal=statuses.LINE_TOO_LONG)),
        (
            b"y" * 600 + b"\r\n" + b"z" * 600 + b"\r\n.\r\n",
            DataRead(refusal=statuses.MESSAGE_TOO_BIG),
        ),
        (b"unfinished\r\n", DataRead(closed=True)),
        (b"unfinished", DataRead(closed=True)),
    ],
)
def test_read_data(data: bytes, expected: DataRead) -> None:
    assert read(data)[0] == expected


def test_a_long_lines_tail_is_not_the_end() -> None:
    """The rest of an over-long line that happens to be "." is not the final dot."""
    data = b"x" * 2000 + b".\r\n" + b"after\r\n.\r\nQUIT\r\n"
    assert read(data) == (DataRead(refusal=statuses.LINE_TOO_LONG), b"QUIT\r\n")


def test_reading_stops_at_the_final_dot() -> None:
    assert read(b"hi\r\n.\r\nMAIL FROM:<a@b.example>\r\n") == (
        DataRead(b"hi\r\n"),
        b"MAIL FROM:<a@b.example>\r\n",
    )


def test_no_limit() -> None:
    assert read(b"a" * 500 + b"\r\n" + b".\r\n", None)[0] == DataRead(b"a" * 500 + b"\r\n")


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=2000))
def test_any_bytes_give_a_data_read(data: bytes, max_bytes: int) -> None:
    result, _ = read(data + b"\r\n.\r\n", max_bytes)
    assert isinstance(result, DataRead)
    assert len(result.content) <= max_bytes
