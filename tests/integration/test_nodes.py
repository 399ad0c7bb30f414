"""Two nodes, one PostgreSQL: two `groupware serve` processes with their own data
directories and ports on one database and schema, message bytes in the database
(`[store] blobs = "database"`). What one node does, the other's clients hear at once:
PostgreSQL LISTEN/NOTIFY carries the store's events (services/core/relay.py). Both run
the outbound queue, and each queued message leaves once; a DAV write on one is in the
other's sync-collection. (test_durability.py SIGKILLs a node under SMTP load.)
"""

from __future__ import annotations

import base64
import http.client
import imaplib
import queue
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine

from groupware.store.notifications import PostgresChannel
from harness.serverprocess import free_port
from tests.conftest import ADMIN_PASSWORD
from tests.integration.imapservers import PASSWORD, PATIENCE, USER, Idler, ImapServer, deliver

DATABASE_BLOBS = '[store]\nblobs = "database"\n'
MESSAGES_OUT = 40


@pytest.fixture
def nodes(postgres_schema: str, tmp_path: Path) -> Iterator[tuple[ImapServer, ImapServer]]:
    first = ImapServer(tmp_path / "a", postgres_schema, DATABASE_BLOBS)
    second = ImapServer(tmp_path / "b", postgres_schema, DATABASE_BLOBS)
    first.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    second.initialise(ADMIN_PASSWORD, [], PASSWORD)  # its folders and certificate
    with first, second:
        first.start()
        second.start()
        yield first, second
        assert first.stop() == 0 and second.stop() == 0


def test_news_made_on_one_node_reaches_the_other_nodes_clients(
    nodes: tuple[ImapServer, ImapServer],
) -> None:
    first, second = nodes
    idler = Idler(second.imap_port)
    try:
        deliver(first, "Delivered to A")
        line, waited = idler.until(rb"^\* 1 EXISTS")
        print(f"B's IDLE heard A's delivery after {waited * 1000:.0f} ms")
    finally:
        idler.close()

    # Read on B (the bytes are in the database), flag it there; A's selected session hears.
    with imaplib.IMAP4("127.0.0.1", first.imap_port) as on_a:
        on_a.login(USER, PASSWORD)
        on_a.enable("CONDSTORE")
        on_a.select("INBOX")
        with imaplib.IMAP4("127.0.0.1", second.imap_port) as on_b:
            on_b.login(USER, PASSWORD)
            on_b.select("INBOX")
            _, body = on_b.uid("FETCH", "1", "(BODY.PEEK[TEXT])")
            assert b"sent to one node, read on the other" in body[0][1]  # type: ignore[index]
            on_b.uid("STORE", "1", "+FLAGS", r"(\Flagged)")
        deadline = time.monotonic() + PATIENCE
        told: list[bytes] = []
        while time.monotonic() < deadline and not told:
            on_a.noop()
            told = [r for r in on_a.untagged_responses.pop("FETCH", []) if b"Flagged" in r]
            time.sleep(0.05)
        assert told, "A's session never heard of the flag set on B"
        assert re.search(rb"MODSEQ \(\d+\)", told[0])

        # Expunged on A: B's next session sees it gone, and A's view says so at once.
        on_a.uid("STORE", "1", "+FLAGS.SILENT", r"(\Deleted)")
        on_a.expunge()
    with imaplib.IMAP4("127.0.0.1", second.imap_port) as on_b:
        on_b.login(USER, PASSWORD)
        _, [count] = on_b.select("INBOX")
        assert count == b"0"


