"""IMAP literals within bounds, over real sockets: before login a command is small (32 KiB,
literals of 4 KiB: LITERAL-, RFC 7888 §4); after it a command's literals share one
APPENDLIMIT; spool files go when their command ends or the connection does,
whatever state it is in (a cut-off APPEND left them until a restart)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import IMAPConfig
from groupware.services.core.access import SYSTEM
from tests.abuse import peak_memory
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_imap import MESSAGE, PASSWORD, Raw, raw_login

MAX_LITERAL = 12 * 1024 * 1024
MIB = 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    # About the protocol, not the database: SQLite alone.
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    imap = IMAPConfig(max_literal=MAX_LITERAL)
    config = dataclasses.replace(with_listeners(config, imap="on"), imap=imap)
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        yield served


def spooled(served: Served) -> list[Path]:
    spool = served.runtime.config.data_dir / "spool"
    return sorted(spool.glob("imap-*")) if spool.is_dir() else []


def spool_empties(served: Served) -> bool:
    """True once the spool holds no IMAP file (the server notices a close at once; 10 s
    at most, so that a leak fails instead of hanging)."""
    deadline = time.monotonic() + 10
    while spooled(served) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not spooled(served)


def closed(raw: Raw) -> bool:
    try:
        while True:
            raw.line()
    except (ConnectionError, TimeoutError):
        return True


def inbox_count(raw: Raw) -> bytes:
    raw.send(b"s STATUS INBOX (MESSAGES)\r\n")
    return raw.until(b"s")[0]


def test_capability_before_login_is_literal_minus(server: Served) -> None:
    raw = Raw(server.ports["imap"])
    raw.send(b"a CAPABILITY\r\n")
    names = raw.until(b"a")[0].split()
    assert b"LITERAL-" in names and b"LITERAL+" not in names
    raw.send(f"b LOGIN alice@example.test {PASSWORD}\r\n".encode())
    assert b" LITERAL+ " in raw.until(b"b")[-1]  # after login, LITERAL+ (RFC 7888 §3)
    raw.close()


@pytest.mark.parametrize("size", [4097, 256 * 1024, 10**12])
def test_big_non_synchronizing_literal_before_login_ends_the_connection(
    server: Served, size: int
) -> None:
    raw = Raw(server.ports["imap"])
    raw.send(b"a LOGIN {%d+}\r\n" % size + b"x" * min(size, 64 * 1024))
    assert raw.line().startswith(b"a BAD [TOOBIG]")
    assert raw.line() == b"* BYE Literal too big"
    assert closed(raw)
    raw_login(server).close()  # others still get in


def test_small_literals_before_login_still_work(server: Served) -> None:
    raw = Raw(server.ports["imap"])
    user = b"alice@example.test"
    raw.send(b"a LOGIN {%d+}\r\n%s {%d}\r\n" % (len(user), user, len(PASSWORD)))
    assert raw.line().startswith(b"+ ")
    raw.send(PASSWORD.encode() + b"\r\n")
    assert raw.until(b"a")[-1].startswith(b"a OK")
    raw.close()


def test_a_command_before_login_takes_32_kib_in_all(server: Served) -> None:
    raw = Raw(server.ports["imap"])
    raw.send(b"a LOGIN {4097}\r\n")  # refused before "+": the client sends nothing
    assert raw.line() == b"a NO [TOOBIG] Literals take 4096 octets at most before login (LITERAL-)"
    raw.send(b'b ID ("k0" {4000}\r\n')
    for number in range(1, 9):
        assert raw.line().startswith(b"+ ")
        raw.send(b"v" * 4000 + b' "k%d" {4000}\r\n' % number)
    assert raw.line() == b"b NO [TOOBIG] Literal too big"  # past 32 KiB in all
    raw.send(b"c " + b"z" * 33_000 + b"\r\n")  # a line alone is bounded the same way
    assert raw.line() == b"* BYE Command line too long"
    assert closed(raw)
    raw = Raw(server.ports["imap"])
    raw.send(b"d NOOP\r\n")
    assert raw.line().startswith(b"d OK")
    raw.close()


def test_the_largest_id_of_rfc_2971_fits_before_login(server: Served) -> None:
    """RFC 2971 §3.3: up to 30 fields of 30 octets with values of 1024 (imaptest's "id")."""
    pairs = b" ".join(b'"%s" "%s"' % (b"%02d" % n * 15, b"v" * 1024) for n in range(30))
    raw = Raw(server.ports["imap"])
    raw.send(b"a ID (" + pairs + b")\r\n")
    assert raw.until(b"a")[-1].startswith(b"a OK")
    raw.close()


def test_spool_files_go_with_the_connection(server: Served) -> None:
    message = MESSAGE + b"x" * (2 * MIB - len(MESSAGE))
    raw = raw_login(server)
    # Five 2 MiB messages of a MULTIAPPEND, then the client goes: nothing of it stays.
    raw.send(b"b APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(message) + message for _ in range(5)))
    time.sleep(0.5)
    assert spooled(server), "the literals were not spooled"
    raw.close()
    assert spool_empties(server)
    # An APPEND cut off in the middle of its literal.
    raw = raw_login(server)
    raw.send(b"c APPEND INBOX {%d+}\r\n" % len(message) + message[:MIB])
    time.sleep(0.5)
    raw.close()
    assert spool_empties(server)
    raw = raw_login(server)
    assert inbox_count(raw) == b"* STATUS INBOX (MESSAGES 0)"
    raw.close()


def test_literals_of_one_command_share_one_appendlimit(server: Served) -> None:
    message = MESSAGE + b"x" * (7 * MIB - len(MESSAGE))
    raw = raw_login(server)
    raw.send(b"b APPEND INBOX {%d}\r\n" % len(message))
    assert raw.line().startswith(b"+ ")
    raw.send(message + b" {%d}\r\n" % len(message))  # 14 MiB in all: refused before "+"
    assert raw.line().startswith(b"b NO [TOOBIG]")
    assert spool_empties(server)
    assert inbox_count(raw) == b"* STATUS INBOX (MESSAGES 0)"
    # Non-synchronising, the second literal is on its way: BAD, and the connection ends.
    raw.send(b"c APPEND INBOX {%d+}\r\n" % len(message) + message)
    raw.send(b" {%d+}\r\n" % len(message))
    assert raw.line().startswith(b"c BAD [TOOBIG]")
    assert raw.line() == b"* BYE Literal too big"
    assert closed(raw)
    assert spool_empties(server)
    # One message as big as APPENDLIMIT is still taken.
    raw = raw_login(server)
    whole = MESSAGE + b"x" * (MAX_LITERAL - len(MESSAGE))
    raw.send(b"d APPEND INBOX {%d+}\r\n" % len(whole) + whole + b"\r\n")
    assert raw.until(b"d")[-1].startswith(b"d OK [APPENDUID")
    assert spool_empties(server)
    raw.close()


def test_a_thousand_literals_in_one_command_at_most(server: Served) -> None:
    raw = raw_login(server)
    raw.send(b"b APPEND INBOX" + b" {1+}\r\nx" * 1000 + b" {1+}\r\n")
    assert raw.line() == b"b BAD [TOOBIG] Too many literals in one command"
    assert raw.line() == b"* BYE Literal too big"
    assert closed(raw)
    raw = raw_login(server)
    raw.send(b"c APPEND INBOX" + b" {1+}\r\nx" * 3 + b"\r\n")  # MULTIAPPEND works
    assert raw.until(b"c")[-1].startswith(b"c OK [APPENDUID")
    raw.close()


def test_small_literals_past_the_memory_allowance_are_spooled(server: Served) -> None:
    """After 256 KiB of a command's literals in memory the others go to files: a string
    argument cannot be one (BAD), an APPEND's message can."""
    raw = raw_login(server)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until(b"s")
    piece = b"y" * 200_000
    raw.send(b"b SEARCH TEXT {200000+}\r\n" + piece + b" TEXT {200000+}\r\n" + piece + b"\r\n")
    assert raw.until(b"b")[-1].startswith(b"b BAD")
    message = MESSAGE + b"z" * (200_000 - len(MESSAGE))
    appends = b"".join(b" {%d+}\r\n" % len(message) + message for _ in range(3))
    raw.send(b"c APPEND INBOX" + appends + b"\r\n")
    assert raw.until(b"c")[-1].startswith(b"c OK [APPENDUID")
    assert inbox_count(raw) == b"* STATUS INBOX (MESSAGES 3)"
    assert spool_empties(server)
    raw.close()


def test_catenate_builds_its_message_on_disk(server: Served) -> None:
    """RFC 4469 CATENATE of a 1 MiB message ten times over, then a URL naming nothing:
    the pieces went to a spool file as they came (the joined message was held in memory,
    twice), and the file goes with the refusal."""
    message = MESSAGE + b"x" * (MIB - len(MESSAGE))
    raw = raw_login(server)
    raw.send(b"b APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
    assert raw.until(b"b")[-1].startswith(b"b OK")
    pieces = b' URL "/INBOX/;UID=1"' * 10
    with peak_memory() as peak:
        raw.send(b"c APPEND INBOX CATENATE (" + pieces[1:] + b' URL "/INBOX/;UID=9")\r\n')
        assert raw.until(b"c")[-1].startswith(b"c NO [BADURL")
        grown = peak()
    assert spool_empties(server)
    assert inbox_count(raw) == b"* STATUS INBOX (MESSAGES 1)"
    raw.close()
    print(f"the server grew by {grown / MIB:.1f} MiB at most")
    assert grown < 5 * MIB, f"the server grew by {grown / MIB:.1f} MiB"
