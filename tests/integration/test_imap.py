"""IMAP over real sockets with imaplib: login rules (STARTTLS, 993, LOGINDISABLED),
mailboxes, APPEND/FETCH/STORE/SEARCH/COPY/MOVE/EXPUNGE, IDLE woken by SMTP delivery, and
the interop traps clients fall into, each as a raw exchange."""

from __future__ import annotations

import imaplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners

PASSWORD = "Alice-pass-1234"
MESSAGE = (
    b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Hello there\r\n"
    b"Date: Thu, 1 Jan 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n"
    b"Body text with a keyword: marmalade.\r\n"
)


def start(tmp_path: Path, database_url: str, **auth: object) -> Iterator[Served]:
    config = make_config(tmp_path, database_url, **auth)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    config = with_listeners(config, imap="on", imaps="on", smtp="on")
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        yield served


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from start(tmp_path, database_url)


def connect(served: Served) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", served.ports["imap"], timeout=10)
    client.login("alice@example.test", PASSWORD)
    return client


class Raw:
    """A raw IMAP connection for exchanges imaplib would tidy up."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.line()  # greeting

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

    def until(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self) -> None:
        self.sock.close()


def raw_login(served: Served) -> Raw:
    raw = Raw(served.ports["imap"])
    raw.send(b"a LOGIN alice@example.test " + PASSWORD.encode() + b"\r\n")
    assert raw.until(b"a")[-1].startswith(b"a OK")
    return raw


def test_login_select_append_fetch_store_search(server: Served) -> None:
    client = connect(server)
    typ, data = client.list()
    names = b"\n".join(d for d in data if isinstance(d, bytes))
    assert b'"INBOX"' in names or b" INBOX" in names
    assert b"\\Sent" in names and b"\\Trash" in names
    typ, data = client.append("INBOX", "(\\Flagged)", None, MESSAGE)
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = client.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    typ, data = client.fetch("1", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
    assert typ == "OK"
    head = data[0] if isinstance(data[0], bytes) else data[0][0]
    assert b"\\Flagged" in head and b"Hello there" in head
    assert b'"TEXT" "PLAIN"' in head.upper()
    typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: Hello there\r\n\r\n"
    typ, data = client.fetch("1", "(BODY[])")
    assert data[0][1] == MESSAGE
    typ, data = client.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]  # BODY[] without PEEK sets \Seen
    typ, data = client.search(None, "SUBJECT", "hello")
    assert data == [b"1"]
    typ, data = client.search(None, "BODY", "marmalade")
    assert data == [b"1"]
    typ, data = client.search(None, "UNSEEN")
    assert data == [b""]
    typ, data = client.store("1", "+FLAGS", "(\\Deleted $Work)")
    assert b"$Work" in data[0]
    client.create("Archive/2026")
    typ, data = client.copy("1", "Archive/2026")
    assert typ == "OK"
    typ, data = client.expunge()
    assert data == [b"1"]
    typ, data = client.status("Archive/2026", "(MESSAGES UIDNEXT UNSEEN)")
    assert b"MESSAGES 1" in data[0]
    client.logout()


def test_uid_commands_and_move(server: Served) -> None:
    client = connect(server)
    for _ in range(3):
        client.append("INBOX", None, None, MESSAGE)
    client.select("INBOX")
    typ, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    assert len(uids) == 3
    typ, data = client.uid("MOVE", uids[0].decode(), "Trash")
    assert typ == "OK"
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
    assert len([d for d in data if d]) == 2
    typ, data = client.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    client.logout()


def test_envelopes_rendered_once_are_the_same_messages_envelopes(server: Served) -> None:
    """A listener keeps the ENVELOPEs it rendered by mailbox, UIDVALIDITY and UID: another
    session gets the same, and a mailbox made again (UID 1 anew, perhaps the old id on
    SQLite) gets its own message's."""

    def envelope(client: imaplib.IMAP4) -> bytes:
        typ, data = client.uid("FETCH", "1", "(ENVELOPE)")
        assert typ == "OK"
        return data[0] if isinstance(data[0], bytes) else data[0][0]

    first, second = connect(server), connect(server)
    first.create("Box")
    first.append("Box", None, None, MESSAGE.replace(b"Subject: ", b"Subject: Before "))
    first.select("Box")
    second.select("Box")
    before = envelope(first)
    assert b"Before" in before and envelope(second) == before
    first.close()
    second.close()
    first.delete("Box")
    first.create("Box")
    first.append("Box", None, None, MESSAGE.replace(b"Subject: ", b"Subject: After "))
    second.select("Box")
    after = envelope(second)
    assert b"After" in after and b"Before" not in after
    first.logout()
    second.logout()


