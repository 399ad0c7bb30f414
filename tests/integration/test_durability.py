"""Accepted means durable (DESIGN.md): SIGKILL `groupware serve` while clients send.

Eight smtplib clients send distinct messages (a token in each) to a few local users over
the MX port; a message counts as accepted only when `sendmail` returned. The server is
killed mid-stream with SIGKILL and started again. Then every accepted message must be in
each recipient's INBOX exactly once and end with exactly the bytes sent (after the
Authentication-Results and Received fields we prepend); a message whose connection died
before the reply may be there or not, but at most once per mailbox and in all of its
recipients' or none; a message refused with a 4xx reply (a PostgreSQL deadlock answered
451 is a refusal, not a loss) must not be there at all. The kept counters (mailbox
messages/unseen/size, per-user usage) must agree with the rows, every blob a row names
must be a file whose SHA-256 is its name, and the restarted server must take new mail.
Runs on SQLite and on PostgreSQL, as one process and as a supervisor with two workers
(every process killed at once); prints what it saw (pytest -s).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import smtplib
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from groupware.model.mail import Blob, Mailbox, MailUsage, Message
from groupware.services.core.access import SYSTEM
from groupware.store import Database
from groupware.store.mail import recount
from harness.serverprocess import ServerProcess
from tests.conftest import ADMIN_PASSWORD, TEST_DNS

PASSWORD = "Durable-pass-1234"
USERS = [f"user{i}@example.test" for i in range(4)]
SENDER = "sender@elsewhere.example"
CLIENTS = 8
SEND_SECONDS = 2.5  # of traffic before the kill
MAX_WAIT_SECONDS = 10.0  # for MIN_ACCEPTED on a slow machine
MIN_ACCEPTED = 20
MAX_PER_CLIENT = 5000  # bounds each client's loop whatever the timing
TOKEN = re.compile(rb"\r\nX-Durability-Token: ([A-Za-z0-9-]+)\r\n")
PREPENDED = re.compile(rb"^Authentication-Results: mail\.example\.test;.*?\r\nReceived: ", re.S)


@dataclass(frozen=True)
class Sent:
    token: str
    recipients: tuple[str, ...]
    data: bytes


def make_message(client: int, number: int) -> Sent:
    """A distinct message: some two-recipient, some of 40 KiB, a leading dot, 8-bit text."""
    token = f"c{client}-{number}"
    first = (client + number) % len(USERS)
    recipients = [USERS[first]]
    if number % 5 == 0:
        recipients.append(USERS[(first + 1) % len(USERS)])
    filler = b"".join(
        b"%s line %06d of a longer body, to make a message of some size.\r\n" % (token.encode(), i)
        for i in range(600 if number % 7 == 0 else 3)
    )
    data = (
        f"From: Tester <{SENDER}>\r\n"
        f"To: {', '.join(recipients)}\r\n"
        f"Subject: durability {token}\r\n"
        f"Message-ID: <{token}.{time.time_ns()}@elsewhere.example>\r\n"
        f"X-Durability-Token: {token}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"Message {token}: Grüße aus dem Test.\r\n"
        ".a line that starts with a dot (SMTP transparency, RFC 5321 §4.5.2)\r\n"
    ).encode() + filler
    return Sent(token, tuple(recipients), data)


@dataclass
class Traffic:
    """CLIENTS threads, each sending on one kept-open connection (reopened after errors)."""

    port: int
    accepted: list[tuple[float, Sent]] = field(default_factory=list)  # (when, message)
    unsure: list[Sent] = field(default_factory=list)  # the connection died before the reply
    refused: list[tuple[Sent, int]] = field(default_factory=list)  # (message, reply code)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(t.is_alive() for t in self.threads), "a client thread hangs"

    def _client(self, index: int) -> None:
        client: smtplib.SMTP | None = None
        number = 0
        try:
            while not self.stop.is_set() and number < MAX_PER_CLIENT:
                if client is None:
                    client = self._connect()
                    if client is None:
                        time.sleep(0.05)
                        continue
                number += 1
                sent = make_message(index, number)
                try:
                    refused = client.sendmail(
                        SENDER, list(sent.recipients), sent.data, mail_options=["BODY=8BITMIME"]
                    )
                except smtplib.SMTPResponseException as error:
                    with self.lock:
                        self.refused.append((sent, error.smtp_code))
                    continue
                except smtplib.SMTPRecipientsRefused as error:
                    codes = {code for code, _ in error.recipients.values()}
                    with self.lock:
                        self.refused.append((sent, max(codes)))
                    continue
                except (smtplib.SMTPException, OSError):
                    with self.lock:
                        self.unsure.append(sent)
                    client.close()
                    client = None
                    continue
                with self.lock:
                    if refused:  # some recipients only: a test failure, never expected
                        self.refused.append((sent, 0))
                    else:
                        self.accepted.append((time.monotonic(), sent))
        finally:
            if client is not None:
                client.close()

    def _connect(self) -> smtplib.SMTP | None:
        try:
            client = smtplib.SMTP("127.0.0.1", self.port, timeout=15)
            client.ehlo("client.example")
            return client
        except (smtplib.SMTPException, OSError):
            return None


def inboxes(server: ServerProcess) -> dict[str, list[bytes]]:
    """Every message of every user's INBOX, read through the mail service."""
    built = server.runtime()
    try:
        services = built.services
        found: dict[str, list[bytes]] = {}
        for address in USERS:
            user = services.directory.get_user(SYSTEM, address)
            principal = services.auth.principal(user.id)
            assert principal is not None
            _, states = services.messages.index(principal, "INBOX")
            found[address] = [services.messages.read(principal, "INBOX", s.uid) for s in states]
        return found
    finally:
        built.close()


