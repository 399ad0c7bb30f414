"""`groupware serve` with IMAP, for tests of several processes and nodes: the server,
a delivery to it, and an IMAP connection waiting in IDLE."""

from __future__ import annotations

import re
import smtplib
import socket
import time
from email.message import EmailMessage
from pathlib import Path

from harness.serverprocess import ServerProcess, free_port
from tests.conftest import TEST_DNS

USER = "nora@example.test"
PASSWORD = "Two-nodes-pass-1234"
PATIENCE = 10.0  # seconds: how long a client waits for news before the test fails


class ImapServer(ServerProcess):
    """A server with IMAP on a free port, and HTTP (DAV, the portal) if asked (`extra`:
    more TOML tables for its config)."""

    def __init__(
        self, folder: Path, database_url: str, extra: str = "", *, http: bool = False
    ) -> None:
        folder.mkdir()
        super().__init__(folder, database_url, TEST_DNS.address, extra=extra)
        self.imap_port, self.http_port = free_port(), free_port()
        listen = f'[listen]\nimap = "127.0.0.1:{self.imap_port}"\n'
        if http:
            listen += f'http = "127.0.0.1:{self.http_port}"\n'
        text = self.config_path.read_text()
        self.config_path.write_text(text.replace("[listen]\n", listen, 1))

    def start(self, timeout: float = 30.0) -> None:
        """Return once IMAP greets too (it starts after SMTP)."""
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=2) as sock:
                    if sock.recv(4).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"IMAP did not start:\n{self.log()}")


def deliver(node: ImapServer, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "sender@elsewhere.example"
    message["To"] = USER
    message["Subject"] = subject
    message.set_content(f"{subject}: sent to one node, read on the other.\n")
    with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=30) as client:
        client.send_message(message)


class Idler:
    """An IMAP connection in IDLE on INBOX, read line by line (imaplib has no IDLE)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        self.file = self.sock.makefile("rb")
        self.file.readline()  # greeting
        self.command(b"a LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        self.command(b"b SELECT INBOX")
        self.sock.sendall(b"c IDLE\r\n")
        assert self.file.readline().startswith(b"+ ")

    def command(self, line: bytes) -> list[bytes]:
        self.sock.sendall(line + b"\r\n")
        tag = line.split(b" ", 1)[0]
        lines = []
        while not (reply := self.file.readline()).startswith(tag + b" "):
            lines.append(reply)
        assert reply.startswith(tag + b" OK"), reply
        return lines

    def until(self, pattern: bytes) -> tuple[bytes, float]:
        """The first untagged line matching `pattern`, and how long it took to come."""
        began = time.monotonic()
        while True:
            line = self.file.readline()  # the socket's timeout is the patience
            assert line, "connection closed while waiting"
            if re.search(pattern, line):
                return line, time.monotonic() - began

    def close(self) -> None:
        self.sock.sendall(b"DONE\r\nz LOGOUT\r\n")
        self.file.close()
        self.sock.close()
