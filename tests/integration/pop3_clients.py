"""A POP3 server under test (with SMTP, on SQLite and PostgreSQL) and what talks to it:
poplib logins, a raw line client, message delivery. Used by test_pop3*.py."""

from __future__ import annotations

import poplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

from groupware import runtime as runtime_module
from groupware.protocols.pop3.server import POP3Listener
from groupware.services.core.access import SYSTEM, Principal
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners

ALICE = "alice@example.test"
PASSWORD = "Alice-pass-1234"
MESSAGE = (
    b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Hello there\r\n"
    b"Date: Thu, 1 Jan 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n"
    b"First line.\r\nSecond line.\r\nThird line.\r\n"
)
DOTTED = (
    b"From: bob@example.test\r\nSubject: Dots\r\n\r\n"
    b".leading dot\r\n.\r\n..two dots\r\nlast line\r\n"
)


def start(tmp_path: Path, database_url: str, **auth: object) -> Iterator[Served]:
    config = make_config(tmp_path, database_url, **auth)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    config = with_listeners(config, pop3="on", pop3s="on", smtp="on")
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        yield served


def alice(served: Served) -> Principal:
    info = served.services.directory.get_user(SYSTEM, ALICE)
    principal = served.services.auth.principal(info.id)
    assert principal is not None
    served.services.mailboxes.ensure_defaults_if_new(info.id)
    return principal


def deliver(served: Served, tmp_path: Path, *messages: bytes) -> list[int]:
    uids = []
    for data in messages:
        spool = tmp_path / f"m{time.monotonic_ns()}.eml"
        spool.write_bytes(data)
        uids.append(served.services.messages.append(alice(served), "INBOX", spool).uid)
    return uids


def inbox_uids(served: Served) -> list[int]:
    return [state.uid for state in served.services.messages.index(alice(served), "INBOX")[1]]


def connect(served: Served) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", served.ports["pop3"], timeout=10)
    client.user(ALICE)
    client.pass_(PASSWORD)
    return client


def tls_context(served: Served) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(served.runtime.config.tls.cert))
    context.check_hostname = False
    return context


class Raw:
    """A raw POP3 connection for exchanges poplib would tidy up."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        assert self.line().startswith(b"+OK")  # greeting

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def multiline(self) -> list[bytes]:
        lines = [self.line()]
        while lines[-1] != b".":
            lines.append(self.line())
        return lines

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.sock.close()


def listener(served: Served) -> POP3Listener:
    [found] = [s for s in served.runtime.started if s.name == "pop3"]
    assert isinstance(found, POP3Listener)
    return found


def raw_login(served: Served) -> Raw:
    raw = Raw(served.ports["pop3"])
    raw.send(b"USER " + ALICE.encode() + b"\r\nPASS " + PASSWORD.encode() + b"\r\n")
    assert raw.line().startswith(b"+OK")
    assert raw.line().startswith(b"+OK Logged in")
    return raw
