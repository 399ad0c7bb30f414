"""POP3 maildrop over real sockets with poplib: STAT, LIST, UIDL, RETR, TOP, DELE at QUIT,
RSET, and mail delivered or expunged meanwhile. Logins, TLS: test_pop3_sessions.py."""

from __future__ import annotations

import poplib
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.protocols.pop3.handlers.transaction import CHUNK
from groupware.protocols.pop3.wire import dot_stuff
from tests.conftest import Served
from tests.integration.pop3_clients import (
    ALICE,
    DOTTED,
    MESSAGE,
    alice,
    connect,
    deliver,
    inbox_uids,
    raw_login,
    start,
)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from start(tmp_path, database_url)


def test_stat_list_uidl_retr_top(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED)
    uidvalidity = server.services.mailboxes.get(alice(server), "INBOX").uidvalidity
    client = connect(server)
    assert client.getwelcome().startswith(b"+OK")
    assert client.stat() == (2, len(MESSAGE) + len(DOTTED))
    response, listing, _ = client.list()
    assert listing == [b"1 %d" % len(MESSAGE), b"2 %d" % len(DOTTED)]
    assert client.list(2) == b"+OK 2 %d" % len(DOTTED)
    response, ids, _ = client.uidl()
    assert ids == [b"1 %d.%d" % (uidvalidity, uids[0]), b"2 %d.%d" % (uidvalidity, uids[1])]
    assert client.uidl(1) == b"+OK 1 %d.%d" % (uidvalidity, uids[0])
    for number, data in ((1, MESSAGE), (2, DOTTED)):
        response, lines, _ = client.retr(number)
        assert response == b"+OK %d octets" % len(data)
        assert b"\r\n".join(lines) + b"\r\n" == data  # byte-identical once unstuffed
    response, lines, _ = client.top(1, 1)
    assert lines[-2:] == [b"", b"First line."] and lines[2] == b"Subject: Hello there"
    response, lines, _ = client.top(1, 0)
    assert lines[-1] == b"" and b"Second line." not in lines
    client.quit()
    assert inbox_uids(server) == uids  # reading deletes nothing
    flags = server.services.messages.index(alice(server), "INBOX")[1][0].flags
    assert "\\Seen" not in flags  # as Dovecot: RETR does not mark \Seen


def test_dot_stuffing_on_the_wire(server: Served, tmp_path: Path) -> None:
    deliver(server, tmp_path, DOTTED)
    raw = raw_login(server)
    raw.send(b"RETR 1\r\n")
    lines = raw.multiline()
    assert lines[0] == b"+OK %d octets" % len(DOTTED)
    assert lines[-5:] == [b"..leading dot", b"..", b"...two dots", b"last line", b"."]
    raw.close()


def pad(data: bytearray, end: int) -> None:
    """Filler lines (short enough for any client) so that the next byte goes at `end`."""
    while end - len(data) > 1002:
        data += b"x" * 998 + b"\r\n"
    data += b"y" * (end - len(data) - 2) + b"\r\n"


def test_dot_stuffing_across_retr_chunks(server: Served, tmp_path: Path) -> None:
    data = bytearray(b"From: bob@example.test\r\nSubject: Chunks\r\n\r\n")
    pad(data, CHUNK)
    data += b".starts a chunk\r\n"  # the line starts at a chunk's first byte
    pad(data, 2 * CHUNK + 1)  # CR ends one chunk, LF starts the next
    data += b".after a split line break\r\n"
    pad(data, 3 * CHUNK - 1)
    data += b"a.dot mid-line starts a chunk\r\n"  # not a line start: not stuffed
    pad(data, 4 * CHUNK - 1)
    data += b".ends a chunk\r\nlast line"  # no line break at the end
    deliver(server, tmp_path, bytes(data))
    raw = raw_login(server)
    raw.send(b"RETR 1\r\n")
    lines = raw.multiline()
    assert lines[0] == b"+OK %d octets" % len(data)
    assert lines[1:] == [*dot_stuff(bytes(data)).split(b"\r\n"), b"."]
    assert {b"..starts a chunk", b"..after a split line break", b"..ends a chunk"} <= set(lines)
    assert b"a.dot mid-line starts a chunk" in lines
    raw.close()


