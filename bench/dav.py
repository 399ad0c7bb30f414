"""CalDAV benchmark: stock Radicale 3.9 beside `groupware serve`, on 1,000 and 10,000 events.

Both servers are measured in the same run: Radicale with its multifilesystem storage, ours
on SQLite in its data directory, each on a calendar of every --sizes number of events.

For each size each server gets a fresh temporary directory and the same events, generated
(seeded): a VCALENDAR with PRODID and one VEVENT (UID, DTSTAMP, DTSTART/DTEND, SUMMARY,
often DESCRIPTION and LOCATION, some with attendees), starting within a year either side of
2026-01-01; about 10 % all-day, 60 % in Europe/Berlin (with its VTIMEZONE), the rest in
UTC; about 5 % weekly (RRULE FREQ=WEEKLY;COUNT=10) and 8 % with a VALARM. March 2026
holds about 1/24th of them (the header says how many by the generator's reckoning).

Stock: `python -m radicale --config <file>` (htpasswd users in plain text, rights
owner_only, its built-in server; it also reads /etc/radicale/config and
~/.config/radicale/config when they exist). Its calendar is written straight into the
multifilesystem layout (collection-root/bench/calendar/<uid>.ics and .Radicale.props)
before it starts, since filling 10,000 by PUT would take about an hour; a PROPFIND then
checks that it lists them all (that first one also builds Radicale's item cache: its
time is printed as "cold"). Ours: ServerProcess (harness/serverprocess.py) as bench/imap.py
uses it, with only an HTTP listener, filled by PUT from 8 threads once it runs (the rate
is printed). Its calendar is /dav/bench@example.test/calendar/, made by the first
authenticated request (a PROPFIND on the principal). Until /dav answers, ours is reported
as unavailable and the stock column is still measured.

One client with one connection (http.client, kept alive when the server allows it:
Radicale's built-in server speaks HTTP/1.0 and closes after each answer), Basic auth
(ours: an app password, as DAV clients use; --account-password for the account's own,
checked with argon2). Each op is repeated for --seconds and at least --min-ops times, in
this order (PUT last, so the calendar does not grow under the others):
  get           GET of one event (random)
  multiget50    calendar-multiget of 50 random hrefs (getetag, calendar-data)
  report-month  calendar-query, a VEVENT time-range of March 2026 (getetag, calendar-data)
  propfind1     PROPFIND Depth: 1 on the calendar (getetag, getcontenttype)
  sync-none     sync-collection with the current token, nothing changed
  sync-one      sync-collection with the previous token after one event was changed by a
                PUT (the PUT is not timed)
  put           PUT of a new event, If-None-Match: *
Latency is the client's, from sending the request to the answer's last byte; "ops/s" is
the count over the timed seconds (1000 / mean latency); "items" the mean number of
<response> elements in an answer. Ratios: ours/stock for ops/s, stock/ours for p50 and p99,
so above 1 means ours is faster. Our targets (at 10,000 events) are printed beside
them; nothing is asserted. After each size the servers' resident memory (VmRSS, peak
VmHWM) is printed. Prints tables and one JSON line; exits 0. CI never runs it.
Usage: python bench/dav.py [--sizes 1000,10000] [--seconds 5] [--min-ops 5]
       [--only stock|ours|both] [--account-password] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import importlib.metadata
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.serverprocess import ServerProcess, free_port  # noqa: E402

PASSWORD = "Bench-pass-1234"
USER = "bench@example.test"  # ours
STOCK_USER = "bench"  # Radicale's
SEED = 20260101
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
NEW_EVENTS = 1_000_000  # indexes of the events `put` makes (none of the calendar's)
FILL_THREADS = 8
RADICALE_VERSION = importlib.metadata.version("radicale")
OPS = ("get", "multiget50", "report-month", "propfind1", "sync-none", "sync-one", "put")
# Our targets at 10,000 events: (text, met?(ours row, stock row or None)).
TARGETS: dict[str, tuple[str, Callable[[dict, dict | None], bool | None]]] = {
    "put": ("ops/s >= 300", lambda o, s: o["ops_per_s"] >= 300),
    "report-month": ("p50 <= 50 ms", lambda o, s: o["p50_ms"] <= 50),
    "sync-none": ("p50 <= 10 ms", lambda o, s: o["p50_ms"] <= 10),
    "propfind1": ("p50 <= 500 ms", lambda o, s: o["p50_ms"] <= 500),
    "get": ("p50 <= stock", lambda o, s: o["p50_ms"] <= s["p50_ms"] if s else None),
}

# -- the events -----------------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> list[str]:
    """Pronounceable made-up words of two or three syllables."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    syllables = [c + v for c in consonants for v in vowels]
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))] = None
    return list(found)


