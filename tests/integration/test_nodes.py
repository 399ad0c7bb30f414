"""Two nodes, one PostgreSQL: two `groupware serve` processes with their own data
directories and ports on one database and schema, message bytes in the database
(`[store] blobs = "database"`). What one node does, the other's clients hear at once:
PostgreSQL LISTEN/NOTIFY carries the store's events (services/core/relay.py).
"""

from __future__ import annotations

import imaplib
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from groupware.store.notifications import PostgresChannel
from tests.conftest import ADMIN_PASSWORD
from tests.integration.imapservers import PASSWORD, PATIENCE, USER, Idler, ImapServer, deliver

DATABASE_BLOBS = '[store]\nblobs = "database"\n'


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
