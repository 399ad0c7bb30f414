"""Hostile IMAP clients over real sockets: slowloris before and after login (dropped at the
login timeout or the autologout, however they trickle), connections without end (the per
address limit turns them away, earlier ones work on), and memory per hostile connection."""

from __future__ import annotations

import dataclasses
import ssl
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import IMAPConfig
from groupware.protocols.imap.server import IMAPListener
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
from tests.integration.test_imap import MESSAGE, PASSWORD, Raw, raw_login
from tests.integration.test_imap_options import Deflated

LOGIN_TIMEOUT = 2
PER_IP = 4
MIB = 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    # About the protocol, not the database: SQLite alone.
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    imap = IMAPConfig(
        login_timeout=LOGIN_TIMEOUT, max_connections_per_ip=PER_IP, max_literal=32 * MIB
    )
    config = dataclasses.replace(with_listeners(config, imap="on"), imap=imap)
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        yield served


def listener(served: Served) -> IMAPListener:
    [found] = [s for s in served.runtime.started if s.name == "imap"]
    assert isinstance(found, IMAPListener)
    return found


def test_silent_client_is_dropped_at_the_login_timeout(server: Served) -> None:
    sock = connect(server.ports["imap"])
    sock.sendall(b"a LOGIN alice@example.test")  # and never the end of the line
    received, seconds = wait_closed(sock)
    assert received.endswith(b"* BYE Too slow to log in\r\n")
    assert seconds < GIVE_UP
    sock.close()


@pytest.mark.parametrize(
    "payload",
    [b"a NOOP\r\n", b"a LOGIN alice@example.test " + b"x" * 1000, b"a ID {4000}\r\n"],
    ids=["noops", "endless-line", "literal"],
)
def test_trickling_client_is_dropped_at_the_login_timeout(server: Served, payload: bytes) -> None:
    """A byte every quarter second never lets the connection outlive the login timeout:
    complete commands, one line without end, or a literal (RFC 9051 §5.4's 30 minutes are
    for sessions that logged in)."""
    sock = connect(server.ports["imap"])
    received, seconds = trickle_until_closed(sock, payload)
    assert seconds < GIVE_UP, "still connected"
    assert received.startswith(b"* OK")
    sock.close()


def test_unanswered_authenticate_is_dropped_at_the_login_timeout(server: Served) -> None:
    sock = connect(server.ports["imap"])
    sock.sendall(b"a AUTHENTICATE PLAIN\r\n")
    received, seconds = wait_closed(sock)
    assert b"\r\n+ \r\n" in received and received.endswith(b"* BYE Too slow to log in\r\n")
    assert seconds < GIVE_UP
    sock.close()


def test_logged_in_session_outlives_the_login_timeout(server: Served) -> None:
    raw = raw_login(server)
    time.sleep(LOGIN_TIMEOUT + 1)
    raw.send(b"n NOOP\r\n")
    assert raw.until(b"n")[-1].startswith(b"n OK")
    raw.close()


def test_trickled_command_after_login_is_dropped_at_autologout(server: Served) -> None:
    imap = listener(server)
    imap.limits = dataclasses.replace(imap.limits, autologout=LOGIN_TIMEOUT)
    raw = raw_login(server)
    raw.send(b"b APPEND INBOX {300000+}\r\n" + MESSAGE)  # a literal that never ends
    received, seconds = trickle_until_closed(raw.sock, b"x")
    assert seconds < GIVE_UP, "still connected"
    spool = server.runtime.config.data_dir / "spool"
    assert not list(spool.glob("imap-*"))  # its spool file went with it
    raw = raw_login(server)
    raw.send(b"s STATUS INBOX (MESSAGES)\r\n")
    assert raw.until(b"s")[0] == b"* STATUS INBOX (MESSAGES 0)"
    raw.close()


def test_client_that_reads_nothing_is_dropped_at_autologout(server: Served) -> None:
    """Logged in, a client that takes none of its answers (here 40 MB of FETCH) is idle
    too (RFC 9051 §5.4): a write waits the autologout for it at most."""
    imap = listener(server)
    imap.limits = dataclasses.replace(imap.limits, autologout=LOGIN_TIMEOUT)
    raw = raw_login(server)
    big = MESSAGE + b"b" * (2 * MIB)
    raw.send(b"a APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\ns SELECT INBOX\r\n")
    raw.until(b"s")
    send_without_reading(raw.sock, b"f FETCH 1 BODY.PEEK[]\r\n" * 20)

    def gone() -> None:
        assert not imap.connections.open, "still connected"

    eventually(gone, within=GIVE_UP)
    raw.close()