_RNG = random.Random(SEED)
WORDS = _words(_RNG, 1500)
PEOPLE = [(f"{a.capitalize()} {b.capitalize()}", f"{a}.{b}@example.test") for a, b in
          zip(_RNG.sample(WORDS, 200), _RNG.sample(WORDS, 200), strict=True)]  # fmt: skip
KINDS = ("Meeting", "Call", "Review", "Planning", "Lunch", "Workshop", "Interview", "Standup",
         "1:1", "Training", "Dentist", "Offsite", "Demo", "Retro", "Dinner", "Flight")  # fmt: skip
BERLIN = ZoneInfo("Europe/Berlin")
VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def _escape(text: str) -> str:
    """An iCalendar TEXT value (RFC 5545 3.3.11)."""
    for old, new in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\n", "\\n")):
        text = text.replace(old, new)
    return text


def _fold(line: str) -> str:
    """Content lines of at most 75 octets (the text is ASCII)."""
    parts = [line[:75]]
    parts += [" " + line[i : i + 74] for i in range(75, len(line), 74)]
    return "\r\n".join(parts) + "\r\n"


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    uid: str
    data: bytes
    in_month: bool  # an occurrence overlaps MONTH (floating dates taken as UTC)


def make_event(index: int, revision: int = 0) -> Event:
    """Event `index`, the same on every run; a `revision` > 0 is a later edit of it."""
    rng = random.Random(SEED * 1_000_003 + index)
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    created = ANCHOR - timedelta(days=400) + timedelta(seconds=rng.randrange(400 * 86400))
    day = (ANCHOR + timedelta(days=rng.randrange(-365, 365))).date()
    all_day = rng.random() < 0.10
    weekly = rng.random() < 0.05
    berlin = rng.random() < 0.60
    lines = [f"UID:{uid}"]
    stamp = created + timedelta(minutes=revision)
    lines += [f"DTSTAMP:{_stamp(stamp)}", f"CREATED:{_stamp(created)}"]
    lines += [f"LAST-MODIFIED:{_stamp(stamp)}"]
    if revision:
        lines.append(f"SEQUENCE:{revision}")
    if all_day:
        days = rng.choice((1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 5))
        end_day = day + timedelta(days=days)
        lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{end_day:%Y%m%d}"]
        start = datetime.combine(day, datetime.min.time(), UTC)
        end = datetime.combine(end_day, datetime.min.time(), UTC)
    else:
        hour = rng.choice((8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 17, 18, 19))
        minute = rng.choice((0, 0, 0, 0, 15, 30, 30, 45))
        duration = timedelta(minutes=rng.choice((15, 30, 30, 45, 60, 60, 60, 90, 120, 180, 480)))
        local = datetime(day.year, day.month, day.day, hour, minute)
        if berlin:
            start = local.replace(tzinfo=BERLIN)
            end = start + duration
            lines += [
                f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
                f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}",
            ]
        else:
            start = local.replace(tzinfo=UTC)
            end = start + duration
            lines += [f"DTSTART:{_stamp(start)}", f"DTEND:{_stamp(end)}"]
    if weekly:
        lines.append("RRULE:FREQ=WEEKLY;COUNT=10")
    summary = f"{rng.choice(KINDS)} {' '.join(rng.sample(WORDS, rng.randint(1, 3)))}"
    if revision:
        summary += f" (edited, v{revision})"
    lines.append(f"SUMMARY:{_escape(summary.capitalize())}")
    if rng.random() < 0.5:
        place = rng.choice(
            (
                f"Room {rng.choice('ABCDEFGH')}{rng.randint(1, 4)}.{rng.randint(1, 20):02}",
                f"{rng.choice(WORDS).capitalize()}strasse {rng.randint(1, 120)}, Berlin",
                "Video call",
            )
        )
        lines.append(f"LOCATION:{_escape(place)}")
    if rng.random() < 0.4:
        sentences = [
            " ".join(rng.sample(WORDS, rng.randint(5, 12))).capitalize() + "."
            for _ in range(rng.randint(1, 6))
        ]
        lines.append(f"DESCRIPTION:{_escape(chr(10).join(sentences))}")
    if rng.random() < 0.15:
        organizer, *attendees = rng.sample(PEOPLE, rng.randint(2, 6))
        lines.append(f"ORGANIZER;CN={organizer[0]}:mailto:{organizer[1]}")
        for name, address in attendees:
            state = rng.choice(("ACCEPTED", "ACCEPTED", "TENTATIVE", "NEEDS-ACTION"))
            lines.append(
                f"ATTENDEE;CN={name};PARTSTAT={state};ROLE=REQ-PARTICIPANT;RSVP=TRUE"
                f":mailto:{address}"
            )
    lines += ["STATUS:CONFIRMED", f"TRANSP:{'TRANSPARENT' if all_day else 'OPAQUE'}"]
    if rng.random() < 0.08:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder"]
        lines += [f"TRIGGER:-PT{rng.choice((5, 10, 15, 30))}M", "END:VALARM"]
    text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//groupware//bench dav.py//EN\r\n"
    text += "CALSCALE:GREGORIAN\r\n" + (VTIMEZONE if berlin and not all_day else "")
    text += "BEGIN:VEVENT\r\n" + "".join(_fold(line) for line in lines)
    text += "END:VEVENT\r\nEND:VCALENDAR\r\n"
    in_month = any(
        start + timedelta(weeks=k) < MONTH[1] and end + timedelta(weeks=k) > MONTH[0]
        for k in range(10 if weekly else 1)
    )
    return Event(uid, text.encode(), in_month)


