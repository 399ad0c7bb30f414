"""Hostile POP3 clients over real sockets: slowloris before and after login (dropped at the
login timeout or the autologout, however they trickle), connections without end (the per
address limit turns them away, earlier ones work on), and memory per hostile connection."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import POP3Config
from groupware.services.core.access import SYSTEM
from tests.abuse import (
    GIVE_UP,
    connect,
    eventually,
    peak_memory,
    send_without_reading,
    trickle_until_closed,
    wait_closed,
)
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.pop3_clients import (
    ALICE,
    MESSAGE,
    PASSWORD,
    deliver,
    listener,
    raw_login,
)

LOGIN_TIMEOUT = 2
PER_IP = 4
MIB = 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    # About the protocol, not the database: SQLite alone.
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    pop3 = POP3Config(login_timeout=LOGIN_TIMEOUT, max_connections_per_ip=PER_IP)
    config = dataclasses.replace(with_listeners(config, pop3="on"), pop3=pop3)
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        yield served


def test_silent_client_is_dropped_at_the_login_timeout(server: Served) -> None:
    sock = connect(server.ports["pop3"])
    sock.sendall(b"USER alice")  # and never the end of the line
    received, seconds = wait_closed(sock)
    assert received.startswith(b"+OK")
    assert seconds < GIVE_UP
    sock.close()


@pytest.mark.parametrize(
    "payload",
    [b"CAPA\r\n", b"USER " + b"x" * 1000, b"AUTH PLAIN\r\n"],
    ids=["commands", "endless-line", "sasl"],
)
def test_trickling_client_is_dropped_at_the_login_timeout(server: Served, payload: bytes) -> None:
    """A byte every quarter second never lets the connection outlive the login timeout
    (RFC 1939 §3's 10 minutes are for sessions that logged in)."""
    sock = connect(server.ports["pop3"])
    received, seconds = trickle_until_closed(sock, payload)
    assert seconds < GIVE_UP, "still connected"
    assert received.startswith(b"+OK")
    sock.close()


def test_unanswered_auth_is_dropped_at_the_login_timeout(server: Served) -> None:
    sock = connect(server.ports["pop3"])
    sock.sendall(b"AUTH PLAIN\r\n")
    received, seconds = wait_closed(sock)
    assert received.endswith(b"\r\n+ \r\n")
    assert seconds < GIVE_UP
    sock.close()


def test_logged_in_session_outlives_the_login_timeout(server: Served) -> None:
    raw = raw_login(server)
    time.sleep(LOGIN_TIMEOUT + 1)
    raw.send(b"STAT\r\n")
    assert raw.line() == b"+OK 0 0"
    raw.close()


def test_trickled_line_after_login_is_dropped_at_autologout(server: Served) -> None:
    pop3 = listener(server)
    pop3.limits = dataclasses.replace(pop3.limits, autologout=LOGIN_TIMEOUT)
    raw = raw_login(server)
    received, seconds = trickle_until_closed(raw.sock, b"NOOP ")
    assert seconds < GIVE_UP, "still connected"
    raw.close()


def test_client_that_reads_nothing_is_dropped_at_autologout(server: Served, tmp_path: Path) -> None:
    """Logged in, a client that takes none of its answers (here 40 MB of RETR) is idle
    too (RFC 1939 §3): a write waits the autologout for it at most."""
    pop3 = listener(server)
    pop3.limits = dataclasses.replace(pop3.limits, autologout=LOGIN_TIMEOUT)
    deliver(server, tmp_path, MESSAGE + b"b" * (2 * MIB))
    raw = raw_login(server)
    send_without_reading(raw.sock, b"RETR 1\r\n" * 20)

    def gone() -> None:
        assert not pop3.connections.open, "still connected"

    eventually(gone, within=GIVE_UP)
    raw.close()


def test_connections_without_end_meet_the_limit_per_address(server: Served) -> None:
    port = server.ports["pop3"]
    first = [raw_login(server) for _ in range(PER_IP)]
    for _ in range(30):
        sock = connect(port)
        received, seconds = wait_closed(sock)
        assert received == b"-ERR [SYS/TEMP] Too many connections; try again later\r\n"
        sock.close()
    for raw in first:  # the earlier ones are served as ever
        raw.send(b"STAT\r\n")
        assert raw.line() == b"+OK 0 0"
    first.pop().close()
    eventually(lambda: raw_login(server)).close()  # a slot came back
    for raw in first:
        raw.close()


def test_memory_per_hostile_connection_stays_bounded(server: Served) -> None:
    """An endless line, thousands of commands never read, garbage: the server grows by a
    few MiB at most, and it is gone by the login timeout."""
    endless = b"USER " + b"x" * (8 * MIB)
    commands = b"CAPA\r\n" * 50_000
    garbage = b"\x00\xff" * (4 * MIB)
    port = server.ports["pop3"]
    with peak_memory() as peak:
        for hostile in (endless, commands, garbage):
            sock = connect(port)
            send_without_reading(sock, hostile)
            received, seconds = wait_closed(sock)
            assert seconds < GIVE_UP, "still connected"
            sock.close()
        raw_login(server).close()  # the server still answers
        grown = peak()
    print(f"the server grew by {grown / MIB:.1f} MiB at most")
    assert grown < 10 * MIB, f"the server grew by {grown / MIB:.1f} MiB"