def test_uidl_stable_across_sessions(server: Served, tmp_path: Path) -> None:
    deliver(server, tmp_path, MESSAGE, MESSAGE, MESSAGE)
    client = connect(server)
    first = [line.split()[1] for line in client.uidl()[1]]
    assert len(set(first)) == 3
    client.dele(1)
    client.quit()
    deliver(server, tmp_path, DOTTED)
    client = connect(server)
    second = [line.split()[1] for line in client.uidl()[1]]
    assert second[:2] == first[1:] and second[2] not in first
    client.quit()


def test_dele_applies_only_at_quit(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED, MESSAGE)
    client = connect(server)
    assert client.dele(2).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.dele(2)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.retr(2)
    assert client.stat() == (2, 2 * len(MESSAGE))
    assert [line.split()[0] for line in client.list()[1]] == [b"1", b"3"]
    assert inbox_uids(server) == uids  # nothing removed before QUIT
    assert b"2 messages left" in client.quit()
    assert inbox_uids(server) == [uids[0], uids[2]]


def test_quit_removes_only_what_dele_marked(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED, MESSAGE)
    principal = alice(server)
    client = connect(server)
    client.dele(1)
    # Meanwhile IMAP flags another message \Deleted: an UPDATE must not expunge it.
    server.services.messages.store_flags(principal, "INBOX", [uids[2]], "add", ["\\Deleted"])
    assert b"2 messages left" in client.quit()
    assert inbox_uids(server) == uids[1:]
    inbox = server.services.mailboxes.get(principal, "INBOX")
    assert (inbox.messages, inbox.size) == (2, len(DOTTED) + len(MESSAGE))


def test_dropped_connection_removes_nothing(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED)
    raw = raw_login(server)
    raw.send(b"DELE 1\r\nDELE 2\r\n")
    assert raw.line().startswith(b"+OK") and raw.line().startswith(b"+OK")
    raw.close()  # RFC 1939 §6: no QUIT, no UPDATE
    client = connect(server)
    assert client.stat()[0] == 2
    client.quit()
    assert inbox_uids(server) == uids


def test_rset_unmarks(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED)
    client = connect(server)
    client.dele(1)
    client.dele(2)
    assert client.stat() == (0, 0)
    assert client.rset() == b"+OK Maildrop has 2 messages (%d octets)" % (
        len(MESSAGE) + len(DOTTED)
    )
    assert client.stat()[0] == 2
    assert b"maildrop empty" not in client.quit()
    assert inbox_uids(server) == uids


def test_message_expunged_by_imap_meanwhile(server: Served, tmp_path: Path) -> None:
    uids = deliver(server, tmp_path, MESSAGE, DOTTED)
    client = connect(server)
    principal = alice(server)
    server.services.messages.store_flags(principal, "INBOX", [uids[0]], "add", ["\\Deleted"])
    server.services.messages.expunge(principal, "INBOX", [uids[0]])
    with pytest.raises(poplib.error_proto, match="removed by another session"):
        client.retr(1)
    assert client.stat()[0] == 2  # the snapshot taken at login
    client.dele(1)
    client.dele(2)
    assert b"maildrop empty" in client.quit()
    assert inbox_uids(server) == []


def test_smtp_delivery_is_retrieved(server: Served) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as smtp:
        smtp.sendmail("bob@elsewhere.example", [ALICE], MESSAGE)
    client = connect(server)
    count, size = client.stat()
    response, lines, _ = client.retr(1)
    assert count == 1 and len(b"\r\n".join(lines) + b"\r\n") == size
    assert b"Subject: Hello there" in lines and lines[-1] == b"Third line."
    client.quit()
