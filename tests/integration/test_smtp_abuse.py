"""SMTP under abuse, over raw sockets: a message far over smtp.max_message_bytes (in lines,
or as one endless line) is refused without the server holding it (its peak memory is
measured in a child process).
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, TEST_DNS
from tests.serverprocess import ServerProcess

ALICE, PASSWORD = "alice@example.test", "Alice-pass-1234"
LIMIT = 1024 * 1024  # smtp.max_message_bytes in these tests
HUGE = 100 * 1024 * 1024  # what the client sends
CHUNK = 1024 * 1024


class Client:
    """One raw SMTP connection: lines out, replies (multi-line ones whole) in."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def reply(self) -> bytes:
        lines = [self.reader.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(self.reader.readline())
        return b"".join(lines)

    def command(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def begin(self, login: bool = False) -> None:
        """Greeting, EHLO (and AUTH, on submission), MAIL and RCPT, up to DATA's 354."""
        assert self.reply().startswith(b"220")
        assert self.command("EHLO abuser.example").startswith(b"250")
        if login:
            token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
            assert self.command(f"AUTH PLAIN {token}").startswith(b"235")
        assert self.command(f"MAIL FROM:<{ALICE}>").startswith(b"250")
        assert self.command(f"RCPT TO:<{ALICE}>").startswith(b"250")
        assert self.command("DATA").startswith(b"354")

    def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection in time (whatever it says first)."""
        self.sock.settimeout(seconds)
        try:
            while self.sock.recv(4096):
                pass
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def peak_kib(server: ServerProcess) -> int:
    return server.rss_kib("VmHWM")


@pytest.mark.timeout(300)
def test_huge_messages_are_refused_without_being_held(tmp_path: Path, database_url: str) -> None:
    """Regression: aiosmtpd kept every piece of an over-long line until its CRLF, so a
    message sent as one endless line was held whole whatever the size limit."""
    extra = f"[smtp]\nmax_message_bytes = {LIMIT}\n"
    with ServerProcess(tmp_path, database_url, TEST_DNS.address, extra=extra) as server:
        server.initialise(ADMIN_PASSWORD, [ALICE], PASSWORD)
        server.start()
        client = Client(server.smtp_port)
        try:
            client.begin()
            client.sock.sendall(b"Subject: warm-up\r\n\r\nsmall\r\n.\r\n")
            assert client.reply().startswith(b"250")
            before = peak_kib(server)
            shapes = {
                "lines": (b"x" * 998 + b"\r\n", (b"552 5.3.4",)),
                "one endless line": (b"x" * CHUNK, (b"550 5.6.0",)),
            }
            growth = {}
            for name, (unit, expected) in shapes.items():
                assert client.command("RSET").startswith(b"250")
                assert client.command(f"MAIL FROM:<{ALICE}>").startswith(b"250")
                assert client.command(f"RCPT TO:<{ALICE}>").startswith(b"250")
                assert client.command("DATA").startswith(b"354")
                block = unit * max(1, CHUNK // len(unit))
                for _ in range(HUGE // len(block)):
                    client.sock.sendall(block)
                client.sock.sendall(b"\r\n.\r\n")
                assert client.reply().startswith(expected), name
                growth[name] = peak_kib(server) - before
            client.sock.sendall(b"MAIL FROM:<" + ALICE.encode() + b">\r\n")  # still usable
            assert client.reply().startswith(b"250")
        finally:
            client.close()
        print(f"\npeak memory before {before} KiB; growth after 100 MB sent: {growth}")
        # Far below the 100 MB sent (the limit is 1 MB; allocator noise stays well under).
        assert all(kib < 30 * 1024 for kib in growth.values()), growth
