"""IMAP benchmark: a client mix on a 10,000-message INBOX with 1, 8 and 32 sessions, and
resident memory per idle connection, against a `groupware serve` process and, optionally,
another IMAP server (a peer, e.g. Dovecot) measured in the same run.

Starts the server on a temporary data directory (SQLite by default; --database-url for
PostgreSQL, where a schema of its own is made and dropped) with an IMAP listener on a free
loopback port, makes one user and fills its INBOX with --messages generated messages
(2-20 KiB, log-uniform; distinct subjects made of searchable words; about 15 % text+HTML
alternatives and 15 % with a base64 attachment; most \\Seen, some \\Answered or \\Flagged;
dates over the past year). The content is the same on every run (seeded), for the peer
too. --fill direct (default) appends through the services in this process before the
server starts (what APPEND calls, 8 threads so commits are grouped); --fill imap appends
over IMAP (LITERAL+, pipelined, several connections) once it runs.

The mix: every session loops over six commands, each timed on its own:
  select     SELECT INBOX
  flags      UID FETCH 1:* (FLAGS)
  envelope   FETCH n-49:n (UID ENVELOPE)          (the newest 50)
  search     UID SEARCH SUBJECT <word>            (a word in ~0.5 % of the subjects)
  store      STORE <random> +FLAGS (\\Seen)
  body       FETCH <random> BODY.PEEK[]
Before each run \\Seen is taken off every message (UID STORE 1:* -FLAGS.SILENT, untimed),
so the stores change something. Sessions log in (untimed, with an app password on ours so
argon2 does not dominate the set-up) and start together; each level runs --seconds,
--repeat times, and the run with the median ops/s is shown. "cpu %" is the server's CPU
time (user + system, all its processes) over the run; "client %" is this process's.

Idle memory: after a warm-up, --idle-connections connections log in (app password),
select the (small) folder "Push" and wait in IDLE; the server's resident memory (VmRSS,
and PSS from smaps_rollup, summed over the process that listens on the port and all its
descendants) is read before and after, per connection. The server's [imap] limits
(connections per address and per account) are raised in its config file for this.
Push: then one more session APPENDs a message to "Push", and the time until each idle
session has read its "* n EXISTS" is taken from the APPEND's sending (p50, p99, max; one
thread reads every socket with epoll).

Peer: --peer HOST:PORT USER PASS runs the same mix against another server (its INBOX is
filled over IMAP with the same messages when it holds fewer than --messages;
--peer-skip-fill does not touch it) and prints its figures beside ours, with ours/peer.
Its memory is measured when it listens on this machine (processes found by the port).
Dovecot 2.3 from Debian, by hand (as root; nothing of it belongs in the repository):
  apt-get install -y dovecot-imapd
  mkdir -p /tmp/dc/run /tmp/dc/mail && chmod 755 /tmp/dc
  echo 'bench:{PLAIN}Bench-pass-1234:65534:65534::/tmp/dc/mail/bench' > /tmp/dc/passwd
  chown -R nobody:nogroup /tmp/dc/mail
  /tmp/dc/dovecot.conf:
    base_dir = /tmp/dc/run
    protocols = imap
    listen = 127.0.0.1
    ssl = no
    disable_plaintext_auth = no
    auth_mechanisms = plain
    mail_location = sdbox:~/sdbox
    mail_max_userip_connections = 2000
    default_process_limit = 2000
    default_client_limit = 5000
    default_vsz_limit = 1G
    log_path = /tmp/dc/dovecot.log
    passdb {
      driver = passwd-file
      args = /tmp/dc/passwd
    }
    userdb {
      driver = passwd-file
      args = /tmp/dc/passwd
    }
    service imap-login {
      inet_listener imap {
        port = 10143
      }
      inet_listener imaps {
        port = 0
      }
    }
    service imap {
      process_limit = 2000
    }
  ulimit -n 20000; dovecot -c /tmp/dc/dovecot.conf        (stop: dovecot -c … stop)
  python bench/imap.py --peer 127.0.0.1:10143 bench Bench-pass-1234
Prints a table, the memory lines and one JSON line; exits 0. CI never runs it.
Usage: python bench/imap.py [--seconds 10] [--connections 1,8,32] [--repeat 3]
       [--messages 10000] [--idle-connections 1000] [--fill direct|imap]
       [--database-url postgresql+psycopg://…] [--peer HOST:PORT USER PASS [--peer-skip-fill]]
       [--workers N]   (ours as a supervisor and N worker processes; CPU and memory summed)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ipaddress
import json
import os
import random
import re
import resource
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import drop_schema, numbers, postgres_schema  # noqa: E402
from harness.processes import cpu_seconds, memory_kib, parents  # noqa: E402
from harness.serverprocess import ServerProcess, free_port  # noqa: E402

PASSWORD = "Bench-pass-1234"
USER = "bench@example.test"
SEED = 20260101
PUSH_FOLDER = "Push"  # what the idle sessions select, and one message is appended to
OPS = ("select", "flags", "envelope", "search", "store", "body")

# -- the mailbox ---------------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> list[str]:
    """Pronounceable made-up words of three syllables (no one is part of another)."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    syllables = [c + v for c in consonants for v in vowels]
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choice(syllables) for _ in range(3))] = None
    return list(found)