def test_an_idle_client_is_dropped_at_its_idle_timeout_however_much_news_it_hears(
    server: Served, tmp_path: Path
) -> None:
    """IDLE's autologout counts the client's silence (RFC 9051 §5.4): mail arriving all
    the while does not put it off."""
    imap = listener(server)
    imap.limits = dataclasses.replace(imap.limits, idle_timeout=LOGIN_TIMEOUT)
    raw = raw_login(server)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until(b"s")
    alice = server.services.auth.authenticate("alice@example.test", PASSWORD, "imap", "127.0.0.1")
    began, heard = time.monotonic(), 0
    raw.send(b"i IDLE\r\n")
    assert raw.line() == b"+ idling"
    path = tmp_path / "news.eml"
    while time.monotonic() - began < GIVE_UP:
        path.write_bytes(MESSAGE)
        server.services.messages.append(alice.principal, "INBOX", path, (), None)
        line = raw.line()
        while not line.endswith(b"EXISTS") and line != b"* BYE Idle for too long":
            line = raw.line()  # (RECENT)
        if line == b"* BYE Idle for too long":
            break
        heard += 1
        time.sleep(0.2)
    assert line == b"* BYE Idle for too long", "still idling"
    assert LOGIN_TIMEOUT <= time.monotonic() - began < LOGIN_TIMEOUT + 2 and heard >= 3
    raw.close()


def test_connections_without_end_meet_the_limit_per_address(server: Served) -> None:
    port = server.ports["imap"]
    first = [raw_login(server) for _ in range(PER_IP)]
    for _ in range(30):
        sock = connect(port)
        received, seconds = wait_closed(sock)
        assert received == b"* BYE Too many connections; try again later\r\n"
        sock.close()
    for raw in first:  # the earlier ones are served as ever
        raw.send(b"s SELECT INBOX\r\n")
        assert raw.until(b"s")[-1].startswith(b"s OK")
    first.pop().close()
    eventually(lambda: raw_login(server)).close()  # a slot came back
    for raw in first:
        raw.close()


def test_memory_per_hostile_connection_stays_bounded(server: Served) -> None:
    """Huge literals before login (a live server grew by ~100 MB so), an endless line,
    thousands of commands never read, and a logged-in APPEND of many small literals (each
    held in memory until the command ended): the server grows by a few MiB at most."""
    quarter = b"q" * (256 * 1024)
    before_login = b"a LOGIN {262144+}\r\n" + b"".join(
        quarter + b" {262144+}\r\n" for _ in range(100)
    )
    endless = b"b " + b"x" * (8 * MIB)
    commands = b"c NOOP\r\n" * 20_000
    message = MESSAGE + b"m" * (200_000 - len(MESSAGE))
    appends = b"d APPEND INBOX" + b"".join(b" {200000+}\r\n" + message for _ in range(100))
    port = server.ports["imap"]
    with peak_memory() as peak:
        for hostile in (before_login, endless, commands):
            sock = connect(port)
            send_without_reading(sock, hostile)
            sock.close()
        raw = raw_login(server)
        send_without_reading(raw.sock, appends)  # 20 MB, never ended: cut off
        raw.close()
        raw = raw_login(server)  # the server still answers
        raw.send(b"s STATUS INBOX (MESSAGES)\r\n")
        assert raw.until(b"s")[0] == b"* STATUS INBOX (MESSAGES 0)"
        raw.close()
        grown = peak()
    print(f"the server grew by {grown / MIB:.1f} MiB at most")
    assert grown < 10 * MIB, f"the server grew by {grown / MIB:.1f} MiB"


@pytest.mark.parametrize("tls", [False, True], ids=["clear", "starttls"])
def test_a_deflate_bomb_after_login_is_inflated_as_it_is_read(server: Served, tls: bool) -> None:
    """COMPRESS=DEFLATE (RFC 4978): 24 MiB of one letter deflate to some 24 KiB, which one
    read of the socket used to inflate whole into memory. It is inflated a piece at a time
    as the session reads the literal (spooled to disk, then refused as a mailbox name),
    and the session goes on."""
    size = 24 * MIB
    raw = Raw(server.ports["imap"])
    if tls:  # then the reader waits on the socket's transport, not on the TLS one
        raw.send(b"t STARTTLS\r\n")
        assert raw.line().startswith(b"t OK")
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw.sock = context.wrap_socket(raw.sock)
    raw.send(b"a LOGIN alice@example.test " + PASSWORD.encode() + b"\r\n")
    assert raw.until(b"a")[-1].startswith(b"a OK")
    raw.send(b"z COMPRESS DEFLATE\r\n")
    assert raw.line().startswith(b"z OK")
    deflated = Deflated(raw.sock, raw.buffer)
    out = deflated.out  # compressed here, before counting: the test's own bytes stay out
    bomb = out.compress(b"b SELECT {%d+}\r\n" % size)
    bomb += out.compress(b"a" * size) + out.compress(b"\r\n") + out.flush(zlib.Z_SYNC_FLUSH)
    with peak_memory() as peak:
        raw.sock.sendall(bomb)
        assert deflated.until(b"b")[-2].startswith(b"b BAD")
        grown = peak()
    deflated.send(b"n NOOP\r\n")
    assert deflated.until(b"n")[-2].startswith(b"n OK")
    raw.close()
    print(f"the server grew by {grown / MIB:.1f} MiB at most")
    assert grown < 10 * MIB, f"the server grew by {grown / MIB:.1f} MiB"
