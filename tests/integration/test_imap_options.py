"""IMAP settings and extensions that imaplib does not drive: COMPRESS=DEFLATE over a raw
socket, capabilities hidden per account, and the per-account connection limit."""

from __future__ import annotations

import dataclasses
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import IMAPConfig
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_imap import MESSAGE, PASSWORD, Raw


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    imap = IMAPConfig(max_connections_per_user=2, hide_capabilities="bob@example.test=QRESYNC ID")
    config = dataclasses.replace(with_listeners(config, imap="on"), imap=imap)
    with serving(config) as served:
        for user in ("alice", "bob"):
            served.services.directory.add_user(SYSTEM, f"{user}@example.test", PASSWORD)
        yield served


def login(served: Served, user: str = "alice") -> Raw:
    raw = Raw(served.ports["imap"])
    raw.send(f"a LOGIN {user}@example.test {PASSWORD}\r\n".encode())
    reply = raw.until(b"a")[-1]
    assert reply.startswith(b"a OK"), reply
    return raw


class Deflated:
    """Both directions of a raw socket through raw DEFLATE (RFC 4978)."""

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self.sock = sock
        self.out = zlib.compressobj(wbits=-15)
        self.inflate = zlib.decompressobj(wbits=-15)
        self.buffer = self.inflate.decompress(leftover) if leftover else b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH))

    def until(self, tag: bytes) -> list[bytes]:
        while not any(line.startswith(tag + b" ") for line in self.buffer.split(b"\r\n")):
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buffer += self.inflate.decompress(chunk)
        lines = self.buffer.split(b"\r\n")
        self.buffer = b""
        return lines