def check_messages(
    stored: dict[str, list[bytes]], accepted: list[Sent], unsure: list[Sent], refused: list[Sent]
) -> dict[str, int]:
    """Accepted: exactly once per recipient, intact. Unsure: at most once, all or none.
    Refused: nowhere."""
    by_token: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for address, messages in stored.items():
        for raw in messages:
            match = TOKEN.search(raw)
            assert match is not None, f"a message in {address} without a token"
            by_token[(address, match.group(1).decode())].append(raw)

    def intact(raw: bytes, sent: Sent) -> bool:
        return raw.endswith(sent.data) and PREPENDED.match(raw[: -len(sent.data)]) is not None

    for sent in accepted:
        for address in sent.recipients:
            copies = by_token.pop((address, sent.token), [])
            assert len(copies) == 1, f"accepted {sent.token} is in {address} {len(copies)} times"
            assert intact(copies[0], sent), f"accepted {sent.token} changed in {address}"
    unsure_found = 0
    for sent in unsure:
        copies = [by_token.pop((address, sent.token), []) for address in sent.recipients]
        counts = {len(c) for c in copies}
        assert counts in ({0}, {1}), f"in-flight {sent.token} stored {counts} times"
        assert all(intact(c[0], sent) for c in copies if c), f"in-flight {sent.token} changed"
        unsure_found += counts == {1}
    for sent in refused:
        for address in sent.recipients:
            assert (address, sent.token) not in by_token, f"refused {sent.token} was stored"
    assert not by_token, f"messages nobody sent: {sorted(by_token)[:5]}"
    return {"unsure_stored": unsure_found}