# -- a small DAV client ---------------------------------------------------------------------

MULTISTATUS_RESPONSE = re.compile(rb"<(?:[\w.-]+:)?response[\s>]")
SYNC_TOKEN = re.compile(rb"<(?:[\w.-]+:)?sync-token(?:\s[^>]*)?>\s*([^<\s]+)\s*<")
XML = '<?xml version="1.0" encoding="utf-8"?>\n'
NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
PROPFIND = XML + '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop>'
PROPFIND += "</D:propfind>"
PROPFIND_PRINCIPAL = XML + '<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
PROPFIND_PRINCIPAL += "<D:displayname/></D:prop></D:propfind>"
CALENDAR_DATA = "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
MONTH_QUERY = (
    f"{XML}<C:calendar-query {NS}>{CALENDAR_DATA}"
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    f'<C:time-range start="{_stamp(MONTH[0])}" end="{_stamp(MONTH[1])}"/>'
    "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
).encode()


def multiget(hrefs: list[str]) -> bytes:
    listed = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return f"{XML}<C:calendar-multiget {NS}>{CALENDAR_DATA}{listed}</C:calendar-multiget>".encode()


def sync_collection(token: str) -> bytes:
    held = f"<D:sync-token>{token}</D:sync-token>" if token else "<D:sync-token/>"
    return (
        f'{XML}<D:sync-collection xmlns:D="DAV:">{held}<D:sync-level>1</D:sync-level>'
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    ).encode()


