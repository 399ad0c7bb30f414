"""PostgreSQL LISTEN/NOTIFY as a channel of short texts between every process and node
that shares the database.

The channel is named after the connection's schema, so two installations (or two test
schemas) in one database never hear each other. One thread listens on a connection of
its own; sending is queued and done by another, so a publisher never waits on the
network. A connection that breaks is opened again; what was sent meanwhile is lost, as
a NOTIFY to nobody listening is (the receivers' views then catch up from the database
at their next full read, as they do after a restart).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine

log = logging.getLogger(__name__)

LIMIT = 7900  # bytes of one payload (PostgreSQL refuses 8000 and more)
POLL_SECONDS = 0.5  # how often the listening thread looks whether it should stop
RETRY_SECONDS = 1.0


class PostgresChannel:
    """Send texts to, and hear texts from, everyone on this database and schema."""

    limit = LIMIT

    def __init__(self, engine: Engine) -> None:
        args, params = engine.dialect.create_connect_args(engine.url)
        self._connect_args: tuple[list[Any], dict[str, Any]] = (list(args), dict(params))
        self._outbox: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.name = ""

    def start(self, heard: Callable[[str], None] | None) -> None:
        """Listen, unless `heard` is None (the channel is ready when this returns), and
        start sending."""
        listening = self._connect()
        schema = listening.execute("SELECT current_schema()").fetchone()
        self.name = f"groupware_events_{schema[0] if schema else 'public'}"[:63]
        self._threads = [threading.Thread(target=self._send, name="events-out", daemon=True)]
        if heard is None:
            listening.close()
        else:
            listening.execute(f'LISTEN "{self.name}"')
            self._threads.append(
                threading.Thread(
                    target=self._listen, args=(listening, heard), name="events-in", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def send(self, payload: str) -> None:
        """Queue one text (at most LIMIT bytes) for everyone listening, this process too."""
        if len(payload.encode()) > LIMIT:
            raise ValueError("payload too long for NOTIFY")
        self._outbox.put(payload)

    def stop(self) -> None:
        """Send what is queued, then close both connections."""
        self._stopping.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def _connect(self) -> psycopg.Connection[Any]:
        args, params = self._connect_args
        # TCP keepalives: a connection cut without a word (a NAT forgetting it) ends in
        # about a minute, and is opened again, instead of listening to nothing for ever.
        alive = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
        return psycopg.connect(*args, **{**alive, **params}, autocommit=True)

    def _listen(self, connection: psycopg.Connection[Any], heard: Callable[[str], None]) -> None:
        while not self._stopping.is_set():
            try:
                for notice in connection.notifies(timeout=POLL_SECONDS):
                    try:
                        heard(notice.payload)
                    except Exception:  # a bad text must not end the listening
                        log.exception("event relay could not take %r", notice.payload[:200])
            except psycopg.Error as exc:
                # What was sent meanwhile is lost: views here catch up at their next full
                # read (a client's next SELECT), as after a restart.
                log.warning("event channel lost (%s); listening again", exc)
                connection.close()
                reopened = self._listen_again()
                if reopened is None:
                    return  # stopped meanwhile
                connection = reopened
        connection.close()

    def _send(self) -> None:
        connection: psycopg.Connection[Any] | None = None
        while True:
            first = self._outbox.get()
            batch = [first]
            while not self._outbox.empty():  # what queued meanwhile goes in one transaction
                batch.append(self._outbox.get())
            payloads = [p for p in batch if p is not None]
            for attempt in (1, 2):
                try:
                    connection = connection or self._connect()
                    with connection.transaction():
                        for payload in payloads:
                            connection.execute("SELECT pg_notify(%s, %s)", (self.name, payload))
                    break
                except Exception as exc:  # any: this thread must go on sending
                    log.warning("event channel could not send (%s), attempt %d", exc, attempt)
                    if connection is not None:
                        connection.close()
                    connection = None
            if None in batch:
                break
        if connection is not None:
            connection.close()

    def _listen_again(self) -> psycopg.Connection[Any] | None:
        """A new listening connection, tried every RETRY_SECONDS; None once stopping."""
        while not self._stopping.wait(RETRY_SECONDS):
            try:
                connection = self._connect()
                connection.execute(f'LISTEN "{self.name}"')
                return connection
            except psycopg.Error as exc:
                log.warning("event channel still down (%s)", exc)
        return None