def test_the_channel_joins_connections_on_one_schema_only(
    postgres_schema: str, postgres_schema_2: str
) -> None:
    """Texts reach every channel on the schema, the sender's too; another schema (another
    installation in the same database) hears nothing of them; too long is refused."""
    engines = [create_engine(postgres_schema), create_engine(postgres_schema_2)]
    here, there, elsewhere = (
        PostgresChannel(engines[0]),
        PostgresChannel(engines[0]),
        PostgresChannel(engines[1]),
    )
    heard: dict[str, queue.SimpleQueue[str]] = {n: queue.SimpleQueue() for n in "abc"}
    here.start(heard["a"].put)
    there.start(heard["b"].put)
    elsewhere.start(heard["c"].put)
    try:
        here.send("hello from a")
        assert heard["b"].get(timeout=PATIENCE) == "hello from a"
        assert heard["a"].get(timeout=PATIENCE) == "hello from a"
        elsewhere.send("hello from c")
        assert heard["c"].get(timeout=PATIENCE) == "hello from c"  # and not a's first
        with pytest.raises(ValueError):
            here.send("é" * (PostgresChannel.limit // 2 + 1))
    finally:
        for channel in (here, there, elsewhere):
            channel.stop()
        for engine in engines:
            engine.dispose()


class Sink:
    """A remote MX on loopback that notes each message's Message-ID and who sent it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (Message-ID, the sender's EHLO name)
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        found = re.search(rb"(?im)^Message-ID: *(<[^>]+>)", envelope.original_content or b"")
        self.received.append((found.group(1).decode() if found else "?", session.host_name))
        return "250 OK"


def test_an_outbound_message_is_sent_by_exactly_one_node(
    postgres_schema: str, tmp_path: Path
) -> None:
    """Both nodes run the outbound queue (PostgreSQL: FOR UPDATE SKIP LOCKED); each
    queued message reaches the remote MX once, whichever node took it."""
    sink = Sink()
    sink.controller.start()
    nodes = []
    for name in ("a", "b"):
        node = ImapServer(tmp_path / name, postgres_schema, DATABASE_BLOBS)
        text = node.config_path.read_text()
        text = text.replace(
            'transport = "*=127.0.0.1:9"',
            f'transport = "*=127.0.0.1:{sink.controller.port}"\npoll_interval = 0.1',
        )
        text = text.replace(
            'hostname = "mail.example.test"', f'hostname = "mail-{name}.example.test"'
        )
        node.config_path.write_text(text)
        nodes.append(node)
    first, second = nodes
    first.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    second.initialise(ADMIN_PASSWORD, [], PASSWORD)
    wanted = [f"<out-{number}@example.test>" for number in range(MESSAGES_OUT)]
    try:
        with first, second:
            first.start()
            second.start()
            command = first.runtime()
            try:
                for number, message_id in enumerate(wanted):
                    spooled = tmp_path / f"out-{number}.eml"
                    spooled.write_bytes(
                        f"From: {USER}\r\nTo: someone@elsewhere.example\r\n"
                        f"Message-ID: {message_id}\r\nSubject: out {number}\r\n\r\n"
                        "Hello\r\n".encode()
                    )
                    command.services.queue.enqueue(spooled, USER, ["someone@elsewhere.example"])
                    time.sleep(0.02)  # the nodes' rounds interleave with the queueing
            finally:
                command.close()
            deadline = time.monotonic() + 30
            while len(sink.received) < len(wanted) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # a second attempt by the other node would come by now
            assert first.stop() == 0 and second.stop() == 0
    finally:
        sink.controller.stop()
    ids = [message_id for message_id, _ in sink.received]
    assert sorted(ids) == sorted(wanted), f"{len(ids)} received of {len(wanted)}"
    by_node = Counter(sender for _, sender in sink.received)
    print(f"\nsent once each: {dict(by_node)}")
    assert len(by_node) == 2, "one node sent them all: the test showed nothing"


SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}'
    "</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>"
    "</D:sync-collection>"
)
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20261201T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
    "SUMMARY:Meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def dav(node: ImapServer, method: str, path: str, body: str = "") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=PATIENCE)
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth, "Depth": "1", "Content-Type": "application/xml"}
    connection.request(method, path, body=body.encode(), headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def test_a_dav_write_on_one_node_is_in_the_other_nodes_sync_collection(
    postgres_schema: str, tmp_path: Path
) -> None:
    first = ImapServer(tmp_path / "a", postgres_schema, DATABASE_BLOBS, http=True)
    second = ImapServer(tmp_path / "b", postgres_schema, DATABASE_BLOBS, http=True)
    first.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    second.initialise(ADMIN_PASSWORD, [], PASSWORD)
    calendar = f"/dav/{USER}/calendar/"
    with first, second:
        first.start()
        second.start()
        assert dav(first, "PROPFIND", f"/dav/{USER}/")[0] == 207  # the home, made on A
        assert dav(first, "PUT", calendar + "one.ics", EVENT.format(uid="one"))[0] == 201
        status, answer = dav(second, "REPORT", calendar, SYNC.format(token=""))
        assert status == 207 and "one.ics" in answer, answer
        token = re.search(r"<[^>]*sync-token>([^<]+)<", answer)
        assert token is not None, answer
        assert dav(first, "PUT", calendar + "two.ics", EVENT.format(uid="two"))[0] == 201
        status, answer = dav(second, "REPORT", calendar, SYNC.format(token=token.group(1)))
        assert status == 207 and "two.ics" in answer and "one.ics" not in answer, answer
        assert first.stop() == 0 and second.stop() == 0