def check_store(server: ServerProcess) -> dict[str, int]:
    """Kept counters equal the rows; every referenced blob is a file (or its row holds
    the bytes) with the right hash."""
    database = Database(server.config.database_url)
    try:
        with database.read() as session:
            for box in session.scalars(select(Mailbox)):
                kept = (box.messages, box.unseen, box.size)
                assert recount(session, box.id) == kept, f"counters of mailbox {box.name}"
                top_uid, top_modseq = session.execute(
                    select(func.max(Message.uid), func.max(Message.modseq)).where(
                        Message.mailbox_id == box.id
                    )
                ).one()
                assert (top_uid or 0) < box.uidnext, f"UID at or past uidnext in {box.name}"
                assert (top_modseq or 0) <= box.highestmodseq, f"MODSEQ past {box.name}'s"
            per_user = {
                user_id: (int(size), int(count))
                for user_id, size, count in session.execute(
                    select(Mailbox.user_id, func.sum(Message.size), func.count(Message.id))
                    .join(Message, Message.mailbox_id == Mailbox.id)
                    .group_by(Mailbox.user_id)
                )
            }
            usage = {
                row.user_id: (row.bytes, row.messages)
                for row in session.scalars(select(MailUsage))
                if (row.bytes, row.messages) != (0, 0)
            }
            assert usage == per_user, "usage differs from the sum of message sizes"
            blobs = dict(session.execute(select(Blob.id, Blob.size)).tuples().all())
            referenced = Counter(
                dict(
                    session.execute(select(Message.blob_id, func.count()).group_by(Message.blob_id))
                    .tuples()
                    .all()
                )
            )
            sizes = set(session.execute(select(Message.blob_id, Message.size)).tuples())
            in_rows = {  # bytes kept in the database ([store] blobs = "database")
                blob_id: data
                for blob_id, data in session.execute(select(Blob.id, Blob.data)).tuples()
                if data is not None
            }
    finally:
        database.dispose()
    for blob_id in referenced:
        assert blob_id in blobs, f"a message refers to blob {blob_id} without a row"
    for blob_id, size in sizes:
        assert size == blobs[blob_id], f"message size differs from blob {blob_id}'s"
    for blob_id, size in blobs.items():
        path = server.blob_root / blob_id[:2] / blob_id
        assert blob_id in in_rows or path.is_file(), f"blob {blob_id} has a row but no bytes"
        data = in_rows[blob_id] if blob_id in in_rows else path.read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (blob_id, size), path
    files = [p for p in server.blob_root.glob("??/*") if p.name != ".lock"]
    return {
        "blobs": len(blobs),
        "unreferenced_blob_rows": len(set(blobs) - set(referenced)),
        "orphan_files": sum(1 for p in files if not p.name.startswith(".") and p.name not in blobs),
        "temp_files": sum(1 for p in files if p.name.startswith(".tmp-")),
        "spool_files": len(list((server.data_dir / "spool").glob("*"))),
    }


def send_one(port: int, sent: Sent) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.example")
        assert client.sendmail(SENDER, list(sent.recipients), sent.data) == {}


def send_enough(traffic: Traffic) -> None:
    """Let the clients send for SEND_SECONDS and MIN_ACCEPTED messages (at most
    MAX_WAIT_SECONDS on a slow machine)."""
    began = time.monotonic()
    while time.monotonic() - began < MAX_WAIT_SECONDS:
        time.sleep(0.1)
        if time.monotonic() - began >= SEND_SECONDS and len(traffic.accepted) >= MIN_ACCEPTED:
            return


def kill_all(server: ServerProcess) -> None:
    """SIGKILL the server's every process at once (the supervisor first, so none is
    started again), as a machine's crash would."""
    for pid in server.pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.kill()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_accepted_mail_survives_sigkill(tmp_path: Path, database_url: str, workers: int) -> None:
    extra = f"[server]\nworkers = {workers}\n"
    with ServerProcess(tmp_path, database_url, TEST_DNS.address, extra=extra) as server:
        server.initialise(ADMIN_PASSWORD, USERS, PASSWORD)
        server.start()
        traffic = Traffic(server.smtp_port)
        traffic.start()
        try:
            send_enough(traffic)
            killed_at = time.monotonic()
            kill_all(server)
        finally:
            traffic.finish()
        codes = sorted({code for _, code in traffic.refused})
        assert all(400 <= code < 500 for code in codes), f"refusals {codes}:\n{server.log()}"
        accepted = [sent for _, sent in traffic.accepted]
        assert len(accepted) >= MIN_ACCEPTED, (
            f"only {len(accepted)} messages accepted:\n{server.log()}"
        )
        recent = [when for when, _ in traffic.accepted if killed_at - when < 1.0]
        assert recent, "no message was accepted in the second before the kill"

        server.start()  # recovery of the database and blob store happens here
        fresh = make_message(99, 1)
        send_one(server.smtp_port, fresh)
        assert server.stop() == 0, server.log()

        refused = [sent for sent, _ in traffic.refused]
        found = check_messages(inboxes(server), [*accepted, fresh], traffic.unsure, refused)
        store = check_store(server)
        print(
            f"\n{len(accepted)} accepted before SIGKILL, {len(traffic.unsure)} in flight "
            f"({found['unsure_stored']} of them stored), {len(refused)} refused {codes}; "
            f"store: {store}"
        )
        assert store["unreferenced_blob_rows"] == 0


