"""The HTTP listener against slow and greedy clients, over raw sockets: one address gets
web.max_connections_per_ip connections and the next is answered 503 and closed, while
other addresses are served; past web.max_connections every newcomer is; request headers
that do not all arrive within web.header_timeout end their connection, trickled or
never sent. A trusted reverse proxy counts only in all.

Regression: a hundred connections trickling a header line every two
seconds filled waitress's connection limit, and /login and /dav timed out for everyone.
127.0.0.x addresses are different clients to the server.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from groupware import runtime as runtime_module
from groupware.config import WebConfig
from groupware.web.server import FORM_BODY_BYTES
from tests.abuse import GIVE_UP, trickle_until_closed, wait_closed
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_web import Browser

SLOW_START = b"GET /login HTTP/1.1\r\nHost: mail.example.test\r\n"
PER_IP = 20


@contextmanager
def web_server(tmp_path: Path, **web: object) -> Iterator[Served]:
    # About the listener, not the database: SQLite alone.
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    config = dataclasses.replace(config, web=dataclasses.replace(WebConfig(), **web))
    with serving(with_listeners(config, http="on")) as served:
        yield served


def slow(served: Served, source: str, stack: ExitStack) -> socket.socket:
    """A connection from `source` that has sent the start of a request and no more."""
    sock = stack.enter_context(
        socket.create_connection(
            ("127.0.0.1", served.ports["http"]), timeout=10, source_address=(source, 0)
        )
    )
    sock.sendall(SLOW_START)
    return sock


def first_answer(served: Served, source: str) -> bytes:
    """What a new connection from `source` is sent before it sends anything."""
    with socket.create_connection(
        ("127.0.0.1", served.ports["http"]), timeout=10, source_address=(source, 0)
    ) as sock:
        return wait_closed(sock)[0]


def served_login(served: Served, source: str) -> bool:
    started = time.monotonic()
    status, _, body = Browser(served.base_url, source=source).request("/login")
    print(f"GET /login from {source}: {status} in {time.monotonic() - started:.2f} s")
    return status == 200 and 'id="login-form"' in body


def eventually(check: Callable[[], bool]) -> bool:
    """`check` true within GIVE_UP seconds (the server frees places as it sees closes)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > GIVE_UP:
            return False
        time.sleep(0.2)
    return True


def test_one_address_gets_its_share_and_others_are_served(tmp_path: Path) -> None:
    with web_server(tmp_path, max_connections_per_ip=PER_IP, max_connections=30) as served:
        with ExitStack() as held:
            for _ in range(PER_IP):
                slow(served, "127.0.0.1", held)
            refusal = first_answer(served, "127.0.0.1")
            assert refusal.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"Retry-After: 30\r\n" in refusal and b"Too many connections" in refusal
            assert served_login(served, "127.0.0.2")  # another client: served at once
            # The total: ten more from a third address fill it; then anyone is turned away.
            for _ in range(10):
                slow(served, "127.0.0.3", held)
            assert first_answer(served, "127.0.0.4").startswith(b"HTTP/1.1 503")
        # Once the slow ones go, their places are free again.
        assert eventually(lambda: served_login(served, "127.0.0.1"))
        assert served_login(served, "127.0.0.4")


def test_a_trusted_proxy_counts_only_in_all(tmp_path: Path) -> None:
    """Behind a reverse proxy every client arrives from its address: limiting it per
    address would limit everyone together (the proxy limits clients: deploy/nginx.conf)."""
    proxied = {"max_connections_per_ip": 2, "trusted_proxy": "127.0.0.1"}
    with web_server(tmp_path, **proxied) as served, ExitStack() as held:
        for _ in range(5):
            slow(served, "127.0.0.1", held)
        assert served_login(served, "127.0.0.1")
        for _ in range(2):
            slow(served, "127.0.0.2", held)
        assert first_answer(served, "127.0.0.2").startswith(b"HTTP/1.1 503")


def test_request_headers_have_a_deadline(tmp_path: Path) -> None:
    with web_server(tmp_path, header_timeout=2) as served:
        port = served.ports["http"]
        # A header line now and then: each byte kept waitress's idle timeout away.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            received, took = trickle_until_closed(sock, SLOW_START + b"X-a: b\r\n" * 100, 0.2)
        print(f"trickled headers: closed after {took:.1f} s")
        assert took < GIVE_UP and received == b""
        # Nothing at all.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            received, took = wait_closed(sock)
        print(f"silent connection: closed after {took:.1f} s")
        assert took < GIVE_UP and received == b""
        # A request on time is answered, and the connection lives on for the next one.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(2):
                sock.sendall(SLOW_START + b"\r\n")
                answer = sock.recv(65536)
                assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
                while b"</html>" not in answer:
                    answer += sock.recv(65536)
                time.sleep(3)  # idle between requests is not a late request


def test_a_body_must_keep_coming(tmp_path: Path) -> None:
    """Once the headers are in, the body gets header_timeout seconds and one more per
    MIN_BODY_RATE bytes: a thousand bodies trickled a byte a minute kept the portal and
    /dav from everyone for as long as they liked."""
    with web_server(tmp_path, header_timeout=2) as served:
        port = served.ports["http"]
        start = (
            b"POST /dav/alice@example.test/calendar/x.ics HTTP/1.1\r\n"
            b"Host: mail.example.test\r\nContent-Length: 1000000\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(start)
            received, took = trickle_until_closed(sock, b"x", 0.5)
        print(f"trickled body: closed after {took:.1f} s")
        assert took < GIVE_UP and received == b""


def test_big_bodies_go_to_dav_only(tmp_path: Path) -> None:
    """Bodies of 64 MiB to /login were spooled to disk before any check: every path but
    /dav takes FORM_BODY_BYTES, refused as soon as the headers announce more."""
    with web_server(tmp_path) as served:
        port = served.ports["http"]
        big = FORM_BODY_BYTES + 1
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /login HTTP/1.1\r\nHost: mail.example.test\r\n"
                + f"Content-Length: {big}\r\n\r\n".encode()
            )
            answer, _ = wait_closed(sock)  # without a byte of the body
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"PUT /dav/alice@example.test/calendar/x.ics HTTP/1.1\r\n"
                + f"Host: mail.example.test\r\nContent-Length: {big}\r\n\r\n".encode()
                + b"x" * big
            )
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]  # read, then asked to log in
        assert served_login(served, "127.0.0.1")  # small forms as ever


def test_webmail_files_are_taken_from_a_logged_in_browser_only(tmp_path: Path) -> None:
    """The compose form takes big bodies, but a stranger's is refused as its headers
    announce it, before anything is spooled."""
    with web_server(tmp_path) as served:
        with socket.create_connection(("127.0.0.1", served.ports["http"]), timeout=10) as sock:
            sock.sendall(
                b"POST /mail/compose HTTP/1.1\r\nHost: mail.example.test\r\n"
                + f"Content-Length: {FORM_BODY_BYTES + 1}\r\n\r\n".encode()
            )
            answer, _ = wait_closed(sock)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