def test_compress_deflate_both_ways(server: Served) -> None:
    raw = login(server)
    raw.send(b"c CAPABILITY\r\n")
    assert b"COMPRESS=DEFLATE" in raw.until(b"c")[0]
    raw.send(b"z COMPRESS DEFLATE\r\n")
    assert raw.line().startswith(b"z OK")
    deflated = Deflated(raw.sock, raw.buffer)
    deflated.send(b"b APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
    assert any(line.startswith(b"b OK [APPENDUID") for line in deflated.until(b"b"))
    deflated.send(b"s SELECT INBOX\r\nf FETCH 1 BODY.PEEK[]\r\n")
    lines = deflated.until(b"f")
    assert b"* 1 EXISTS" in lines and MESSAGE.split(b"\r\n")[0] in lines
    deflated.send(b"z COMPRESS DEFLATE\r\n")
    assert deflated.until(b"z")[-2].startswith(b"z NO [COMPRESSIONACTIVE]")
    raw.close()


def test_hidden_capabilities_per_account(server: Served) -> None:
    bob = login(server, "bob")
    bob.send(b"c CAPABILITY\r\ne ENABLE QRESYNC\r\n")
    capabilities = bob.until(b"c")[0].split()
    assert b"QRESYNC" not in capabilities and b"ID" not in capabilities
    assert b"CONDSTORE" in capabilities
    assert bob.until(b"e")[0] == b"* ENABLED"
    alice = login(server)
    alice.send(b"c CAPABILITY\r\n")
    assert b"QRESYNC" in alice.until(b"c")[0].split()


def test_connections_per_account_are_limited(server: Served) -> None:
    first, second = login(server), login(server)
    third = Raw(server.ports["imap"])
    third.send(f"a LOGIN alice@example.test {PASSWORD}\r\n".encode())
    assert third.until(b"a")[-1].startswith(b"a NO [LIMIT]")
    first.send(b"l LOGOUT\r\n")
    first.until(b"l")
    first.close()
    fourth = login(server)  # the slot came back
    for raw in (second, third, fourth):
        raw.close()


def test_big_literal_is_spooled_and_stored_whole(server: Served) -> None:
    raw = login(server)
    body = b"".join(b"line %07d of a big message\r\n" % i for i in range(40_000))  # ~1.1 MB
    message = b"Subject: big\r\n\r\n" + body
    raw.send(b"b APPEND INBOX {%d}\r\n" % len(message))
    assert raw.line().startswith(b"+ ")
    raw.send(message + b"\r\n")
    assert raw.until(b"b")[-1].startswith(b"b OK [APPENDUID")
    spool = server.runtime.config.data_dir / "spool"
    assert not list(spool.glob("imap-*"))  # the spooled literal went away after APPEND
    raw.send(b"s SELECT INBOX\r\nf FETCH 1 RFC822.SIZE\r\n")
    assert b"* 1 FETCH (RFC822.SIZE %d)" % len(message) in raw.until(b"f")
    raw.close()


def test_idle_sees_flags_and_expunges_from_another_session(server: Served) -> None:
    watcher, actor = login(server), login(server)
    actor.send(b"b APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
    actor.until(b"b")
    watcher.send(b"s SELECT INBOX\r\ni IDLE\r\n")
    watcher.until(b"s")
    assert watcher.line() == b"+ idling"
    actor.send(b"s SELECT INBOX\r\nf STORE 1 +FLAGS (\\Flagged)\r\n")
    actor.until(b"f")
    assert watcher.line() == b"* 1 FETCH (FLAGS (\\Flagged \\Recent))"
    actor.send(b"e STORE 1 +FLAGS (\\Deleted)\r\nx EXPUNGE\r\n")
    actor.until(b"x")
    assert watcher.line().startswith(b"* 1 FETCH (FLAGS (")
    assert watcher.line() == b"* 1 EXPUNGE"
    watcher.send(b"DONE\r\n")
    assert watcher.until(b"i")[-1].startswith(b"i OK")


def test_utf8_accept_names_and_append(server: Served) -> None:
    raw = login(server)
    raw.send(b"e ENABLE UTF8=ACCEPT\r\n")
    assert raw.until(b"e")[0] == b"* ENABLED UTF8=ACCEPT"
    raw.send('c CREATE "Grüße"\r\nl LIST "" "Gr*"\r\n'.encode())
    assert raw.until(b"c")[-1].startswith(b"c OK")
    assert raw.until(b"l")[0].endswith('"Grüße"'.encode())
    message = "Subject: Grüße\r\n\r\nHallo\r\n".encode()
    raw.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(message) + message + b")\r\n")
    assert raw.until(b"a")[-1].startswith(b"a OK [APPENDUID")
    other = login(server)  # a session without UTF8=ACCEPT sees modified UTF-7
    other.send(b'l LIST "" "Gr*"\r\n')
    assert other.until(b"l")[0].endswith(b"Gr&APwA3w-e")


def test_flag_fetches_answered_from_the_view(server: Served) -> None:
    raw = login(server)
    for _ in range(3):
        raw.send(b"b APPEND INBOX (\\Seen) {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
        raw.until(b"b")
    raw.send(b"s SELECT INBOX\r\nt STORE 2 +FLAGS.SILENT ($Work)\r\n")
    raw.until(b"t")
    raw.send(b"f FETCH 1:* (FLAGS)\r\n")
    assert raw.until(b"f")[1] == b"* 2 FETCH (FLAGS ($Work \\Recent \\Seen))"
    raw.send(b"u UID FETCH 2:3 (FLAGS)\r\n")
    assert raw.until(b"u")[:2] == [
        b"* 2 FETCH (UID 2 FLAGS ($Work \\Recent \\Seen))",
        b"* 3 FETCH (UID 3 FLAGS (\\Recent \\Seen))",
    ]
    raw.send(b"d FETCH 3 (FLAGS UID FLAGS)\r\n")
    assert raw.until(b"d")[0].startswith(b"* 3 FETCH (FLAGS (\\Recent \\Seen) UID 3")


def test_a_flood_of_garbage_ends_in_bye_and_the_server_lives_on(server: Served) -> None:
    raw = Raw(server.ports["imap"])
    raw.send(b"".join(b"%d \x01\xfe garbage (((\r\n" % i for i in range(50)))
    replies = []
    while True:
        try:
            replies.append(raw.line())
        except ConnectionError:
            break
    assert sum(line.endswith(b"garbage") or b" BAD " in line for line in replies) == 20
    assert replies[-1] == b"* BYE Too many invalid commands"
    login(server).close()  # others still get in


def test_enable_condstore_while_selected_reports_highestmodseq(server: Served) -> None:
    raw = login(server)
    raw.send(b"s SELECT INBOX\r\ne ENABLE CONDSTORE\r\nf ENABLE CONDSTORE\r\n")
    raw.until(b"s")
    lines = raw.until(b"e")
    assert lines[0] == b"* ENABLED CONDSTORE"
    assert lines[1].startswith(b"* OK [HIGHESTMODSEQ ")
    assert raw.until(b"f") == [b"* ENABLED", b"f OK ENABLE completed"]
