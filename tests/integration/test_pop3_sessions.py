"""POP3 sessions over real sockets: USER/PASS, AUTH PLAIN, CAPA, STLS, pop3s, and raw
exchanges (wrong states, garbage, long lines, pipelining, autologout, connection limits)."""

from __future__ import annotations

import base64
import poplib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.protocols.pop3.session import Limits
from tests.conftest import Served
from tests.integration.pop3_clients import (
    ALICE,
    DOTTED,
    MESSAGE,
    PASSWORD,
    Raw,
    deliver,
    inbox_uids,
    listener,
    raw_login,
    start,
    tls_context,
)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from start(tmp_path, database_url)


def test_autologout_closes_without_update(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE)
    listener(server).limits = Limits(autologout=0.5)
    raw = raw_login(server)
    raw.send(b"DELE 1\r\n")
    assert raw.line().startswith(b"+OK")
    time.sleep(1.5)
    assert raw.closed()  # RFC 1939 §3: closed without a reply
    assert inbox_uids(server) == uids


def test_auth_plain(server: Served, tmp_path: Path) -> None:
    deliver(server, tmp_path, MESSAGE)
    token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    raw = Raw(server.ports["pop3"])
    raw.send(b"AUTH\r\n")
    assert raw.multiline() == [b"+OK SASL mechanisms follow", b"PLAIN", b"."]
    raw.send(b"AUTH CRAM-MD5\r\n")
    assert raw.line().startswith(b"-ERR")
    raw.send(b"AUTH PLAIN\r\n")
    assert raw.line() == b"+ "
    raw.send(b"*\r\n")
    assert raw.line() == b"-ERR Authentication cancelled"
    raw.send(b"AUTH PLAIN " + base64.b64encode(f"\0{ALICE}\0wrong-pass".encode()) + b"\r\n")
    assert raw.line() == b"-ERR [AUTH] Authentication failed"
    raw.send(b"AUTH PLAIN " + token + b"\r\nSTAT\r\n")  # RFC 5034 §4 initial response
    assert raw.line() == b"+OK Logged in; 1 message (%d octets)" % len(MESSAGE)
    assert raw.line() == b"+OK 1 %d" % len(MESSAGE)
    raw.close()
    raw = Raw(server.ports["pop3"])
    raw.send(b"AUTH PLAIN\r\n")
    assert raw.line() == b"+ "
    raw.send(token + b"\r\n")
    assert raw.line().startswith(b"+OK Logged in")
    raw.close()