def responses(data: bytes) -> int:
    return len(MULTISTATUS_RESPONSE.findall(data))


class Failed(Exception):
    """An answer that is not the one an op expects."""


class Client:
    """One HTTP connection with Basic auth; opened again when the server closed it."""

    def __init__(self, port: int, user: str, secret: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        credentials = base64.b64encode(f"{user}:{secret}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"}

    def close(self) -> None:
        self.connection.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, bytes, float]:
        """(status, body, milliseconds from sending to the last byte of the answer)."""
        sent = self.headers | {key.replace("_", "-"): value for key, value in headers.items()}
        if body is not None and "Content-Type" not in sent:
            sent["Content-Type"] = 'application/xml; charset="utf-8"'
        for attempt in (1, 2):
            began = time.perf_counter()
            try:
                self.connection.request(method, path, body, sent)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()  # a kept-alive connection the server had closed
                if attempt == 2:
                    raise
                continue
            return response.status, data, (time.perf_counter() - began) * 1000
        raise AssertionError("unreachable")

    def expect(
        self, wanted: tuple[int, ...], method: str, path: str, body: bytes | None = None, **h: str
    ) -> tuple[bytes, float]:
        status, data, ms = self.request(method, path, body, **h)
        if status not in wanted:
            raise Failed(f"{method} HTTP {status}")
        return data, ms

    def put(self, path: str, data: bytes, **headers: str) -> float:
        kind = "text/calendar; charset=utf-8"
        return self.expect((200, 201, 204), "PUT", path, data, Content_Type=kind, **headers)[1]


# -- the ops --------------------------------------------------------------------------------


class Calendar:
    """The ops on one server's calendar at `base` holding events 0..size-1. The random
    choices are seeded, so both servers get the same requests."""

    def __init__(self, client: Client, base: str, size: int, uids: list[str]) -> None:
        self.client, self.base, self.size, self.uids = client, base, size, uids
        self.rng = random.Random(SEED + size)
        self.revisions: dict[int, int] = {}
        self.next_new = NEW_EVENTS
        self.token = ""

    def href(self, index: int) -> str:
        return f"{self.base}{self.uids[index]}.ics"

    def _sync(self) -> tuple[int, float]:
        data, ms = self.client.expect(
            (207,), "REPORT", self.base, sync_collection(self.token), Depth="0"
        )
        found = SYNC_TOKEN.search(data)
        if found is None:
            raise Failed("REPORT without a sync-token")
        self.token = found.group(1).decode()
        return responses(data), ms

    def first_sync(self) -> tuple[int, float]:
        """The initial sync-collection (no token): every item, and a token to go on with."""
        self.token = ""
        return self._sync()

    def op(self, name: str) -> tuple[float, int | None]:
        """Run op `name` once: (milliseconds, <response> elements or None)."""
        rng, client = self.rng, self.client
        if name == "get":
            return client.expect((200,), "GET", self.href(rng.randrange(self.size)))[1], None
        if name == "multiget50":
            hrefs = [self.href(i) for i in rng.sample(range(self.size), min(50, self.size))]
            data, ms = client.expect((207,), "REPORT", self.base, multiget(hrefs), Depth="1")
            return ms, responses(data)
        if name == "report-month":
            data, ms = client.expect((207,), "REPORT", self.base, MONTH_QUERY, Depth="1")
            return ms, responses(data)
        if name == "propfind1":
            data, ms = client.expect((207,), "PROPFIND", self.base, PROPFIND.encode(), Depth="1")
            return ms, responses(data)
        if name == "sync-none":
            count, ms = self._sync()
            return ms, count
        if name == "sync-one":
            index = rng.randrange(self.size)
            revision = self.revisions[index] = self.revisions.get(index, 0) + 1
            client.put(self.href(index), make_event(index, revision).data)
            count, ms = self._sync()
            return ms, count
        if name == "put":
            event = make_event(self.next_new)
            self.next_new += 1
            return client.put(f"{self.base}{event.uid}.ics", event.data, If_None_Match="*"), None
        raise ValueError(name)


