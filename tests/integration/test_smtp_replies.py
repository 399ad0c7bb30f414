"""SMTP replies stay RFC 5321 §4.2 reply lines whatever the client sends: aiosmtpd echoes
an unknown command (and a VRFY argument) into its reply, and fuzzing found NUL, bare CR,
escape sequences and 500-octet commands coming back; and a path without a domain made
the address parser raise (tests/fuzz/corpus/smtp_session).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Served
from tests.integration.test_smtp import start

# Reply-code SP textstring CRLF, textstring = 1*(HT / %d32-126); 512 octets at most.
REPLY = re.compile(rb"[2-5][0-9]{2} [\t\x20-\x7e]*\r\n")
ECHOED = [b"FOO\x00BAR", b"X\rY", b"\x1b[31mRED", b"Y" * 500, b"VRFY <\xff\x00>", b"\xc3\xa9"]


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from start(tmp_path, database_url)


def test_echoed_commands_come_back_as_printable_ascii_lines(server: Served) -> None:
    for port in (server.ports["smtp"], server.ports["submission"]):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            for line in ECHOED:
                sock.sendall(line + b"\r\n")
                reply = reader.readline()
                assert REPLY.fullmatch(reply) and len(reply) <= 512, (line, reply)
            sock.sendall(b"NOOP\r\n")  # and the session goes on
            assert reader.readline().startswith(b"250 ")


def test_a_path_without_a_domain_is_a_malformed_address(server: Served) -> None:
    """ "a@" made the email package's parser raise IndexError inside aiosmtpd: a 500
    naming the exception, and a traceback logged for each such command."""
    for port in (server.ports["smtp"], server.ports["submission"]):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(b"HELO client.example\r\n")
            assert reader.readline().startswith(b"250 ")
            for command in (b"MAIL FROM:a@", b"MAIL FROM:<a@>", b"RCPT TO:\x00@", b"VRFY a@"):
                sock.sendall(command + b"\r\n")
                reply = reader.readline()
                assert not reply.startswith(b"500"), (command, reply)
                assert reply[:1] in (b"5", b"2"), (command, reply)


def test_a_broken_off_tls_handshake_is_one_log_line(
    server: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """Fuzzing sent STARTTLS and then plain text: aiosmtpd logged each as an error of
    ours with a traceback (any client could fill the log)."""
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO client.example\r\nSTARTTLS\r\n")
        while not reader.readline().startswith(b"220 "):
            pass
        sock.sendall(b"this is no TLS ClientHello\r\n" * 10)
        assert reader.read() == b""  # closed
    with socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30) as sock:
        assert sock.makefile("rb").readline().startswith(b"220 ")  # and serving
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("TLS handshake failed" in r.getMessage() for r in caplog.records)