def test_capa_before_and_after_login(server: Served) -> None:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    before = client.capa()
    for name in ("TOP", "UIDL", "USER", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"):
        assert name in before
    assert before["SASL"] == ["PLAIN"]
    client.user(ALICE)
    client.pass_(PASSWORD)
    assert client.capa() == before  # RFC 2449 §5: the same in both states
    client.quit()


def test_stls_pop3s_and_no_password_in_clear(tmp_path: Path, database_url: str) -> None:
    for served in start(tmp_path, database_url, loopback_is_secure=False):
        client = poplib.POP3("127.0.0.1", served.ports["pop3"], timeout=10)
        clear = client.capa()
        assert "STLS" in clear and "USER" not in clear and "SASL" not in clear
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Plaintext"):
            client.user(ALICE)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Plaintext"):
            client._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0a\0b").decode())
        client.stls(tls_context(served))
        protected = client.capa()
        assert "USER" in protected and "STLS" not in protected
        with pytest.raises(poplib.error_proto):
            client._shortcmd("STLS")  # not twice
        client.user(ALICE)
        client.pass_(PASSWORD)
        assert client.stat() == (0, 0)
        client.quit()
        secure = poplib.POP3_SSL(
            "127.0.0.1", served.ports["pop3s"], context=tls_context(served), timeout=10
        )
        assert "STLS" not in secure.capa() and "USER" in secure.capa()
        secure.user(ALICE)
        secure.pass_(PASSWORD)
        assert secure.stat() == (0, 0)
        secure.quit()


def test_stls_with_pipelined_commands_hangs_up(server: Served) -> None:
    raw = Raw(server.ports["pop3"])
    raw.send(b"STLS\r\nUSER alice@example.test\r\n")
    assert raw.line().startswith(b"+OK")
    assert raw.closed()


def test_wrong_password_then_right_one(server: Served) -> None:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    client.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Authentication failed"):
        client.pass_("Wrong-pass-9876")
    with pytest.raises(poplib.error_proto, match="USER first"):
        client.pass_(PASSWORD)  # a failed PASS needs USER again
    client.user("nobody@example.test")  # never says whether the mailbox exists
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.pass_(PASSWORD)
    client.user(ALICE)
    client.pass_(PASSWORD)
    client.quit()


def test_commands_in_the_wrong_state(server: Served) -> None:
    raw = Raw(server.ports["pop3"])
    for command in (b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"NOOP", b"RSET", b"UIDL"):
        raw.send(command + b"\r\n")
        verb = command.split()[0]
        assert raw.line() == b"-ERR %s is not allowed in the AUTHORIZATION state" % verb
    raw.send(b"PASS before-user\r\n")
    assert raw.line() == b"-ERR Send USER first"
    raw.close()
    raw = raw_login(server)
    for command in (b"USER x", b"PASS y", b"AUTH PLAIN =", b"STLS"):
        raw.send(command + b"\r\n")
        assert raw.line().endswith(b"is not allowed in the TRANSACTION state")
    raw.send(b"RETR 1\r\nLIST 7\r\nNOOP\r\n")
    assert raw.line() == b"-ERR No such message 1"
    assert raw.line() == b"-ERR No such message 7"
    assert raw.line() == b"+OK"
    raw.send(b"QUIT\r\n")
    assert raw.line() == b"+OK groupware POP3 server signing off (maildrop empty)"
    assert raw.closed()


def test_garbage_and_overlong_lines(server: Served) -> None:
    raw = Raw(server.ports["pop3"])
    raw.send(b"NOOP " + b"x" * 5000 + b"\r\n")
    assert raw.line() == b"-ERR Line too long"
    raw.send(b"\x00\xff\xfe garbage\r\n\r\nAPOP alice abc\r\nRETR -1\r\n")
    assert all(raw.line().startswith(b"-ERR") for _ in range(4))
    raw.send(b"USER " + ALICE.encode() + b"\r\nPASS " + PASSWORD.encode() + b"\r\nNOOP\r\n")
    assert raw.line().startswith(b"+OK") and raw.line().startswith(b"+OK")
    assert raw.line() == b"+OK"
    raw.close()
    raw = Raw(server.ports["pop3"])
    raw.send(b"NOOP " + b"x" * 100_000)  # no end in sight: hang up
    assert raw.closed()
    raw = Raw(server.ports["pop3"])
    raw.send(b"BOGUS\r\n" * 25)
    replies = [raw.line() for _ in range(21)]
    assert replies[-1] == b"-ERR Too many bad commands; closing the connection"
    assert raw.closed()


def test_pipelining(server: Served, tmp_path: Path) -> None:
    deliver(server, tmp_path, MESSAGE, DOTTED)
    raw = raw_login(server)
    raw.send(b"STAT\r\nLIST\r\nTOP 2 0\r\nUIDL 1\r\nQUIT\r\n")
    assert raw.line().startswith(b"+OK 2 ")
    assert len(raw.multiline()) == 4
    assert raw.multiline()[-2] == b""  # TOP 2 0: the header and its blank line
    assert raw.line().startswith(b"+OK 1 ")
    assert raw.line().startswith(b"+OK groupware POP3 server signing off")
    raw.close()


def test_connection_limit_per_address(server: Served) -> None:
    listener(server).connections.per_ip = 1
    first = Raw(server.ports["pop3"])
    second = socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=10)
    assert second.recv(200).startswith(b"-ERR [SYS/TEMP] Too many connections")
    second.close()
    first.close()