def measure(calendar: Calendar, name: str, seconds: float, min_ops: int) -> dict[str, object]:
    """Repeat op `name` for `seconds` and at least `min_ops` times (five failures in a row
    end it)."""
    latencies: list[float] = []
    items: list[int] = []
    errors: dict[str, int] = {}
    in_row = 0
    started = time.monotonic()
    while (time.monotonic() - started < seconds or len(latencies) < min_ops) and in_row < 5:
        try:
            ms, count = calendar.op(name)
        except (Failed, OSError, http.client.HTTPException) as error:
            kind = f"{type(error).__name__}: {error}"[:80]
            errors[kind] = errors.get(kind, 0) + 1
            in_row += 1
            continue
        in_row = 0
        latencies.append(ms)
        if count is not None:
            items.append(count)
    latencies.sort()
    timed = sum(latencies) / 1000
    return {
        "count": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "ops_per_s": round(len(latencies) / timed, 1) if timed else None,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2) if latencies else None,
        "items": round(statistics.mean(items), 1) if items else None,
    }


def measure_all(calendar: Calendar, label: str, args: argparse.Namespace) -> dict[str, dict]:
    rows = {}
    for name in OPS:
        rows[name] = measure(calendar, name, args.seconds, args.min_ops)
        print(f"{label} {calendar.size}: {name} {json.dumps(rows[name])}", file=sys.stderr)
    return rows


def check_listing(calendar: Calendar, label: str) -> dict[str, object]:
    """PROPFIND Depth 1 (all items must be there) and the first sync-collection, timed."""
    data, ms = calendar.client.expect(
        (207,), "PROPFIND", calendar.base, PROPFIND.encode(), Depth="1"
    )
    listed = responses(data) - 1  # the collection's own <response>
    if listed != calendar.size:
        print(f"{label}: WARNING: lists {listed} items, not {calendar.size}", file=sys.stderr)
    try:
        synced, sync_ms = calendar.first_sync()
    except Failed as error:  # the sync ops will show the errors
        print(f"{label}: the first sync-collection failed: {error}", file=sys.stderr)
        synced, sync_ms = None, None
    return {
        "listed": listed,
        "first_propfind_s": round(ms / 1000, 2),
        "first_sync_items": synced,
        "first_sync_s": None if sync_ms is None else round(sync_ms / 1000, 2),
    }


# -- the servers ----------------------------------------------------------------------------


class Unavailable(Exception):
    """The server cannot be measured (ours before its DAV exists)."""


def rss_kib(pid: int, field: str = "VmRSS") -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"not listening on {port} after 60 s")


