"""Live updates over raw sockets: an open event stream (GET /mail/events) holds a
connection but none of the portal's threads, so with two threads and forty open streams
pages are still served; each stream hears a change to its user's mail and only its
user's; a stream whose client goes away leaves no subscription behind, and one that
asks for anything else on its connection is closed. A user has at most MAX_PER_USER
streams; pipelined requests get no stream; a logged-out session's stream stops.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from groupware.services.core.access import SYSTEM
from groupware.web.live import MAX_PER_USER, RECHECK
from tests.abuse import wait_closed
from tests.conftest import Served
from tests.integration.test_web import Browser
from tests.integration.test_web_limits import served_login, web_server

NINA, OTTO, PASSWORD = "nina@example.test", "otto@example.test", "Nina-pass-123456"
TABS = [f"tab{n}@example.test" for n in range(4)]  # 4 x MAX_PER_USER streams
MESSAGE = b"From: carol@elsewhere.example\r\nSubject: live\r\n\r\nhello\r\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with web_server(tmp_path, threads=2, max_connections_per_ip=200) as served:
        for address in (NINA, OTTO, *TABS):
            served.services.directory.add_user(SYSTEM, address, PASSWORD)
        yield served


def session_cookie(served: Served, address: str) -> str:
    browser = Browser(served.base_url)
    status, _ = browser.log_in(address, PASSWORD)
    assert status == 200
    return "; ".join(f"{c.name}={c.value}" for c in browser.jar)


REQUEST = b"GET /mail/events HTTP/1.1\r\nHost: mail.example.test\r\nAccept: text/event-stream\r\n"


def open_stream(served: Served, cookie: str, stack: ExitStack) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", served.ports["http"]), 10))
    sock.sendall(REQUEST + f"Cookie: {cookie}\r\n\r\n".encode())
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
    otto = session_cookie(served, OTTO)
    with ExitStack() as stack:
        streams = {
            address: [open_stream(served, cookie, stack) for _ in range(MAX_PER_USER)]
            for address, cookie in ((a, session_cookie(served, a)) for a in TABS)
        }
        others = open_stream(served, otto, stack)
        started = time.monotonic()
        assert served_login(served, "127.0.0.1")  # two threads, 41 streams: still served
        assert time.monotonic() - started < 10

        for address in TABS:
            deliver(served, address, tmp_path)
        for sock in (sock for socks in streams.values() for sock in socks):
            sock.settimeout(5)
            data = b""
            while b"MessageAdded" not in data:
                chunk = sock.recv(4096)
                assert chunk, data
                data += chunk
            assert b"event: mail" in data
        others.settimeout(0.5)
        with pytest.raises(TimeoutError):
            others.recv(4096)  # Otto hears nothing of the others' mail

        others.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")  # no second request
        assert b"HTTP/1.1" not in wait_closed(others)[0]  # closed, not answered
    hub = served.services.events
    deadline = time.monotonic() + 10
    while hub.listeners() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub.listeners() == 0  # every closed stream unsubscribed


def test_a_user_has_few_streams_and_pipelining_gets_none(served: Served) -> None:
    nina = session_cookie(served, NINA)
    with ExitStack() as stack:
        for _ in range(MAX_PER_USER):
            open_stream(served, nina, stack)
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", served.ports["http"])))
        sock.sendall(REQUEST + f"Cookie: {nina}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 429 ")
    with socket.create_connection(("127.0.0.1", served.ports["http"]), 10) as sock:
        twice = REQUEST + f"Cookie: {nina}\r\n\r\n".encode()
        sock.sendall(twice * 2 + b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = wait_closed(sock)[0]
    # The first is answered and ended (its last chunk), the connection closed after it.
    assert answers.count(b"HTTP/1.1 200 ") == 1 and answers.endswith(b"\r\n0\r\n\r\n")
    time.sleep(0.5)
    assert served.services.events.listeners() == 0


def test_a_stream_stops_with_its_session(served: Served, tmp_path: Path) -> None:
    browser = Browser(served.base_url)
    browser.log_in(NINA, PASSWORD)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    with ExitStack() as stack:
        sock = open_stream(served, cookie, stack)
        browser.request("/logout", {"csrf_token": browser.csrf("/account")})
        live_module = sys.modules["groupware.web.live"]
        live_module.RECHECK = 0.0  # type: ignore[attr-defined]  # believe no answer
        try:
            deliver(served, NINA, tmp_path)
            sock.settimeout(5)
            data = b""
            while b"event: " not in data:
                data += sock.recv(4096)
        finally:
            live_module.RECHECK = RECHECK  # type: ignore[attr-defined]
    assert b"event: ended" in data and b"MessageAdded" not in data


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
        streams = [open_stream(served, nina, stack) for _ in range(MAX_PER_USER)]
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
    with ExitStack() as stack:  # as many again, and more, from the same address
        for address in (NINA, *TABS):
            cookie = session_cookie(served, address)
            for _ in range(MAX_PER_USER):
                open_stream(served, cookie, stack)
        assert served_login(served, "127.0.0.1")
