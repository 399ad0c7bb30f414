"""Webmail benchmark: list, open, search and send on a 100,000-message INBOX.

The portal's webmail pages timed for one user with a 100,000-message INBOX, without and
with 1,000 idle live-update streams open; and, with --browser, the same user actions
timed in headless Chromium beside Roundcube's figures.

Starts `groupware serve` on a temporary data directory (SQLite by default; --database-url
for PostgreSQL, where a schema of its own is made and dropped, as bench/imap.py does) with
its portal on a free loopback port. One user (bench@example.test) gets an INBOX of
--messages generated messages and --other more in Archive (two thirds) and Sent (one
third); a second user (peer@example.test) is who the sent mail goes to. The messages are
small and varied (1-5 KiB, log-uniform; 60 % text/plain, 40 % multipart/alternative with a
quoted-printable HTML part; 3,000 senders; subjects of three words out of 600 plus the
message's number; dates one after another over three years; most \\Seen, some \\Flagged
or \\Answered), and every body holds one "rare" word of eight letters that about
RARE_HITS messages share (spread over the folders): what the body-word search looks for.
They are stored before the server starts through the services (what IMAP APPEND calls:
parse, blob fsynced, rows and full-text index, group commit), from --seed-threads threads
so commits are grouped, as bench/imap.py --fill direct does, in --seed-processes
processes (default 1 on SQLite, whose one writer gains nothing from a second; 2 on
PostgreSQL); the time it takes is printed. On this kind of machine (2 CPUs, shared) SQLite
took 280-330 messages/s (103,000 in 5-6 minutes) and PostgreSQL 380/s (4.5 minutes);
skipping the fsyncs gained nothing (the cost is the parse and the rows, and SQLite's one
writer: a second process does not help there).

Server side, one client on a kept-alive connection (after --warmup untimed rounds), the
operations taken in turn, --samples times each:
  list       GET /mail/folder/INBOX                  (the newest window of 50)
  older      GET /mail/folder/INBOX?before=<uid>     (a random uid 10 %-50 % of the way up)
  open       GET /mail/message/INBOX/<uid>           (a random uid; marks it \\Seen)
  search     GET /mail/search?q=<rare word>          (all folders; ~RARE_HITS hits)
  from       GET /mail/search?q=from:<address>       (all folders; ~1/3000 of the mail)
  send       POST /mail/compose to peer@ (timed up to its redirect, when the message is
             durable: sent, or with --undo held in the Outbox for that long;
             the compose page that gives the CSRF token is fetched untimed before it)
Then --streams GET /mail/events streams are opened on raw sockets, STREAMS_PER_ADDRESS
from each of 127.0.0.2, 127.0.0.3, ... (web.max_connections is raised in the bench
server's config; max_connections_per_ip stays the default 50); a thread reads whatever
they are sent, and the same rounds run again. Twice: first all streams with the measured
user's own session cookie (each change to its mail, e.g. a message opened unread or the
copy in Sent, is an event to all of them; a user has at most 10, so 990 are refused
with 429), then spread over --stream-users other users (10 each: 100 for 1,000)
(idle tabs of other people: no events). Printed: the streams' 200 heads, how many were
still open before and after the rounds, the events they got, the server's RSS before
and after opening them, and the ERROR lines of the server's log.

--browser (on a --messages 10,000 INBOX unless given): Chromium (/usr/bin/chromium through
the `playwright` package; never `playwright install`) times, --reps times each after one
untimed try, from the user's action to the result on screen:
  login      the login form submitted -> the INBOX's newest row visible
  open       a click on a row -> the message's subject heading visible
  older      a click on "Older messages" -> the next window's first row visible
  search     Enter in the Search box (a rare body word) -> the newest hit's row visible
beside Roundcube 1.6.5 on Dovecot measured the same way on this machine (list 445 ms,
open 240 ms, next page 150-185 ms, body search 2.0 s), with where the time went from the
landing page's Navigation Timing (the click until the navigation starts, the server's
first byte, the HTML's last byte, DOMContentLoaded), or for a move that mail.js swaps in
without a navigation (open, older) the click until the swap, and the time of POST /login
alone.

Targets: server side (SQLite, 100k INBOX) p95 list/older/open <= 100 ms, search <= 200 ms,
send <= 100 ms; browser at most half of Roundcube's and search <= 200 ms.
Prints a table and one JSON line; exits 0. CI never runs it.
Usage: python bench/webmail.py [--messages 100000] [--other 3000] [--samples 100]
       [--streams 1000] [--stream-users 100] [--seed-processes N] [--seed-threads 8]
       [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
       python bench/webmail.py --browser [--messages 10000] [--reps 10]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import quopri
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
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import drop_schema, postgres_schema  # noqa: E402
from harness.processes import memory_kib  # noqa: E402
from harness.serverprocess import ServerProcess, free_port  # noqa: E402

PASSWORD = "Bench-pass-1234"
USER = "bench@example.test"
PEER = "peer@example.test"
SEED = 20260515
RARE_HITS = 5  # messages that share one rare body word
STREAMS_PER_ADDRESS = 40  # under web.max_connections_per_ip (50)
OPS = ("list", "older", "open", "search", "from", "send")
# p95 targets, ms (server side, SQLite, 100k INBOX)
TARGETS = {"list": 100, "older": 100, "open": 100, "search": 200, "from": 200, "send": 100}
# Roundcube 1.6.5 on Dovecot, measured the same way on this machine (ms).
ROUNDCUBE = {"login": (445, 445), "open": (240, 240), "older": (150, 185), "search": (2000, 2000)}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# -- the mail ------------------------------------------------------------------------------

CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]  # 70


def _words(rng: random.Random, count: int) -> list[str]:
    """Made-up words of three syllables (six letters)."""
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choice(SYLLABLES) for _ in range(3))] = None
    return list(found)


def rare_word(number: int) -> str:
    """Word `number` of the rare ones: four syllables (eight letters), so never one of the
    six-letter common words nor part of one; scattered so neighbours do not look alike."""
    n = (number * 2_654_435 + 977) % 70**4
    return "".join(SYLLABLES[(n // 70**k) % 70] for k in range(4))


_RNG = random.Random(SEED)
SUBJECT_WORDS = _words(_RNG, 600)
TEXT_WORDS = _words(_RNG, 3000)
LINES = [
    " ".join(_RNG.choice(TEXT_WORDS) for _ in range(_RNG.randint(6, 12))).capitalize() + "."
    for _ in range(4000)
]
SENDERS = [
    (f"{a.capitalize()} {b.capitalize()}", f"{a}.{b}@{d}.example")
    for a, b, d in zip(
        [_RNG.choice(TEXT_WORDS) for _ in range(3000)],
        [_RNG.choice(TEXT_WORDS) for _ in range(3000)],
        [_RNG.choice(["lists", "corp", "mail", "post", "shop", "news"]) for _ in range(3000)],
        strict=True,
    )
]
SENDERS = list({address: (name, address) for name, address in SENDERS}.values())
NOW = datetime(2026, 5, 1, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)


@dataclass(frozen=True)
class Plan:
    """Which message goes where: indexes below `other` are the older mail filed in
    Archive and Sent; the rest is the INBOX. Message i holds rare word i % rare."""

    total: int
    other: int

    @property
    def rare(self) -> int:
        return max(1, self.total // RARE_HITS)

    def folder(self, index: int) -> str:
        if index >= self.other:
            return "INBOX"
        return "Sent" if index % 3 == 2 else "Archive"

    def hits(self, word_number: int) -> list[int]:
        """The indexes of the messages holding rare word `word_number`."""
        return list(range(word_number, self.total, self.rare))


def _text(rng: random.Random, size: int, rare: str) -> list[str]:
    lines: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(LINES)
        lines.append(line)
        total += len(line) + 2
    at = rng.randrange(len(lines))
    words = lines[at].split(" ")
    words.insert(rng.randrange(1, len(words) + 1), rare)
    lines[at] = " ".join(words)
    return lines


def message(plan: Plan, index: int) -> tuple[bytes, tuple[str, ...], datetime, str]:
    """Message `index` (the same bytes on every run): bytes, flags, date, subject."""
    rng = random.Random(SEED * 1_000_003 + index)
    size = int(1024 * 5 ** rng.random())  # 1-5 KiB, log-uniform
    sent = plan.folder(index) == "Sent"
    name, address = SENDERS[rng.randrange(len(SENDERS))]
    words = rng.sample(SUBJECT_WORDS, 3)
    prefix = rng.choice(["", "", "", "", "Re: ", "Re: ", "Fwd: "])
    subject = f"{prefix}{words[0].capitalize()} {words[1]} {words[2]} {index}"
    when = NOW - SPAN + SPAN * (index + 1) / (plan.total + 1) - timedelta(seconds=rng.randrange(60))
    domain = address.split("@")[1]
    head = []
    if not sent:
        head.append(
            f"Received: from mx{rng.randrange(9)}.{domain} by mail.example.test; "
            f"{format_datetime(when)}"
        )
    head += [
        f"From: Bench <{USER}>" if sent else f"From: {name} <{address}>",
        f"To: {name} <{address}>" if sent else f"To: Bench <{USER}>",
        f"Subject: {subject}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{index}.{SEED}@{'example.test' if sent else domain}>",
    ]
    if prefix == "Re: ":
        head.append(f"In-Reply-To: <{max(0, index - rng.randint(1, 50))}.{SEED}@{domain}>")
    head.append("MIME-Version: 1.0")
    rare = rare_word(index % plan.rare)
    if rng.random() < 0.6:
        head.append("Content-Type: text/plain; charset=utf-8")
        head.append("Content-Transfer-Encoding: 7bit")
        body = "\r\n".join(_text(rng, size - 450, rare)) + "\r\n"
    else:
        boundary = f"=_b{index}_{rng.randrange(10**9)}"
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        lines = _text(rng, (size - 900) * 2 // 5, rare)
        plain = "\r\n".join(lines) + "\r\n"
        paragraphs = "".join(
            f"<p>{line}</p>" if k % 4 else f"<p><b>{line}</b></p>" for k, line in enumerate(lines)
        )
        html = (
            '<html><head><meta charset="utf-8"></head><body style="font-family: sans-serif">'
            f'<div class="mail">{paragraphs}<p><a href="https://{domain}/u/{index}">'
            "Unsubscribe</a></p></div></body></html>"
        )
        encoded = quopri.encodestring(html.encode()).decode().replace("\n", "\r\n")
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 7bit\r\n\r\n{plain}"
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}\r\n"
            f"--{boundary}--\r\n"
        )
    roll = rng.random()
    flags: tuple[str, ...] = ("\\Seen",) if roll < 0.85 or sent else ()
    if roll < 0.08:
        flags += ("\\Answered",)
    elif roll > 0.96:
        flags += ("\\Flagged",)
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode(), flags, when, subject


# -- the server and its mail --------------------------------------------------------------


class WebServer(ServerProcess):
    """ServerProcess with the portal on a free port, room for `connections` of them."""

    def __init__(self, folder: Path, database_url: str, connections: int) -> None:
        extra = f"[web]\nmax_connections = {connections}\n[auth]\nmax_failures_per_ip = 1000000\n"
        super().__init__(folder, database_url, "127.0.0.1:9", log_level="warning", extra=extra)
        self.http_port = free_port()
        text = self.config_path.read_text()
        self.config_path.write_text(
            text.replace("[listen]\n", f'[listen]\nhttp = "127.0.0.1:{self.http_port}"\n', 1)
        )

    def start_web(self) -> None:
        self.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection.request("GET", "/login")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            connection.close()
            time.sleep(0.1)
        raise RuntimeError(f"portal did not answer:\n{self.log()}")


@dataclass
class Seeded:
    seconds: float
    count: int
    inbox: dict[int, int] = field(default_factory=dict)  # INBOX uid -> message index


def seed(
    server: WebServer, plan: Plan, threads: int, processes: int, others: int = 0, undo: int = 0
) -> Seeded:
    """Store the plan's messages through the services (APPEND's path) before the server
    starts: `processes` processes (the parse and the rows are CPU work under one GIL
    each) of `threads` threads (so the group commit batches their commits). The user's
    undo time is `undo` seconds (0: send measures the whole sending)."""
    from groupware.services.core.access import SYSTEM
    from groupware.services.mail.preferences import MailSettings

    server.initialise(PASSWORD, [USER, PEER, *other_users(others)], PASSWORD)
    built = server.runtime()
    try:
        for address in (USER, PEER):
            user = built.services.directory.get_user(SYSTEM, address)
            built.services.mailboxes.ensure_defaults_if_new(user.id)
            person = built.services.auth.principal(user.id)
            assert person is not None
            built.services.preferences.set(person, MailSettings(undo_seconds=undo))
    finally:
        built.close()
    started = time.monotonic()
    inbox: dict[int, int] = {}
    if processes <= 1:
        inbox = _seed_part(server, plan, threads, 0, 1)
    else:
        context = multiprocessing.get_context("fork")  # nothing of the runtime is open
        results = context.Queue()
        children = [
            context.Process(target=_seed_child, args=(server, plan, threads, k, processes, results))
            for k in range(processes)
        ]
        for child in children:
            child.start()
        errors = []
        for _ in children:
            part, error = results.get()
            if isinstance(error, str):
                errors.append(error)
            else:
                inbox.update(part)
        for child in children:
            child.join()
        if errors:
            raise RuntimeError(f"seeding failed: {errors[0]}")
    return Seeded(time.monotonic() - started, plan.total, inbox)


def other_users(count: int) -> list[str]:
    """Users who only hold live-update streams open (their own, empty, mail)."""
    return [f"tab{n}@example.test" for n in range(count)]


def _seed_child(
    server: WebServer, plan: Plan, threads: int, part: int, parts: int, results: Any
) -> None:
    try:
        results.put((_seed_part(server, plan, threads, part, parts), None))
    except BaseException as error:
        results.put(({}, f"{type(error).__name__}: {error}"))


def _seed_part(
    server: WebServer, plan: Plan, threads: int, part: int, parts: int
) -> dict[int, int]:
    """Messages part, part + parts, ... of the plan; {INBOX uid: index} of those stored."""
    built = server.runtime()
    try:
        services = built.services
        principal = services.auth.authenticate(USER, PASSWORD, "imap", "127.0.0.1").principal
        spool = server.data_dir / "spool"
        spool.mkdir(parents=True, exist_ok=True)
        inbox: dict[int, int] = {}
        errors: list[BaseException] = []
        done = [0]
        lock = threading.Lock()
        started = time.monotonic()
        step = threads * parts

        def work(first: int) -> None:
            path = spool / f"bench-seed-{part}-{first}"
            try:
                for index in range(first, plan.total, step):
                    data, flags, when, _ = message(plan, index)
                    path.write_bytes(data)
                    folder = plan.folder(index)
                    added = services.messages.append(principal, folder, path, flags, when)
                    with lock:
                        if folder == "INBOX":
                            inbox[added.uid] = index
                        done[0] += 1
                        if part == 0 and done[0] * parts % 10_000 < parts:
                            rate = done[0] * parts / (time.monotonic() - started)
                            print(f"  seeded ~{done[0] * parts} ({rate:.0f}/s)", file=sys.stderr)
            except BaseException as error:
                errors.append(error)
            finally:
                path.unlink(missing_ok=True)

        workers = [threading.Thread(target=work, args=(part + k * parts,)) for k in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if errors:
            raise errors[0]
        return inbox
    finally:
        built.close()


def log_errors(server: WebServer) -> dict[str, int]:
    """The server log's ERROR/CRITICAL lines, grouped by logger and last line (numbers
    made N): what went wrong in the server during the run."""
    try:
        text = server.log_path.read_text(errors="replace")
    except FileNotFoundError:
        return {}
    kinds: dict[str, int] = {}
    for line in text.splitlines():
        found = re.search(r" (ERROR|CRITICAL) (\S+) (.*)", line)
        if found:
            last = found.group(3).rsplit(" | ", 1)[-1]
            kind = f"{found.group(2)} {re.sub(r'[0-9]+', 'N', last)}"[:160]
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


# -- an HTTP client ------------------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
MESSAGE_LINK = re.compile(rb'href="/mail/message/([^/"]+)/(\d+)"')


class Web:
    """One kept-alive connection with its cookies, as one browser tab's requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        headers = {"User-Agent": "bench-webmail", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in cookie.lower() or "expires=thu, 01 jan 1970" in cookie.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if response.will_close:
            self.close()
        return response.status, response.headers, data

    def token(self, path: str) -> str:
        status, _, data = self.request("GET", path)
        found = TOKEN.search(data.decode())
        if status != 200 or found is None:
            raise RuntimeError(f"GET {path}: {status}, no csrf_token")
        return found.group(1)

    def log_in(self, login: str) -> None:
        form = {"csrf_token": self.token("/login"), "login": login, "password": PASSWORD}
        status, _, _ = self.request("POST", "/login", form)
        if status != 302:
            raise RuntimeError(f"login: {status}")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# -- the server-side measurements ----------------------------------------------------------