class Radicale:
    """Stock Radicale in a child process, its storage under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log_path = folder / "radicale.log"
        self.collections = folder / "collections"
        self.calendar = self.collections / "collection-root" / STOCK_USER / "calendar"
        users = folder / "users"
        users.write_text(f"{STOCK_USER}:{PASSWORD}\n")
        self.config_path = folder / "radicale.conf"
        self.config_path.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\ntype = multifilesystem\nfilesystem_folder = {self.collections}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def write(self, events: list[Event]) -> None:
        """The calendar in the multifilesystem layout, as Radicale would have stored it."""
        self.calendar.mkdir(parents=True)  # and the principal's collection above it
        props = {"tag": "VCALENDAR", "D:displayname": "bench"}
        (self.calendar / ".Radicale.props").write_text(json.dumps(props, sort_keys=True))
        for event in events:
            (self.calendar / f"{event.uid}.ics").write_bytes(event.data)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "RADICALE_CONFIG"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(self.config_path)],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_listening(self.port, self.process, self.log_path)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        return self.process.returncode

    def __enter__(self) -> Radicale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DAVServer(ServerProcess):
    """ServerProcess with an HTTP listener in place of the MX one (ready when it answers)."""

    def __init__(self, folder: Path) -> None:
        url = f"sqlite:///{folder / 'var' / 'groupware.db'}"
        super().__init__(folder, url, "127.0.0.1:9", log_level="warning")
        self.http_port = free_port()
        text = self.config_path.read_text()
        mx = f'smtp = "127.0.0.1:{self.smtp_port}"\n'
        self.config_path.write_text(text.replace(mx, f'http = "127.0.0.1:{self.http_port}"\n', 1))

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=2) as sock:
                sock.settimeout(2)
                sock.sendall(b"HEAD / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return sock.recv(5) == b"HTTP/"
        except OSError:
            return False


def memory(pid: int) -> dict[str, int | None]:
    return {"rss_kib": rss_kib(pid), "peak_kib": rss_kib(pid, "VmHWM")}


def run_stock(folder: Path, events: list[Event], args: argparse.Namespace) -> dict[str, object]:
    size = len(events)
    with Radicale(folder) as radicale:
        started = time.monotonic()
        radicale.write(events)
        written = time.monotonic() - started
        radicale.start()
        assert radicale.process is not None
        print(f"stock {size}: pid {radicale.process.pid}, data in {folder}", file=sys.stderr)
        client = Client(radicale.port, STOCK_USER, PASSWORD)
        base = f"/{STOCK_USER}/calendar/"
        calendar = Calendar(client, base, size, [event.uid for event in events])
        listing = check_listing(calendar, "stock")
        print(
            f"stock {size}: wrote {size} files in {written:.1f} s; Radicale lists "
            f"{listing['listed']} (cold PROPFIND {listing['first_propfind_s']} s), first "
            f"sync-collection {listing['first_sync_items']} items in {listing['first_sync_s']} s",
            file=sys.stderr,
        )
        rows = measure_all(calendar, "stock", args)
        client.close()
        used = memory(radicale.process.pid)
        status = radicale.stop()
    log = radicale.log_path.read_text(errors="replace")
    if status not in (0, -signal.SIGTERM) or "Traceback" in log:
        print(f"stock: Radicale exited {status}; log tail:\n{log[-2000:]}", file=sys.stderr)
    return {"fill": "files", "fill_seconds": round(written, 2), **listing, "rows": rows, **used}


def fill_ours(port: int, secret: str, base: str, events: list[Event]) -> tuple[float, int]:
    """PUT every event from FILL_THREADS connections: (seconds, refused); Unavailable when
    none was taken."""
    todo = iter(events)
    lock = threading.Lock()
    refused: dict[str, int] = {}
    stop = threading.Event()

    def work() -> None:
        client = Client(port, USER, secret)
        try:
            while not stop.is_set():
                with lock:
                    event = next(todo, None)
                if event is None:
                    return
                try:
                    client.put(f"{base}{event.uid}.ics", event.data, If_None_Match="*")
                except (Failed, OSError, http.client.HTTPException) as error:
                    with lock:
                        refused[str(error)] = refused.get(str(error), 0) + 1
        finally:
            client.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(FILL_THREADS)]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
    seconds = time.monotonic() - started
    count = sum(refused.values())
    if count == len(events):
        raise Unavailable(f"every PUT refused ({', '.join(refused)})")
    if count:
        print(f"ours: {count} PUTs refused: {refused}", file=sys.stderr)
    return seconds, count


def run_ours(folder: Path, events: list[Event], args: argparse.Namespace) -> dict[str, object]:
    size = len(events)
    with DAVServer(folder) as server:
        server.initialise(PASSWORD, [USER], PASSWORD)
        secret = PASSWORD
        if not args.account_password:
            built = server.runtime()
            try:
                from groupware.services.core.access import SYSTEM

                secret = built.services.credentials.add_app_password(SYSTEM, USER, "bench")[1]
            finally:
                built.close()
        try:
            server.start()
        except RuntimeError as error:
            print(f"ours: {error}", file=sys.stderr)
            raise Unavailable(f"the server did not start: {str(error).splitlines()[0]}") from None
        print(f"ours {size}: pid {server.pid}, data in {folder}", file=sys.stderr)
        client = Client(server.http_port, USER, secret)
        base = f"/dav/{USER}/calendar/"
        try:
            status, _, _ = client.request(
                "PROPFIND", f"/dav/{USER}/", PROPFIND_PRINCIPAL.encode(), Depth="0"
            )
            if status != 207:
                raise Unavailable(f"/dav not available (HTTP {status})")
            status, _, _ = client.request("PROPFIND", base, PROPFIND.encode(), Depth="0")
            if status != 207:
                raise Unavailable(f"no calendar at {base} (HTTP {status})")
            seconds, refused = fill_ours(server.http_port, secret, base, events)
            print(
                f"ours {size}: PUT {size - refused} events in {seconds:.1f} s "
                f"({(size - refused) / seconds:.0f}/s, {FILL_THREADS} threads)",
                file=sys.stderr,
            )
            calendar = Calendar(client, base, size, [event.uid for event in events])
            try:
                listing = check_listing(calendar, "ours")
            except Failed as error:
                raise Unavailable(f"PROPFIND Depth 1 on {base}: {error}") from None
            print(
                f"ours {size}: lists {listing['listed']} (first PROPFIND "
                f"{listing['first_propfind_s']} s), first sync-collection "
                f"{listing['first_sync_items']} items in {listing['first_sync_s']} s",
                file=sys.stderr,
            )
            rows = measure_all(calendar, "ours", args)
        finally:
            client.close()
        used = memory(server.pid)
        status = server.stop()
        log = server.log(2000)
        if status != 0 or "Traceback" in log or "ERROR" in log:
            print(f"ours: server exited {status}; log tail:\n{log}", file=sys.stderr)
    return {
        "fill": "put",
        "fill_seconds": round(seconds, 2),
        "fill_per_s": round((size - refused) / seconds, 1),
        "fill_refused": refused,
        **listing,
        "rows": rows,
        **used,
    }


# -- output ---------------------------------------------------------------------------------


def _cell(value: object, width: int) -> str:
    return f"{'-' if value is None else value:>{width}}"


def _ratio(top: object, bottom: object) -> str:
    if not isinstance(top, int | float) or not isinstance(bottom, int | float) or not bottom:
        return "-"
    return f"{top / bottom:.2f}"


def _server_cells(row: dict | None) -> str:
    if row is None:
        return " " * 46
    return (
        f"{row['count']:>7}{row['errors']:>5}{_cell(row['ops_per_s'], 9)}"
        f"{_cell(row['p50_ms'], 9)}{_cell(row['p99_ms'], 9)}{_cell(row['items'], 7)}"
    )


def print_table(
    size: int, in_month: int, results: dict[str, dict], args: argparse.Namespace
) -> None:
    stock_rows = results.get("stock", {}).get("rows")
    ours_rows = results.get("ours", {}).get("rows")
    print(
        f"\nCalDAV, a calendar of {size:,} events ({in_month} in March 2026 by the generator), "
        f"{os.cpu_count()} CPUs, one connection, each op >= {args.seconds} s and >= "
        f"{args.min_ops} times"
    )
    server = f"{'count':>7}{'err':>5}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'items':>7}"
    print(
        f"{'':<13}{'stock Radicale ' + RADICALE_VERSION:<46} | {'ours':<46} | "
        f"{'ours vs stock, >1: ours faster':<32}|"
    )
    print(
        f"{'op':<13}{server} | {server} | {'ops/s':>10}{'p50':>10}{'p99':>10}  | target (at 10,000)"
    )
    for name in OPS:
        stock = stock_rows[name] if stock_rows else None
        ours = ours_rows[name] if ours_rows else None
        text = f"{name:<13}{_server_cells(stock)} | {_server_cells(ours)} | "
        if stock and ours:
            text += f"{_ratio(ours['ops_per_s'], stock['ops_per_s']):>10}"
            text += f"{_ratio(stock['p50_ms'], ours['p50_ms']):>10}"
            text += f"{_ratio(stock['p99_ms'], ours['p99_ms']):>10}  |"
        else:
            text += " " * 30 + "  |"
        if name in TARGETS:
            goal, check = TARGETS[name]
            met = check(ours, stock) if ours and ours["count"] else None
            text += f" {goal}" + ("" if met is None else " (met)" if met else " (not met)")
        print(text.rstrip())
    for label in ("stock", "ours"):
        result = results.get(label)
        if result is None:
            continue
        if "unavailable" in result:
            print(f"{label}: {result['unavailable']}")
            continue
        fill = (
            f"{result['fill_per_s']} PUT/s with {FILL_THREADS} threads"
            if result["fill"] == "put"
            else f"files written in {result['fill_seconds']} s"
        )
        rss, peak = result["rss_kib"], result["peak_kib"]
        synced = result["first_sync_s"]
        print(
            f"{label}: {fill}; lists {result['listed']}, first PROPFIND "
            f"{result['first_propfind_s']} s, first sync-collection "
            f"{'failed' if synced is None else f'{synced} s'}; "
            f"RSS after the run {rss / 1024 if rss else 0:.1f} MiB, peak "
            f"{peak / 1024 if peak else 0:.1f} MiB"
        )
        for name, row in result["rows"].items():
            if row["error_kinds"]:
                print(f"{label}: {name} errors: {row['error_kinds']}")


# -- main -----------------------------------------------------------------------------------


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=numbers, default=[1000, 10_000], help="events")
    parser.add_argument("--seconds", type=float, default=5.0, help="per op, at least")
    parser.add_argument("--min-ops", type=int, default=5, help="per op, at least")
    parser.add_argument("--only", choices=("stock", "ours", "both"), default="both")
    parser.add_argument("--account-password", action="store_true", help="ours: not an app password")
    parser.add_argument("--keep", action="store_true", help="leave the temporary directories")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started ignoring it
    signal.signal(signal.SIGTERM, _interrupted)
    labels = ["stock", "ours"] if args.only == "both" else [args.only]
    runners = {"stock": run_stock, "ours": run_ours}
    report: dict[str, dict] = {}
    unavailable = ""
    try:
        for size in args.sizes:
            events = [make_event(index) for index in range(size)]
            in_month = sum(event.in_month for event in events)
            results: dict[str, dict] = {}
            for label in labels:
                if label == "ours" and unavailable:
                    results[label] = {"unavailable": f"{unavailable} (at the first size)"}
                    continue
                folder = Path(tempfile.mkdtemp(prefix=f"bench-dav-{label}-{size}-"))
                try:
                    results[label] = runners[label](folder, events, args)
                except Unavailable as error:
                    unavailable = str(error)
                    print(f"{label}: {error}", file=sys.stderr)
                    results[label] = {"unavailable": unavailable}
                finally:
                    if args.keep:
                        print(f"{label} {size}: kept {folder}", file=sys.stderr)
                    else:
                        shutil.rmtree(folder, ignore_errors=True)
            print_table(size, in_month, results, args)
            sys.stdout.flush()
            report[str(size)] = {"in_month": in_month, **results}
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(
        json.dumps(
            {
                "bench": "dav",
                "cpus": os.cpu_count(),
                "radicale": RADICALE_VERSION,
                "seconds": args.seconds,
                "min_ops": args.min_ops,
                "sizes": report,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