@pytest.mark.timeout(120)
def test_mail_a_killed_node_accepted_is_on_the_other_node(
    tmp_path: Path, postgres_schema: str
) -> None:
    """Two nodes on one PostgreSQL, message bytes in the database: node A is SIGKILLed
    while clients send to it; node B, never restarted, serves every message A accepted,
    intact and once, and takes new mail."""
    extra = '[store]\nblobs = "database"\n'
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    node_a = ServerProcess(tmp_path / "a", postgres_schema, TEST_DNS.address, extra=extra)
    node_b = ServerProcess(tmp_path / "b", postgres_schema, TEST_DNS.address, extra=extra)
    with node_a, node_b:
        node_a.initialise(ADMIN_PASSWORD, USERS, PASSWORD)
        node_b.initialise(ADMIN_PASSWORD, [], PASSWORD)
        node_a.start()
        node_b.start()
        traffic = Traffic(node_a.smtp_port)
        traffic.start()
        try:
            send_enough(traffic)
            kill_all(node_a)
        finally:
            traffic.finish()
        accepted = [sent for _, sent in traffic.accepted]
        assert len(accepted) >= MIN_ACCEPTED, f"only {len(accepted)} accepted:\n{node_a.log()}"
        fresh = make_message(99, 1)
        send_one(node_b.smtp_port, fresh)
        refused = [sent for sent, _ in traffic.refused]
        found = check_messages(inboxes(node_b), [*accepted, fresh], traffic.unsure, refused)
        store = check_store(node_b)
        assert node_b.stop() == 0, node_b.log()
        print(
            f"\n{len(accepted)} accepted by A before SIGKILL, all on B; "
            f"{len(traffic.unsure)} in flight ({found['unsure_stored']} stored); store: {store}"
        )
        assert store["unreferenced_blob_rows"] == 0


@pytest.mark.timeout(120)
def test_a_worker_killed_under_load_loses_nothing_and_comes_back(
    tmp_path: Path, database_url: str
) -> None:
    """Two workers take mail; one is SIGKILLed. The supervisor starts another and
    removes the spool files the dead one left; the survivor went on taking mail; every
    message either had accepted is stored once, intact."""
    extra = "[server]\nworkers = 2\n"
    with ServerProcess(tmp_path, database_url, TEST_DNS.address, extra=extra) as server:
        server.initialise(ADMIN_PASSWORD, USERS, PASSWORD)
        server.start()
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while len(workers := server.pids()[1:]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        traffic = Traffic(server.smtp_port)
        traffic.start()
        try:
            time.sleep(SEND_SECONDS / 2)
            victim = workers[0]
            os.kill(victim, signal.SIGKILL)
            killed = len(traffic.accepted)
            while time.monotonic() < deadline + SEND_SECONDS:
                now = server.pids()[1:]
                if len(now) == 2 and victim not in now:
                    break
                time.sleep(0.05)
            assert victim not in now and len(now) == 2, "no worker came in its place"
            time.sleep(SEND_SECONDS / 2)
        finally:
            traffic.finish()
        left = list((server.data_dir / "spool").glob(f"*-{victim}-*"))
        assert left == [], "the dead worker's spool files stayed"
        codes = sorted({code for _, code in traffic.refused})
        assert all(400 <= code < 500 for code in codes), f"refusals {codes}:\n{server.log()}"
        accepted = [sent for _, sent in traffic.accepted]
        assert len(accepted) > killed, "no message was accepted after the kill"
        assert server.stop() == 0, server.log()
        refused = [sent for sent, _ in traffic.refused]
        found = check_messages(inboxes(server), accepted, traffic.unsure, refused)
        store = check_store(server)
        print(
            f"\n{len(accepted)} accepted ({killed} before the kill), {len(traffic.unsure)} "
            f"cut off with the worker ({found['unsure_stored']} stored); store: {store}"
        )
        assert store["unreferenced_blob_rows"] == 0 and store["spool_files"] == 0