_RNG = random.Random(SEED)
SUBJECT_WORDS = _words(_RNG, 600)  # three per subject: each in about 0.5 % of them
TEXT_WORDS = _words(_RNG, 3000)
LINES = [
    " ".join(_RNG.choice(TEXT_WORDS) for _ in range(_RNG.randint(6, 12))).capitalize() + "."
    for _ in range(4000)
]
SENDERS = [
    (f"{w.capitalize()} {v.capitalize()}", f"{w}.{v}@{d}.example")
    for w, v, d in zip(
        _RNG.sample(TEXT_WORDS, 300),
        _RNG.sample(TEXT_WORDS, 300),
        [_RNG.choice(["lists", "corp", "mail", "post"]) for _ in range(300)],
        strict=True,
    )
]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _text(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(LINES)
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def corpus_message(index: int, user: str) -> tuple[bytes, tuple[str, ...], datetime]:
    """Message `index` (the same bytes on every run; 10,000 span a year): bytes, flags, date."""
    rng = random.Random(SEED * 1_000_003 + index)
    size = int(2048 * 10 ** rng.uniform(0, 1))  # 2-20 KiB, log-uniform
    name, address = SENDERS[rng.randrange(len(SENDERS))]
    words = rng.sample(SUBJECT_WORDS, 3)
    prefix = rng.choice(["", "", "", "", "Re: ", "Re: ", "Fwd: "])
    subject = f"{prefix}{words[0].capitalize()} {words[1]} {words[2]} {index}"
    when = NOW - timedelta(days=365) + timedelta(seconds=index * 3150 - rng.randrange(600))
    head = [
        f"Received: from mx{rng.randrange(9)}.{address.split('@')[1]} by mail.example.test; "
        f"{format_datetime(when)}",
        f"From: {name} <{address}>",
        f"To: Bench <{user}>",
        f"Subject: {subject}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{index}.{SEED}@{address.split('@')[1]}>",
    ]
    if prefix == "Re: ":
        head.append(f"In-Reply-To: <{max(0, index - rng.randint(1, 50))}.{SEED}@example>")
    head.append("MIME-Version: 1.0")
    kind = rng.random()
    boundary = f"=_b{index}_{rng.randrange(10**9)}"
    if kind < 0.70:
        head.append("Content-Type: text/plain; charset=utf-8")
        body = _text(rng, size - 400)
    elif kind < 0.85:
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        plain = _text(rng, (size - 900) // 2)
        html = "<html><body><p>" + plain.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>"
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain}"
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
            f"--{boundary}--\r\n"
        )
    else:
        head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        plain = _text(rng, max(200, size // 4))
        kind_name = rng.choice([("application/pdf", "pdf"), ("image/png", "png")])
        raw = rng.randbytes(max(256, (size - len(plain) - 900) * 3 // 4))
        encoded = base64.encodebytes(raw).decode().replace("\n", "\r\n")
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain}"
            f"--{boundary}\r\nContent-Type: {kind_name[0]}\r\n"
            f'Content-Disposition: attachment; filename="{words[0]}.{kind_name[1]}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
            f"--{boundary}--\r\n"
        )
    roll = rng.random()
    flags = ("\\Seen",) if roll < 0.8 else ()
    if roll < 0.1:
        flags += ("\\Answered",)
    elif roll > 0.95:
        flags += ("\\Flagged",)
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode(), flags, when


# -- a small IMAP client -------------------------------------------------------------------

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")


class IMAPError(Exception):
    pass


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Client:
    """Raw socket, pipelining-friendly: commands out, a tagged response back with the
    untagged data before it (literals skipped by their length, never parsed)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(b"\r\n")  # always starts with the CRLF ending the last line
        self.count = 0
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise IMAPError(f"greeting: {greeting[:80]!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _more(self) -> None:
        data = self.sock.recv(256 * 1024)
        if not data:
            raise IMAPError("connection closed")
        self.buf += data

    def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n", 2)) == -1:
            self._more()
        line = bytes(self.buf[2:end])
        del self.buf[:end]
        return line

    def tag(self) -> bytes:
        self.count += 1
        return b"A%d" % self.count

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, tag: bytes) -> tuple[bytes, bytes]:
        """(the tagged line, what came before it)."""
        marker = b"\r\n" + tag + b" "
        pos = 0
        while True:
            buf = self.buf
            found = buf.find(marker, pos)
            literal = LITERAL.search(buf, pos)
            if literal is not None and (found == -1 or literal.start() < found):
                end = literal.end() + int(literal.group(1))
                while len(self.buf) < end:
                    self._more()
                pos = end
                continue
            if found != -1:
                end = buf.find(b"\r\n", found + 2)
                if end != -1:
                    before, line = bytes(buf[2 : found + 2]), bytes(buf[found + 2 : end])
                    del self.buf[:end]
                    return line, before
            pos = max(pos, buf.rfind(b"\r\n", pos))
            self._more()

    def command(self, text: str | bytes) -> bytes:
        """Send, wait, return the untagged data; IMAPError unless OK."""
        tag = self.tag()
        self.send(tag + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        line, before = self.response(tag)
        if not line.startswith(tag + b" OK"):
            raise IMAPError(line[len(tag) + 1 :][:60].decode(errors="replace"))
        return before

    def login(self, user: str, password: str) -> None:
        self.command(f"LOGIN {quoted(user)} {quoted(password)}")

    def select(self, mailbox: str = "INBOX") -> int:
        found = re.search(rb"\* (\d+) EXISTS", self.command(f"SELECT {mailbox}"))
        return int(found.group(1)) if found else 0

    def idle(self) -> None:
        tag = self.tag()
        self.send(tag + b" IDLE\r\n")
        while not (line := self.line()).startswith(b"+"):
            if line.startswith(tag):
                raise IMAPError(line.decode(errors="replace"))

    def append_many(self, messages: list[tuple[bytes, tuple[str, ...], datetime]]) -> int:
        """APPEND each with a LITERAL+ literal, all sent before the answers are read."""
        tags = []
        out = bytearray()
        for data, flags, when in messages:
            tag = self.tag()
            tags.append(tag)
            date = when.strftime("%d-%b-%Y %H:%M:%S +0000")
            out += b'%s APPEND INBOX (%s) "%s" {%d+}\r\n' % (
                tag,
                " ".join(flags).encode(),
                date.encode(),
                len(data),
            )
            out += data + b"\r\n"
        self.send(bytes(out))
        failed = 0
        for tag in tags:
            line, _ = self.response(tag)
            failed += not line.startswith(tag + b" OK")
        return failed


def fill_imap(host: str, port: int, user: str, password: str, indexes: list[int]) -> int:
    """Append the messages at `indexes` over IMAP, from 4 connections, 32 in flight each."""
    failed = [0]
    lock = threading.Lock()

    def work(share: list[int]) -> None:
        client = Client(host, port)
        client.login(user, password)
        for start in range(0, len(share), 32):
            batch = [corpus_message(i, USER) for i in share[start : start + 32]]
            bad = client.append_many(batch)
            with lock:
                failed[0] += bad
        client.command("LOGOUT")
        client.close()

    threads = [threading.Thread(target=work, args=(indexes[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed[0]


def fill_direct(server: ServerProcess, count: int) -> None:
    """Through the services in this process, as APPEND would (server not running yet)."""
    built = server.runtime()
    try:
        services = built.services
        principal = services.auth.authenticate(USER, PASSWORD, "imap", "127.0.0.1").principal
        assert principal.user_id is not None
        services.mailboxes.ensure_defaults_if_new(principal.user_id)
        spool = server.data_dir / "spool"
        spool.mkdir(parents=True, exist_ok=True)
        errors: list[BaseException] = []

        def work(first: int, step: int) -> None:
            path = spool / f"bench-fill-{first}"
            try:
                for index in range(first, count, step):
                    data, flags, when = corpus_message(index, USER)
                    path.write_bytes(data)
                    services.messages.append(principal, "INBOX", path, flags, when)
            except BaseException as error:
                errors.append(error)
            finally:
                path.unlink(missing_ok=True)

        threads = [threading.Thread(target=work, args=(k, 8)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    finally:
        built.close()


# -- processes ------------------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def server_root(port: int) -> int | None:
    """The process that listens on `port` (the topmost, when children share the socket)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    owners = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in wanted:
                        owners.add(int(entry))
                        break
    known = parents()
    roots = [pid for pid in owners if known.get(pid) not in owners]
    return min(roots) if roots else None


# -- the mix --------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    host: str
    port: int
    user: str
    password: str  # what the mix and idle sessions log in with
    root: int | None  # the listening process, when it is on this machine

    def connect(self) -> Client:
        client = Client(self.host, self.port)
        client.login(self.user, self.password)
        return client


@dataclass
class Level:
    target: Target
    sessions: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: dict[str, int] = field(default_factory=dict)
    hits: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = 0.0
    ended: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0
    reset_seconds: float = 0.0

    def go(self, seconds: float) -> dict[str, object]:
        reset = self.target.connect()
        reset.select()
        began = time.monotonic()
        reset.command("UID STORE 1:* -FLAGS.SILENT (\\Seen)")
        self.reset_seconds = time.monotonic() - began
        reset.command("LOGOUT")
        reset.close()
        clients = [self.target.connect() for _ in range(self.sessions)]

        def begin() -> None:
            self.cpu, self.client_cpu = cpu_seconds(self.target.root), time.process_time()
            self.started = time.monotonic()

        def end() -> None:
            self.ended = time.monotonic()
            self.cpu = cpu_seconds(self.target.root) - self.cpu
            self.client_cpu = time.process_time() - self.client_cpu

        start, stop = threading.Barrier(len(clients), begin), threading.Barrier(len(clients), end)
        threads = [
            threading.Thread(target=self._session, args=(c, i, seconds, start, stop))
            for i, c in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for client in clients:
            client.close()
        elapsed = self.ended - self.started
        count = sum(len(v) for v in self.latencies.values())
        rows = {}
        for op, values in self.latencies.items():
            values.sort()
            rows[op] = {
                "count": len(values),
                "errors": self.errors.get(op, 0),
                "ops_per_s": round(len(values) / elapsed, 1),
                "p50_ms": round(statistics.median(values), 2) if values else None,
                "p99_ms": round(values[int(len(values) * 0.99)], 2) if values else None,
            }
        return {
            "sessions": self.sessions,
            "seconds": round(elapsed, 2),
            "count": count,
            "errors": sum(self.errors.values()),
            "ops_per_s": round(count / elapsed, 1),
            "server_cpu_percent": round(100 * self.cpu / elapsed) if self.target.root else None,
            "client_cpu_percent": round(100 * self.client_cpu / elapsed),
            "search_hits_mean": round(statistics.mean(self.hits), 1) if self.hits else None,
            "reset_seconds": round(self.reset_seconds, 2),
            "ops": rows,
        }

    def _session(
        self,
        client: Client,
        index: int,
        seconds: float,
        start: threading.Barrier,
        stop: threading.Barrier,
    ) -> None:
        rng = random.Random(f"{SEED}-{self.sessions}-{index}-{time.time()}")
        mine: dict[str, list[float]] = {op: [] for op in OPS}
        errors: dict[str, int] = {}
        hits: list[int] = []
        exists = 1
        broken = False
        start.wait()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and not broken:
                for op in OPS:
                    if op == "select":
                        command = "SELECT INBOX"
                    elif op == "flags":
                        command = "UID FETCH 1:* (FLAGS)"
                    elif op == "envelope":
                        command = f"FETCH {max(1, exists - 49)}:{exists} (UID ENVELOPE)"
                    elif op == "search":
                        command = f"UID SEARCH SUBJECT {rng.choice(SUBJECT_WORDS)}"
                    elif op == "store":
                        command = f"STORE {rng.randint(1, exists)} +FLAGS (\\Seen)"
                    else:
                        command = f"FETCH {rng.randint(1, exists)} BODY.PEEK[]"
                    began = time.perf_counter()
                    try:
                        data = client.command(command)
                    except (IMAPError, OSError) as error:
                        kind = f"{op}: {type(error).__name__} {error}"[:80]
                        errors[kind] = errors.get(kind, 0) + 1
                        broken = isinstance(error, OSError) or "closed" in str(error)
                        if broken:
                            break
                        continue
                    mine[op].append((time.perf_counter() - began) * 1000)
                    if op == "select":
                        found = re.search(rb"\* (\d+) EXISTS", data)
                        exists = max(1, int(found.group(1))) if found else exists
                    elif op == "search":
                        found = re.search(rb"\* SEARCH([ 0-9]*)", data)
                        hits.append(len(found.group(1).split()) if found else 0)
        finally:
            with contextlib.suppress(threading.BrokenBarrierError):
                stop.wait()
            with contextlib.suppress(IMAPError, OSError):
                client.command("LOGOUT")
            with self.lock:
                for op, values in mine.items():
                    self.latencies[op].extend(values)
                for kind, n in errors.items():
                    self.errors[kind] = self.errors.get(kind, 0) + n
                self.hits.extend(hits)


def measure_mix(target: Target, args: argparse.Namespace) -> list[dict[str, object]]:
    rows = []
    for sessions in args.connections:
        runs = [Level(target, sessions).go(args.seconds) for _ in range(args.repeat)]
        runs.sort(key=lambda row: float(row["ops_per_s"]))  # type: ignore[arg-type]
        row = runs[len(runs) // 2]
        row["runs_ops_per_s"] = [r["ops_per_s"] for r in runs]
        rows.append(row)
        print(f"{target.label}: {json.dumps(row)}", file=sys.stderr)
    return rows


# -- idle connections -----------------------------------------------------------------------


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def measure_idle(target: Target, count: int) -> dict[str, object]:
    """Memory per connection with `count` logged-in connections in IDLE."""
    for _ in range(3):  # warm-up: first-connection costs do not count
        client = target.connect()
        client.idle()
        client.send(b"DONE\r\n")
        client.command("LOGOUT")
        client.close()
    with contextlib.suppress(IMAPError):
        client = target.connect()
        client.command(f"CREATE {PUSH_FOLDER}")  # fails if there already: as good
        client.close()
    time.sleep(1)
    before = memory_kib(target.root) if target.root else None
    clients: list[Client] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    todo = iter(range(count))  # shared by the opener threads
    started = time.monotonic()

    def opener() -> None:
        for _ in todo:
            try:
                client = target.connect()
                client.select(PUSH_FOLDER)
                client.idle()
            except (IMAPError, OSError) as error:
                with lock:
                    kind = f"{type(error).__name__} {error}"[:80]
                    failures[kind] = failures.get(kind, 0) + 1
                continue
            with lock:
                clients.append(client)

    threads = [threading.Thread(target=opener) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    opened = time.monotonic() - started
    time.sleep(2)
    after = memory_kib(target.root) if target.root else None
    push = measure_push(target, clients)
    for client in clients:
        with contextlib.suppress(OSError):
            client.send(b"DONE\r\n" + client.tag() + b" LOGOUT\r\n")
    time.sleep(1)
    for client in clients:
        client.close()
    time.sleep(2)
    result: dict[str, object] = {
        "connections": len(clients),
        "wanted": count,
        "failures": failures,
        "open_seconds": round(opened, 2),
        "push": push,
    }
    if before is not None and after is not None and clients:
        result |= {
            "before": before,
            "after": after,
            "rss_kib_per_conn": round((after["rss"] - before["rss"]) / len(clients), 1),
            "pss_kib_per_conn": round((after["pss"] - before["pss"]) / len(clients), 1),
        }
    print(f"{target.label} idle: {json.dumps(result)}", file=sys.stderr)
    return result


def measure_push(target: Target, clients: list[Client]) -> dict[str, object]:
    """One message APPENDed to the folder every idle session selected: how long until
    each has read "* n EXISTS", from the moment the APPEND was sent."""
    chooser = selectors.DefaultSelector()
    for client in clients:
        client.sock.setblocking(False)
        chooser.register(client.sock, selectors.EVENT_READ, client)
    pusher = target.connect()
    message = b"From: a@b.example\r\nSubject: push\r\n\r\nnews\r\n"
    tag = pusher.tag()
    began = time.perf_counter()
    pusher.send(
        b"%s APPEND %s {%d+}\r\n%s\r\n" % (tag, PUSH_FOLDER.encode(), len(message), message)
    )
    arrivals: list[float] = []
    waiting = len(clients)
    deadline = began + 120
    while waiting and time.perf_counter() < deadline:
        for key, _ in chooser.select(timeout=1):
            client = key.data
            try:
                data = client.sock.recv(65536)
            except BlockingIOError:
                continue
            client.buf += data
            if not data or b" EXISTS\r\n" in client.buf:
                if data:
                    arrivals.append((time.perf_counter() - began) * 1000)
                chooser.unregister(client.sock)
                waiting -= 1
    chooser.close()
    for client in clients:
        client.sock.setblocking(True)
    with contextlib.suppress(IMAPError, OSError):
        pusher.response(tag)
        pusher.command("LOGOUT")
    pusher.close()
    arrivals.sort()
    result: dict[str, object] = {"sessions": len(clients), "heard": len(arrivals)}
    if arrivals:
        result |= {
            "p50_ms": round(arrivals[len(arrivals) // 2], 1),
            "p99_ms": round(arrivals[min(len(arrivals) - 1, len(arrivals) * 99 // 100)], 1),
            "max_ms": round(arrivals[-1], 1),
        }
    print(f"{target.label} push: {json.dumps(result)}", file=sys.stderr)
    return result


# -- the servers ----------------------------------------------------------------------------


class IMAPServer(ServerProcess):
    """ServerProcess with an IMAP listener as well (its config file gets the line), whose
    limits let `connections` connections in from one address and one account."""

    def __init__(self, folder: Path, database_url: str, connections: int, workers: int = 1) -> None:
        limits = (
            f"[imap]\nmax_connections = {max(connections, 2000)}\n"
            f"max_connections_per_ip = {connections}\n"
            f"max_connections_per_user = {connections}\n"
            f"[server]\nworkers = {workers}\n"
        )
        super().__init__(folder, database_url, "127.0.0.1:9", log_level="warning", extra=limits)
        self.imap_port = free_port()
        text = self.config_path.read_text()
        self.config_path.write_text(
            text.replace("[listen]\n", f'[listen]\nimap = "127.0.0.1:{self.imap_port}"\n', 1)
        )

    def start(self, timeout: float = 60.0) -> None:
        """Return once IMAP greets too (it starts after SMTP and the portal)."""
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=2) as sock,
            ):
                if sock.recv(4).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError("IMAP did not start")


def run_ours(args: argparse.Namespace, url: str, folder: Path) -> dict[str, object]:
    connections = args.idle_connections + max(args.connections) + 100
    with IMAPServer(folder, url, connections, args.workers) as server:
        server.initialise(PASSWORD, [USER], PASSWORD)
        built = server.runtime()
        try:
            from groupware.services.core.access import SYSTEM

            _, app_password = built.services.credentials.add_app_password(SYSTEM, USER, "bench")
        finally:
            built.close()
        started = time.monotonic()
        if args.fill == "direct":
            fill_direct(server, args.messages)
        server.start()
        print(f"server pid {server.pid}, data in {server.data_dir}", file=sys.stderr)
        failed = 0
        if args.fill == "imap":
            indexes = list(range(args.messages))
            failed = fill_imap("127.0.0.1", server.imap_port, USER, app_password, indexes)
        fill_seconds = time.monotonic() - started
        target = Target("groupware", "127.0.0.1", server.imap_port, USER, app_password, server.pid)
        check = target.connect()
        exists = check.select()
        check.command("LOGOUT")
        check.close()
        print(
            f"groupware: {exists} messages, filled ({args.fill}) in {fill_seconds:.1f} s"
            f" ({failed} refused)",
            file=sys.stderr,
        )
        start_rss = server.rss_kib()
        idle = measure_idle(target, args.idle_connections)
        rows = measure_mix(target, args)
        memory = {"start": start_rss, "end": server.rss_kib(), "peak": server.rss_kib("VmHWM")}
        status = server.stop()
        log = server.log(2000)
        if status != 0 or "Traceback" in log or "ERROR" in log:
            print(f"server exited {status}; log tail:\n{log}", file=sys.stderr)
    return {
        "messages": exists,
        "fill": args.fill,
        "fill_seconds": round(fill_seconds, 1),
        "rows": rows,
        "idle": idle,
        "rss_kib": memory,
    }


def run_peer(args: argparse.Namespace) -> dict[str, object]:
    address, user, password = args.peer
    host, _, port_text = address.rpartition(":")
    port = int(port_text)
    root = server_root(port) if loopback(host) else None
    target = Target("peer", host, port, user, password, root)
    check = target.connect()
    exists = check.select()
    fill_seconds = 0.0
    if exists < args.messages and not args.peer_skip_fill:
        started = time.monotonic()
        failed = fill_imap(host, port, user, password, list(range(exists, args.messages)))
        fill_seconds = time.monotonic() - started
        exists = check.select()
        print(
            f"peer: filled to {exists} in {fill_seconds:.1f} s ({failed} refused)", file=sys.stderr
        )
    check.command("LOGOUT")
    check.close()
    print(f"peer: {exists} messages, processes under pid {root}", file=sys.stderr)
    idle = measure_idle(target, args.idle_connections)
    rows = measure_mix(target, args)
    return {
        "address": address,
        "messages": exists,
        "fill_seconds": round(fill_seconds, 1),
        "local": root is not None,
        "rows": rows,
        "idle": idle,
    }


def _cell(value: object, width: int) -> str:
    return f"{'-' if value is None else value:>{width}}"


def print_table(ours: list[dict], peer: list[dict] | None) -> None:
    head = f"{'op':<10}{'conns':>6}{'count':>8}{'errors':>7}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    if peer is not None:
        head += f" |{'peer ops/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}{'ours/peer':>10}"
    head += f"{'cpu %':>7}{'client %':>9}{'run s':>7}"
    print(head + (f"{'peer cpu %':>11}{'peer run s':>11}" if peer is not None else ""))
    peers = {int(row["sessions"]): row for row in peer or []}
    for row in ours:
        other = peers.get(int(row["sessions"]))
        lines: Iterator[tuple[str, dict, dict | None]] = (
            (op, row["ops"][op], other["ops"][op] if other else None) for op in OPS
        )
        total = {k: row[k] for k in ("count", "errors", "ops_per_s")}
        total |= {"p50_ms": "", "p99_ms": ""}
        other_total = (
            {k: other[k] for k in ("errors", "ops_per_s")} | {"p50_ms": "", "p99_ms": ""}
            if other
            else None
        )
        for op, mine, theirs in [*lines, ("all", total, other_total)]:
            text = (
                f"{op:<10}{row['sessions']:>6}{mine['count']:>8}{mine['errors']:>7}"
                f"{mine['ops_per_s']:>9}{_cell(mine['p50_ms'], 9)}{_cell(mine['p99_ms'], 9)}"
            )
            if peer is not None:
                if theirs:
                    ratio = (
                        f"{float(mine['ops_per_s']) / float(theirs['ops_per_s']):.2f}"
                        if theirs["ops_per_s"]
                        else "-"
                    )
                    text += (
                        f" |{theirs['ops_per_s']:>11}{_cell(theirs['p50_ms'], 9)}"
                        f"{_cell(theirs['p99_ms'], 9)}{theirs['errors']:>7}{ratio:>10}"
                    )
                else:
                    text += " |" + " " * 46
            if op == "all":
                text += f"{_cell(row['server_cpu_percent'], 7)}{row['client_cpu_percent']:>9}"
                text += f"{row['seconds']:>7}"
                if other:
                    text += f"{_cell(other['server_cpu_percent'], 11)}{other['seconds']:>11}"
            print(text)


def idle_line(label: str, idle: dict[str, object]) -> str:
    if "rss_kib_per_conn" not in idle:
        text = "n/a (not on this machine)" if idle.get("connections") else "n/a"
    else:
        before, after = idle["before"], idle["after"]
        text = (
            f"{idle['rss_kib_per_conn']} KiB RSS, {idle['pss_kib_per_conn']} KiB PSS per connection"
            f" (RSS {before['rss'] / 1024:.1f} -> {after['rss'] / 1024:.1f} MiB,"  # type: ignore[index]
            f" {after['processes']} processes)"  # type: ignore[index]
        )
    failures = f", failures: {idle['failures']}" if idle.get("failures") else ""
    push = idle.get("push") or {}
    heard = (
        f"; one APPEND heard by {push['heard']} of {push['sessions']}: p50 {push['p50_ms']} ms,"
        f" p99 {push['p99_ms']} ms, max {push['max_ms']} ms"
        if isinstance(push, dict) and push.get("heard")
        else ""
    )
    return (
        f"{label} idle: {idle['connections']} of {idle['wanted']} connections in IDLE"
        f" (opened in {idle['open_seconds']} s): {text}{failures}{heard}"
    )


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per level and run")
    parser.add_argument("--connections", type=numbers, default=[1, 8, 32])
    parser.add_argument("--repeat", type=int, default=3, help="runs per level (median)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--idle-connections", type=int, default=1000)
    parser.add_argument("--fill", choices=("direct", "imap"), default="direct")
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--peer", nargs=3, metavar=("HOST:PORT", "USER", "PASS"))
    parser.add_argument("--peer-skip-fill", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="ours: [server] workers")
    args = parser.parse_args()
    raise_nofile(args.idle_connections + max(args.connections) + 1000)

    schema = ""
    database_url = args.database_url
    if database_url:
        schema, database_url = postgres_schema(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-imap-") as folder:
            url = database_url or f"sqlite:///{Path(folder) / 'var' / 'groupware.db'}"
            ours = run_ours(args, url, Path(folder))
    finally:
        if schema:
            drop_schema(args.database_url, schema)
    peer = run_peer(args) if args.peer else None

    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"IMAP on {backend}, {os.cpu_count()} CPUs, INBOX of {ours['messages']} messages "
        f"(filled {ours['fill']} in {ours['fill_seconds']} s), median of {args.repeat} x "
        f"{args.seconds} s"
        + (f"; peer {peer['address']} with {peer['messages']} messages" if peer else "")
    )
    print_table(ours["rows"], peer["rows"] if peer else None)  # type: ignore[arg-type]
    print(idle_line("groupware", ours["idle"]))  # type: ignore[arg-type]
    if peer is not None:
        print(idle_line("peer", peer["idle"]))  # type: ignore[arg-type]
    memory = ours["rss_kib"]
    print(
        f"groupware RSS: {memory['start'] / 1024:.1f} MiB at start, "  # type: ignore[index]
        f"{memory['end'] / 1024:.1f} MiB at the end, peak {memory['peak'] / 1024:.1f} MiB"  # type: ignore[index]
    )
    print(
        json.dumps(
            {
                "bench": "imap",
                "backend": backend,
                "cpus": os.cpu_count(),
                "seconds": args.seconds,
                "repeat": args.repeat,
                "ours": ours,
                "peer": peer,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
