"""Live updates over raw sockets: an open event stream (GET /mail/events) holds a
connection but none of the portal's threads, so with two threads and forty open streams
pages are still served; each stream hears a change to its user's mail and only its
user's; a stream whose client goes away leaves no subscription behind, and one that
asks for anything else on its connection is closed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from groupware.services.core.access import SYSTEM
from tests.abuse import wait_closed
from tests.conftest import Served
from tests.integration.test_web import Browser
from tests.integration.test_web_limits import served_login, web_server

NINA, OTTO, PASSWORD = "nina@example.test", "otto@example.test", "Nina-pass-123456"
STREAMS = 40
MESSAGE = b"From: carol@elsewhere.example\r\nSubject: live\r\n\r\nhello\r\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with web_server(tmp_path, threads=2, max_connections_per_ip=200) as served:
        for address in (NINA, OTTO):
            served.services.directory.add_user(SYSTEM, address, PASSWORD)
        yield served


def session_cookie(served: Served, address: str) -> str:
    browser = Browser(served.base_url)
    status, _ = browser.log_in(address, PASSWORD)
    assert status == 200
    return "; ".join(f"{c.name}={c.value}" for c in browser.jar)


def open_stream(served: Served, cookie: str, stack: ExitStack) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", served.ports["http"]), 10))
    sock.sendall(
        b"GET /mail/events HTTP/1.1\r\nHost: mail.example.test\r\nAccept: text/event-stream\r\n"
        + f"Cookie: {cookie}\r\n\r\n".encode()
    )
    head = b""
    while b"retry:" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200 ") and b"text/event-stream" in head, head
    return sock


def deliver(served: Served, address: str, tmp_path: Path) -> None:
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    served.services.delivery.deliver(path, [served.services.delivery.resolve(address)])


def test_open_streams_hold_no_thread_and_hear_their_users_mail(
    served: Served, tmp_path: Path
) -> None:
    nina, otto = session_cookie(served, NINA), session_cookie(served, OTTO)
    with ExitStack() as stack:
        streams = [open_stream(served, nina, stack) for _ in range(STREAMS)]
        others = open_stream(served, otto, stack)
        started = time.monotonic()
        assert served_login(served, "127.0.0.1")  # two threads, 41 streams: still served
        assert time.monotonic() - started < 10

        deliver(served, NINA, tmp_path)
        for sock in streams:
            sock.settimeout(5)
            data = b""
            while b"MessageAdded" not in data:
                chunk = sock.recv(4096)
                assert chunk, data
                data += chunk
            assert b"event: mail" in data
        others.settimeout(0.5)
        with pytest.raises(TimeoutError):
            others.recv(4096)  # Otto hears nothing of Nina's mail

        others.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")  # no second request
        assert b"HTTP/1.1" not in wait_closed(others)[0]  # closed, not answered
    hub = served.services.events
    deadline = time.monotonic() + 10
    while hub.listeners() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub.listeners() == 0  # every closed stream unsubscribed


def test_a_stranger_gets_no_stream(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.ports["http"]), 10) as sock:
        sock.sendall(b"GET /mail/events HTTP/1.1\r\nHost: mail.example.test\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 302 ") and b"/login" in answer
    assert served.services.events.listeners() == 0


def test_streams_survive_a_burst_of_events_and_give_their_places_back(
    served: Served, tmp_path: Path
) -> None:
    """Events published from other threads while the streams' loop writes: every stream
    stays open and hears them all (a race on waitress's buffers once closed streams
    under load); and the address's places are free again once the streams end."""
    nina = session_cookie(served, NINA)
    deliveries = 40
    with ExitStack() as stack:
        streams = [open_stream(served, nina, stack) for _ in range(30)]
        for _ in range(deliveries):
            deliver(served, NINA, tmp_path)
        for sock in streams:
            sock.settimeout(10)
            data = b""
            while data.count(b"MessageAdded") < deliveries:
                chunk = sock.recv(65536)
                assert chunk, data.count(b"MessageAdded")
                data += chunk
    deadline = time.monotonic() + 10
    while served.services.events.listeners() and time.monotonic() < deadline:
        time.sleep(0.1)
    with ExitStack() as stack:  # 150 more from the same address: the first 30 left
        for _ in range(150):
            open_stream(served, nina, stack)
        assert served_login(served, "127.0.0.1")