def test_a_session_on_inbox_hears_of_its_messages_leaving_by_rename(server: Served) -> None:
    """RENAME INBOX moves the messages out (RFC 3501 §6.3.5): a session with INBOX open is
    told they are gone, as of any expunge."""
    watcher, renamer = connect(server), connect(server)
    for _ in range(3):
        renamer.append("INBOX", None, None, MESSAGE)
    watcher.select("INBOX")
    assert renamer.rename("INBOX", "Moved")[0] == "OK"
    watcher.noop()
    assert watcher.untagged_responses.get("EXPUNGE") == [b"3", b"2", b"1"]
    assert watcher.uid("FETCH", "1:*", "(FLAGS)")[1] == [None]
    watcher.logout()
    renamer.logout()


def test_login_refused_in_clear_without_loopback_exception(
    tmp_path: Path, database_url: str
) -> None:
    for served in start(tmp_path, database_url, loopback_is_secure=False):
        raw = Raw(served.ports["imap"])
        raw.send(b"a CAPABILITY\r\n")
        capability = raw.until(b"a")[0]
        assert b"LOGINDISABLED" in capability and b"STARTTLS" in capability
        raw.send(b"b LOGIN alice@example.test " + PASSWORD.encode() + b"\r\n")
        assert raw.until(b"b")[-1].startswith(b"b NO [PRIVACYREQUIRED]")
        raw.close()
        context = ssl.create_default_context(cafile=str(served.runtime.config.tls.cert))
        context.check_hostname = False
        client = imaplib.IMAP4("127.0.0.1", served.ports["imap"], timeout=10)
        client.starttls(context)
        client.login("alice@example.test", PASSWORD)
        client.logout()
        secure = imaplib.IMAP4_SSL("127.0.0.1", served.ports["imaps"], ssl_context=context)
        secure.login("alice@example.test", PASSWORD)
        secure.logout()


def test_idle_sees_smtp_delivery_within_a_second(server: Served) -> None:
    import smtplib

    raw = raw_login(server)
    raw.send(b"s SELECT INBOX\r\n")
    raw.until(b"s")
    raw.send(b"i IDLE\r\n")
    assert raw.line() == b"+ idling"
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as smtp:
        smtp.sendmail("x@elsewhere.example", ["alice@example.test"], MESSAGE)
    assert raw.line() == b"* 1 EXISTS"
    assert time.monotonic() - started < 5
    raw.send(b"DONE\r\nn NOOP\r\n")  # the next command in the same packet as DONE
    lines = raw.until(b"n")
    assert any(line.startswith(b"i OK") for line in lines)
    assert lines[-1].startswith(b"n OK")
    raw.close()