def summary(values: list[float]) -> dict[str, object]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "max_ms": round(ordered[-1], 1),
    }


class Rounds:
    """The six operations in turn, `samples` rounds; latencies, errors and hits."""

    def __init__(self, web: Web, plan: Plan, seeded: Seeded, rng: random.Random) -> None:
        self.web = web
        self.plan = plan
        self.seeded = seeded
        self.rng = rng
        self.uids = sorted(seeded.inbox)

    def one(self, op: str) -> tuple[float, str | None, int | None]:
        """(ms, an error or None, result rows where that means something)."""
        uids, rng = self.uids, self.rng
        form = None
        if op == "list":
            method, path = "GET", "/mail/folder/INBOX"
        elif op == "older":
            low, high = uids[len(uids) // 10], uids[max(len(uids) // 10, len(uids) // 2)]
            method, path = "GET", f"/mail/folder/INBOX?before={rng.randint(low, high)}"
        elif op == "open":
            method, path = "GET", f"/mail/message/INBOX/{rng.choice(uids)}"
        elif op == "search":
            word = rare_word(rng.randrange(self.plan.rare))
            method, path = "GET", f"/mail/search?q={word}"
        elif op == "from":
            address = rng.choice(SENDERS)[1]
            method, path = "GET", "/mail/search?q=" + urllib.parse.quote(f"from:{address}")
        else:
            method, path = "POST", "/mail/compose"
            form = {
                "csrf_token": self.web.token("/mail/compose"),
                "to": PEER,
                "cc": "",
                "bcc": "",
                "subject": f"Bench note {rng.randrange(10**6)}",
                "body": "Hello,\r\n\r\nA short note from the benchmark.\r\n\r\n-- \r\nBench\r\n",
            }
        began = time.perf_counter()
        status, headers, data = self.web.request(method, path, form)
        ms = (time.perf_counter() - began) * 1000
        wanted = 302 if op == "send" else 200
        if status != wanted:
            return ms, f"{op}: HTTP {status}", None
        if op == "send" and not (headers.get("Location") or "").endswith("/mail/folder/INBOX"):
            return ms, f"send: redirected to {headers.get('Location')}", None
        rows = len(MESSAGE_LINK.findall(data)) if op != "send" else None
        if op == "open":
            rows = None
            if b'id="subject"' not in data:
                return ms, "open: no subject heading", None
        if op in ("list", "older") and rows == 0:
            return ms, f"{op}: no rows", rows
        return ms, None, rows

    def run(self, samples: int, warmup: int) -> dict[str, dict[str, object]]:
        for _ in range(warmup):
            for op in OPS:
                self.one(op)
        latencies: dict[str, list[float]] = {op: [] for op in OPS}
        errors: dict[str, int] = {}
        rows: dict[str, list[int]] = {op: [] for op in OPS}
        for _ in range(samples):
            for op in OPS:
                ms, error, found = self.one(op)
                if error:
                    errors[error] = errors.get(error, 0) + 1
                    continue
                latencies[op].append(ms)
                if found is not None:
                    rows[op].append(found)
        result = {}
        for op in OPS:
            result[op] = summary(latencies[op]) | {
                "errors": sum(n for e, n in errors.items() if e.startswith(op + ":")),
                "rows_mean": round(statistics.mean(rows[op]), 1) if rows[op] else None,
            }
        if errors:
            print(f"errors: {errors}", file=sys.stderr)
        return result


# -- the live-update streams ----------------------------------------------------------------


class Streams:
    """GET /mail/events held open on raw sockets from 127.0.0.2, 127.0.0.3, ..."""

    def __init__(self, port: int, cookies: list[str]) -> None:
        self.port = port
        self.cookies = cookies  # stream n is cookies[n % len(cookies)]'s
        self.socks: list[socket.socket] = []
        self.heads: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.bytes = 0
        self.events = 0
        self.closed = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def open(self, count: int) -> float:
        todo = iter(range(count))
        started = time.monotonic()

        def opener() -> None:
            for number in todo:
                source = f"127.0.0.{2 + number // STREAMS_PER_ADDRESS}"
                try:
                    sock = socket.socket()
                    sock.settimeout(30)
                    sock.bind((source, 0))
                    sock.connect(("127.0.0.1", self.port))
                    sock.sendall(
                        (
                            f"GET /mail/events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
                            "User-Agent: bench-webmail\r\n"
                            f"Cookie: {self.cookies[number % len(self.cookies)]}\r\n\r\n"
                        ).encode()
                    )
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = sock.recv(4096)
                        if not chunk:
                            raise ConnectionError("closed before the head")
                        head += chunk
                except OSError as error:
                    with self.lock:
                        kind = f"{type(error).__name__} {error}"[:80]
                        self.failures[kind] = self.failures.get(kind, 0) + 1
                    continue
                status = head.split(b"\r\n", 1)[0].decode(errors="replace")
                event_stream = b"content-type: text/event-stream" in head.lower()
                key = f"{status}{' text/event-stream' if event_stream else ''}"
                with self.lock:
                    self.heads[key] = self.heads.get(key, 0) + 1
                    if status.split()[1:2] == ["200"] and event_stream:
                        sock.setblocking(False)
                        self.socks.append(sock)
                    else:
                        sock.close()

        threads = [threading.Thread(target=opener) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return seconds

    def _read(self) -> None:
        selector = selectors.DefaultSelector()
        for sock in self.socks:
            selector.register(sock, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in selector.select(0.2):
                stream: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = stream.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(stream)
                    with self.lock:
                        self.closed += 1
                    continue
                with self.lock:
                    self.bytes += len(data)
                    self.events += data.count(b"event: mail")
        selector.close()

    def still_open(self) -> int:
        """Streams with a 200 head that the server has not closed."""
        with self.lock:
            return len(self.socks) - self.closed

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(5)
        for sock in self.socks:
            with contextlib.suppress(OSError):
                sock.close()


# -- the browser --------------------------------------------------------------------------


# Where a page's time went, from its Navigation Timing entry (ms after the navigation
# began), read once the result is on screen; "to_nav" is from the action to that start.
# "painted" is the browser's own clock from the action's DOM event (a click, or the Enter
# keydown, noted by ACTION_MARK in the page it happened on) to the new page's first
# contentful paint: the same span without Playwright's polling for visibility. A move
# between mail pages that swaps the page's <main> in (mail.js) makes no navigation: its
# "painted" is to the swap (the "mail:moved" mark), and it has no other stages.
NAV_TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  const action = Number(sessionStorage.getItem("bench-action") || 0);
  const moved = performance.getEntriesByName("mail:moved").pop();
  return {origin: performance.timeOrigin, request: n.requestStart, first_byte: n.responseStart,
          moved: moved ? moved.startTime : null,
          html: n.responseEnd, dom_ready: n.domContentLoadedEventEnd,
          paint: paint ? paint.startTime : null, action: action,
          requests: performance.getEntriesByType("resource").length};
}"""
ACTION_MARK = """(() => {
  const mark = (event) => sessionStorage.setItem(
    "bench-action", String(performance.timeOrigin + event.timeStamp));
  document.addEventListener("click", mark, true);
  document.addEventListener("keydown", (event) => { if (event.key === "Enter") mark(event); },
                            true);
})();"""
STAGES = ("to_nav", "server", "html", "dom_ready", "painted")


def browser_measure(
    port: int, plan: Plan, seeded: Seeded, reps: int, shots: Path | None
) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, float]]]:
    """(latency summaries per action, median stage times per action)."""
    from playwright.sync_api import Page, sync_playwright

    base = f"http://127.0.0.1:{port}"
    subject_of = {uid: message(plan, index)[3] for uid, index in seeded.inbox.items()}
    uids = sorted(subject_of)
    rng = random.Random(SEED + 7)
    times: dict[str, list[float]] = {"login": [], "open": [], "older": [], "search": []}
    painted: dict[str, list[float]] = {op: [] for op in times}
    stages: dict[str, list[dict[str, float | None]]] = {op: [] for op in times}

    def row(uid: int) -> re.Pattern[str]:
        # A row link's name is "sender subject date"; the message's number ends the subject.
        return re.compile(re.escape(subject_of[uid]) + r"(?!\d)")

    def timed(op: str, rep: int, page: Page, action: Any, shown: Any) -> None:
        """Do `action`, wait for `shown` to be visible: the time between, if rep > 0."""
        page.evaluate("performance.clearMarks('mail:moved')")
        clicked = time.time() * 1000
        began = time.perf_counter()
        action()
        shown.wait_for(state="visible")
        ms = (time.perf_counter() - began) * 1000
        if rep:
            nav = page.evaluate(NAV_TIMING)
            times[op].append(ms)
            if nav["moved"] is not None:  # swapped in, not navigated
                painted[op].append(nav["origin"] + nav["moved"] - nav["action"])
                stages[op].append({"swapped": nav["origin"] + nav["moved"] - nav["action"]})
                return
            shown_at = nav["origin"] + nav["paint"] if nav["paint"] is not None else None
            if shown_at is not None and nav["action"]:
                painted[op].append(shown_at - nav["action"])
            stages[op].append(
                {
                    "to_nav": nav["origin"] - clicked,
                    "server": nav["first_byte"] - nav["request"],
                    "html": nav["html"],
                    "dom_ready": nav["dom_ready"],
                    "painted": shown_at - nav["action"] if shown_at and nav["action"] else None,
                    "requests": nav["requests"],
                }
            )

    def rows_on(page: Page) -> list[int]:
        hrefs = page.eval_on_selector_all(
            'a[href*="/mail/message/INBOX/"]', "links => links.map(a => a.href)"
        )
        return [int(h.rsplit("/", 1)[1]) for h in hrefs if h.rsplit("/", 1)[1].isdigit()]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = None
            for rep in range(reps + 1):  # login: a fresh browser profile each time
                if context is not None:
                    context.close()
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(ACTION_MARK)
                page = context.new_page()
                page.goto(base + "/mail/folder/INBOX")  # to the login form, and back after
                page.get_by_label("E-mail address").fill(USER)
                page.get_by_label("Password").fill(PASSWORD)
                button = page.get_by_role("button", name="Log in")
                timed(
                    "login", rep, page, button.click, page.get_by_role("link", name=row(uids[-1]))
                )
            assert context is not None
            if shots:
                page.screenshot(path=str(shots / "list.png"))

            for rep in range(reps + 1):  # open: a click on a row of the newest window
                page.goto(base + "/mail/folder/INBOX")
                page.wait_for_load_state("load")
                uid = rng.choice(rows_on(page))
                link = page.get_by_role("link", name=row(uid))
                heading = page.get_by_role("heading", name=subject_of[uid], exact=True, level=1)
                timed("open", rep, page, link.click, heading)
            if shots:
                page.screenshot(path=str(shots / "message.png"))

            page.goto(base + "/mail/folder/INBOX")  # older: page after page down the folder
            for rep in range(reps + 1):
                page.wait_for_load_state("load")
                older = page.get_by_role("link", name="Older messages")
                found = re.search(r"before=(\d+)", older.get_attribute("href") or "")
                assert found is not None, "no before= in the Older messages link"
                before = int(found[1])
                first = max(u for u in uids if u < before)  # the next window's newest
                timed("older", rep, page, older.click, page.get_by_role("link", name=row(first)))
            if shots:
                page.screenshot(path=str(shots / "older.png"))

            for rep in range(reps + 1):  # search: a rare body word, all folders
                page.goto(base + "/mail/folder/INBOX")
                page.wait_for_load_state("load")
                number = rng.randrange(plan.rare)
                newest = message(plan, max(plan.hits(number)))[3]
                box = page.get_by_role("searchbox", name="Search")
                box.fill(rare_word(number))
                shown = page.get_by_role("link", name=re.compile(re.escape(newest) + r"(?!\d)"))
                timed("search", rep, page, lambda box=box: box.press("Enter"), shown)
            if shots:
                page.screenshot(path=str(shots / "search.png"))
            context.close()
        finally:
            browser.close()
    medians = {
        op: {
            k: round(statistics.median(known), 1)
            for k in (*STAGES, "swapped", "requests")
            if (known := [v for s in values if (v := s.get(k)) is not None])
        }
        for op, values in stages.items()
        if values
    }
    return {
        op: summary(values) | {"painted": summary(painted[op])} for op, values in times.items()
    }, medians


# -- running ------------------------------------------------------------------------------


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def print_rows(
    title: str, rows: dict[str, dict[str, object]], targets: bool, out: Any = sys.stdout
) -> None:
    print(title, file=out)
    head = f"{'op':<8}{'count':>7}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'rows':>7}"
    print(head + (f"{'target':>9}{'':>6}" if targets else ""), file=out)
    for op, row in rows.items():
        line = (
            f"{op:<8}{row['count']:>7}{row['errors']:>7}{row['p50_ms']!s:>9}"
            f"{row['p95_ms']!s:>9}{row['max_ms']!s:>9}{row['rows_mean'] or '':>7}"
        )
        if targets:
            p95 = row["p95_ms"]
            ok = p95 is not None and float(p95) <= TARGETS[op]  # type: ignore[arg-type]
            line += f"{'<=' + str(TARGETS[op]):>9}{'ok' if ok else 'MISS':>6}"
        print(line, file=out)


def stream_phase(
    label: str,
    server: WebServer,
    cookies: list[str],
    count: int,
    rounds: Rounds,
    args: argparse.Namespace,
) -> dict[str, object]:
    """Open `count` streams with `cookies`, run the rounds, close them: what it cost."""
    rss_before = memory_kib(server.pid)["rss"]
    streams = Streams(server.http_port, cookies)
    try:
        open_seconds = streams.open(count)
        time.sleep(2)
        rss_open = memory_kib(server.pid)["rss"]
        open_before = streams.still_open()
        events_before = streams.events
        rows = rounds.run(args.samples, args.warmup)
        time.sleep(1)
        info: dict[str, object] = {
            "label": label,
            "owners": len(cookies),
            "wanted": count,
            "heads": streams.heads,
            "failures": streams.failures,
            "open_seconds": round(open_seconds, 2),
            "open_before_rounds": open_before,
            "still_open": streams.still_open(),
            "closed_by_server": streams.closed,
            "events_during_rounds": streams.events - events_before,
            "bytes_received": streams.bytes,
            "addresses": (count + STREAMS_PER_ADDRESS - 1) // STREAMS_PER_ADDRESS,
            "rss_before_kib": rss_before,
            "rss_open_kib": rss_open,
            "rss_after_rounds_kib": memory_kib(server.pid)["rss"],
            "rows": rows,
        }
    finally:
        streams.close()
    time.sleep(2)  # the server sees them go
    print(f"{label}: {json.dumps(info)}", file=sys.stderr)
    return info


def run_server_side(args: argparse.Namespace, url: str, folder: Path) -> dict[str, object]:
    plan = Plan(args.messages + args.other, args.other)
    connections = args.streams + 200
    server = WebServer(folder, url, connections)
    with server:
        seeded = seed(
            server, plan, args.seed_threads, args.seed_processes, args.stream_users, args.undo
        )
        print(
            f"seeded {seeded.count} messages ({len(seeded.inbox)} in INBOX) in "
            f"{seeded.seconds:.1f} s ({seeded.count / seeded.seconds:.0f}/s)",
            file=sys.stderr,
        )
        server.start_web()
        rss_start = memory_kib(server.pid)["rss"]
        web = Web(server.http_port)
        web.log_in(USER)
        rounds = Rounds(web, plan, seeded, random.Random(SEED + 1))
        plain = rounds.run(args.samples, args.warmup)
        print_rows("without streams", plain, True, sys.stderr)
        phases = []
        if args.streams:
            own = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
            phases.append(
                stream_phase("the user's own streams", server, [own], args.streams, rounds, args)
            )
            if args.stream_users:
                cookies = []
                for address in other_users(args.stream_users):
                    tab = Web(server.http_port)
                    tab.log_in(address)
                    tab.close()
                    cookies.append("; ".join(f"{k}={v}" for k, v in tab.cookies.items()))
                label = f"streams of {args.stream_users} other users"
                phases.append(stream_phase(label, server, cookies, args.streams, rounds, args))
        web.close()
        rss_end = memory_kib(server.pid)["rss"]
        status = server.stop()
        errors = log_errors(server)
        if status != 0 or errors:
            print(f"server exited {status}; log errors: {errors}", file=sys.stderr)
    return {
        "messages": {"inbox": len(seeded.inbox), "other": args.other, "total": seeded.count},
        "seed_seconds": round(seeded.seconds, 1),
        "seed_rate": round(seeded.count / seeded.seconds),
        "seed_threads": args.seed_threads,
        "seed_processes": args.seed_processes,
        "samples": args.samples,
        "rows": plain,
        "stream_phases": phases,
        "rss_kib": {"start": rss_start, "end": rss_end},
        "server_exit": status,
        "server_log_errors": errors,
    }


def run_browser(args: argparse.Namespace, url: str, folder: Path) -> dict[str, object]:
    plan = Plan(args.messages + args.other, args.other)
    server = WebServer(folder, url, 200)
    with server:
        seeded = seed(server, plan, args.seed_threads, args.seed_processes, undo=args.undo)
        print(
            f"seeded {seeded.count} messages ({len(seeded.inbox)} in INBOX) in "
            f"{seeded.seconds:.1f} s",
            file=sys.stderr,
        )
        server.start_web()
        logins = []  # the server's part of a login: POST /login (argon2id) to its redirect
        for _ in range(5):
            web = Web(server.http_port)
            token = web.token("/login")
            began = time.perf_counter()
            status, _, _ = web.request(
                "POST", "/login", {"csrf_token": token, "login": USER, "password": PASSWORD}
            )
            logins.append((time.perf_counter() - began) * 1000)
            web.close()
        shots = Path(args.screenshots) if args.screenshots else None
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
        rows, stages = browser_measure(server.http_port, plan, seeded, args.reps, shots)
        status = server.stop()
        errors = log_errors(server)
        if status != 0 or errors:
            print(f"server exited {status}; log errors: {errors}", file=sys.stderr)
    return {
        "messages": {"inbox": len(seeded.inbox), "other": args.other, "total": seeded.count},
        "seed_seconds": round(seeded.seconds, 1),
        "reps": args.reps,
        "rows": rows,
        "stages": stages,
        "login_post_ms": summary(logins),
        "server_exit": status,
        "server_log_errors": errors,
    }


def print_browser(rows: dict[str, dict[str, object]]) -> None:
    print(
        f"{'action':<8}{'count':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'Roundcube ms':>14}{'target ms':>11}{'ours/RC':>9}{'':>6}"
        f"{'painted p50':>13}{'p95':>7}"
    )
    for op, row in rows.items():
        low, high = ROUNDCUBE[op]
        p50 = row["p50_ms"]
        if op == "search":
            limit = min(low / 2, 200)
            target = f"<={limit:g}"
        else:
            limit = high / 2
            target = f"<={low / 2:g}" + ("" if low == high else f"-{high / 2:g}")
        verdict = "-"
        if p50 is not None:
            verdict = "ok" if float(p50) <= limit else "MISS"  # type: ignore[arg-type]
        ratio = f"{float(p50) / low:.2f}" if p50 is not None else "-"  # type: ignore[arg-type]
        roundcube = f"{low}" if low == high else f"{low}-{high}"
        painted: Any = row["painted"]
        print(
            f"{op:<8}{row['count']:>6}{p50!s:>9}{row['p95_ms']!s:>9}{row['max_ms']!s:>9}"
            f"{roundcube:>14}{target:>11}{ratio:>9}{verdict:>6}"
            f"{painted['p50_ms']!s:>13}{painted['p95_ms']!s:>7}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, help="INBOX size (100000; --browser: 10000)")
    parser.add_argument("--other", type=int, default=3000, help="in Archive and Sent")
    parser.add_argument("--samples", type=int, default=100, help="per operation")
    parser.add_argument(
        "--undo", type=int, default=0, help="the user's undo seconds (0: send sends at once)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    parser.add_argument("--streams", type=int, default=1000, help="live-update streams")
    parser.add_argument(
        "--stream-users",
        type=int,
        default=100,
        help="a second round with the streams spread over this many other users (0: none)",
    )
    parser.add_argument("--seed-threads", type=int, default=8, help="per seeding process")
    parser.add_argument(
        "--seed-processes",
        type=int,
        help="default 1 on SQLite (one writer: no gain), 2 on PostgreSQL",
    )
    parser.add_argument(
        "--database-url", "--database", default="", help="default: SQLite in the data dir"
    )
    parser.add_argument("--browser", action="store_true", help="time a browser instead")
    parser.add_argument("--reps", type=int, default=10, help="--browser: tries per action")
    parser.add_argument("--screenshots", default="", help="--browser: keep PNGs here")
    args = parser.parse_args()
    if args.messages is None:
        args.messages = 10_000 if args.browser else 100_000
    if args.seed_processes is None:
        args.seed_processes = min(2, os.cpu_count() or 1) if args.database_url else 1
    raise_nofile(args.streams + 2000)

    schema = ""
    database_url = args.database_url
    if database_url:
        schema, database_url = postgres_schema(args.database_url)
    backend = "postgresql" if args.database_url else "sqlite"
    load_start = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webmail-") as folder:
            url = database_url or f"sqlite:///{Path(folder) / 'var' / 'groupware.db'}"
            if args.browser:
                result = run_browser(args, url, Path(folder))
            else:
                result = run_server_side(args, url, Path(folder))
    finally:
        if schema:
            drop_schema(args.database_url, schema)

    result["load_average"] = {"start": load_start, "end": os.getloadavg()}
    messages = result["messages"]
    print(
        f"\nwebmail on {backend}, {os.cpu_count()} CPUs: INBOX of {messages['inbox']} "  # type: ignore[index]
        f"messages, {messages['other']} in Archive/Sent; seeded in {result['seed_seconds']} s"  # type: ignore[index]
        f" ({args.seed_processes} processes x {args.seed_threads} threads); load average "
        f"{load_start[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    if args.browser:
        print(
            f"browser (Chromium, headless), {args.reps} tries each after one untimed; ms from"
            " the action to the result visible to Playwright (p50 is compared with Roundcube,"
            " measured the same way); 'painted' is the browser's clock from the action's event"
            " to the new page's first contentful paint:"
        )
        print_browser(result["rows"])  # type: ignore[arg-type]
        print(
            "where it went (medians, ms): to_nav = action to the navigation's start (the"
            " click itself); server = request sent to first byte; html = navigation start to"
            " the page's last byte; dom_ready = to DOMContentLoaded (CSS and deferred"
            " scripts in); requests = subresources fetched; swapped = action to a mail page"
            " swapped in without a navigation (mail.js)"
        )
        for op, stage in result["stages"].items():  # type: ignore[attr-defined]
            print(f"  {op:<8}" + "".join(f"{k} {v:>6}   " for k, v in stage.items()))
        login = result["login_post_ms"]
        print(
            f"POST /login alone (password check, session): p50 {login['p50_ms']} ms, "  # type: ignore[index]
            f"max {login['max_ms']} ms over {login['count']}"  # type: ignore[index]
        )
    else:
        print_rows(f"server side, {args.samples} samples each:", result["rows"], True)  # type: ignore[arg-type]
        for info in result["stream_phases"]:  # type: ignore[attr-defined]
            print_rows(
                f"with {info['wanted']} streams open ({info['label']}; "
                f"{info['still_open']} still open after the rounds):",
                info["rows"],
                True,
            )
            print(
                f"  heads {info['heads']} from {info['addresses']} addresses in "
                f"{info['open_seconds']} s; failures {info['failures'] or 'none'}; open "
                f"{info['open_before_rounds']} before the rounds, {info['still_open']} after, "
                f"{info['closed_by_server']} closed by the server; "
                f"{info['events_during_rounds']} events received during the rounds"
            )
            grown = (info["rss_open_kib"] - info["rss_before_kib"]) / max(1, info["wanted"])
            print(
                f"  server RSS {info['rss_before_kib'] / 1024:.1f} MiB before opening them, "
                f"{info['rss_open_kib'] / 1024:.1f} MiB with them open (+{grown:.1f} KiB "
                f"each), {info['rss_after_rounds_kib'] / 1024:.1f} MiB after the rounds"
            )
        rss = result["rss_kib"]
        print(
            f"server RSS: {rss['start'] / 1024:.1f} MiB at start, "  # type: ignore[index]
            f"{rss['end'] / 1024:.1f} MiB at the end"  # type: ignore[index]
        )
    if result["server_log_errors"] or result["server_exit"]:
        print(f"server exit status {result['server_exit']}; errors in its log:")
        for kind, count in result["server_log_errors"].items():  # type: ignore[attr-defined]
            print(f"  {count} x {kind}")
    print(json.dumps({"bench": "webmail", "backend": backend, "cpus": os.cpu_count()} | result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