def test_traps(server: Served) -> None:
    raw = raw_login(server)
    # A synchronising literal gets "+ " (with the space).
    raw.send(b"c CREATE {3}\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"abc\r\n")
    assert raw.until(b"c")[-1].startswith(b"c OK")
    # A non-synchronising literal after an error is still consumed.
    raw.send(b"d BOGUS {5+}\r\nhello\r\ne NOOP\r\n")
    assert raw.until(b"d")[-1].startswith(b"d BAD")
    assert raw.until(b"e")[-1].startswith(b"e OK")
    # A too-big synchronising literal is refused with NO before any "+".
    raw.send(b"f APPEND INBOX {999999999999}\r\n")
    assert raw.until(b"f")[-1].startswith(b"f NO [TOOBIG]")
    # Invalid modified UTF-7 is refused; Unicode names come back encoded.
    raw.send(b"g CREATE &Jjo\r\n")
    assert raw.until(b"g")[-1].startswith(b"g NO")
    raw.send(b'h CREATE Gr&APw-n\r\nj LIST "" Gr*\r\n')
    raw.until(b"h")
    assert b"Gr&APw-n" in raw.until(b"j")[0]
    # "*" in a UID set is the highest UID, even past the end.
    raw.send(b"k APPEND INBOX {5}\r\n")
    raw.line()
    raw.send(b"ab\r\nc\r\nl SELECT INBOX\r\nm UID FETCH 999:* UID\r\n")
    raw.until(b"l")
    assert b"* 1 FETCH (UID 1)" in raw.until(b"m")
    # Deleting the selected mailbox: NO or handled, never BYE.
    raw.send(b"n SELECT abc\r\no DELETE abc\r\np NOOP\r\n")
    replies = raw.until(b"p")
    assert not any(line.startswith(b"* BYE") for line in replies)
    # Commands in the wrong state, garbage, unbalanced parentheses.
    raw.send(b"q FETCH 1 (FLAGS\r\nr \x00\xff\r\ns LOGIN a b\r\n")
    assert raw.until(b"q")[-1].startswith(b"q BAD")
    assert raw.until(b"r")[-1].startswith(b"r BAD")
    assert raw.until(b"s")[-1].startswith(b"s BAD")
    raw.close()


def test_overlong_line_gets_bye(server: Served) -> None:
    raw = Raw(server.ports["imap"])
    raw.send(b"a " + b"x" * 200_000 + b"\r\n")
    assert raw.line().startswith(b"* BYE")
    raw.close()


def exchange(raw: Raw, tag: bytes, command: bytes) -> list[bytes]:
    raw.send(tag + b" " + command + b"\r\n")
    lines = raw.until(tag)
    assert lines[-1].startswith(tag + b" OK"), lines
    return lines[:-1]


def test_subscriptions_are_names(server: Served) -> None:
    """RFC 3501 §6.3.6: a subscription may name no mailbox, DELETE leaves it (LIST
    (SUBSCRIBED) says \\NonExistent), CREATE adds none; LSUB "%" shows an unsubscribed
    parent of a subscribed name as \\Noselect (§6.3.9); RECURSIVEMATCH gives it CHILDINFO
    (RFC 5258 §3.5); RENAME carries subscriptions along."""
    raw = raw_login(server)
    for name in (b"top", b"top/kept", b"top/gone", b"other/deep"):
        exchange(raw, b"c", b"CREATE " + name)
    for name in (b"top/kept", b"top/gone", b"other/deep", b"ghost"):
        exchange(raw, b"s", b"SUBSCRIBE " + name)
    exchange(raw, b"d", b"DELETE top/gone")
    assert exchange(raw, b"l", b'LIST (SUBSCRIBED) "" *') == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
        b'* LIST (\\HasNoChildren \\Archive \\Subscribed) "/" Archive',
        b'* LIST (\\HasNoChildren \\Drafts \\Subscribed) "/" Drafts',
        b'* LIST (\\HasNoChildren \\Junk \\Subscribed) "/" Junk',
        b'* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" Sent',
        b'* LIST (\\HasNoChildren \\Trash \\Subscribed) "/" Trash',
        b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" ghost',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" other/deep',
        b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" top/gone',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" top/kept',
    ]
    assert exchange(raw, b"u", b'LSUB "" %') == [
        b'* LSUB () "/" INBOX',
        b'* LSUB () "/" Archive',
        b'* LSUB () "/" Drafts',
        b'* LSUB () "/" Junk',
        b'* LSUB () "/" Sent',
        b'* LSUB () "/" Trash',
        b'* LSUB () "/" ghost',
        b'* LSUB (\\Noselect) "/" other',
        b'* LSUB (\\Noselect) "/" top',
    ]
    assert exchange(raw, b"v", b'LSUB "" top*') == [
        b'* LSUB () "/" top/gone',
        b'* LSUB () "/" top/kept',
    ]
    assert exchange(raw, b"r", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" t%') == [
        b'* LIST (\\HasChildren) "/" top ("CHILDINFO" ("SUBSCRIBED"))',
    ]
    both = b'LIST (SUBSCRIBED RECURSIVEMATCH) "" (top top/kept top/gone)'
    assert exchange(raw, b"q", both) == [  # the pattern reaches them: no CHILDINFO
        b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" top/gone',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" top/kept',
    ]
    assert exchange(raw, b"p", b'LIST "" top* RETURN (SUBSCRIBED)') == [
        b'* LIST (\\HasChildren) "/" top',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" top/kept',
    ]
    exchange(raw, b"m", b"RENAME top moved")
    assert exchange(raw, b"n", b'LSUB "" *o*') == [  # "*" reaches other/deep: no "other"
        b'* LSUB () "/" ghost',
        b'* LSUB () "/" moved/kept',
        b'* LSUB () "/" other/deep',
        b'* LSUB () "/" top/gone',  # no mailbox was renamed from it
    ]
    exchange(raw, b"x", b"UNSUBSCRIBE ghost")
    exchange(raw, b"y", b"UNSUBSCRIBE ghost")  # not subscribed: still OK
    assert exchange(raw, b"z", b'LSUB "" g*') == []
    raw.close()
