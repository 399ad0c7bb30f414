"""Calendar, contacts and free/busy in the portal (`python bench/web.py --calendar`).

Starts `groupware serve` (bench/webmail.py's WebServer: SQLite on a temporary data
directory, or --database-url) and seeds, before it starts, through the services (the rows
CalDAV writes): for bench@example.test a calendar of --events events of which --series are
recurring series (weekly on one or two weekdays, daily for a few weeks, monthly; some with
COUNT or UNTIL, most open-ended, all begun in the past), the single ones spread over the
year around today (so a month holds about 1/12 of them, in one-hour to all-day slots), and
a Contacts book of --cards vCards (names from 400 given and 600 family names, one to two
addresses, a phone, an organisation); and for --people colleagues, EVENTS_EACH events each
(a tenth of them weekly series) for free/busy.

Then, one client on a kept-alive connection logged in as bench@ (after --warmup untimed
rounds), --samples times each, server time measured from request to last byte:
  month      GET /calendar?view=month&date=<a random day within three months of today>
  week       GET /calendar?view=week&date=<the same>
  save       POST /calendar/event: a new one-hour event (timed up to its redirect; the
             form's CSRF token is fetched untimed before)
  keystroke  GET /contacts?part=list&q=<1 to 4 first letters of a random name> (what
             search-as-you-type asks for each key)
  freebusy   POST /dav/bench@example.test/outbox/ a VFREEBUSY REQUEST for the --people
             colleagues over one week (RFC 6638, as Thunderbird's scheduler asks)
  assistant  GET /calendar/freebusy?who=<the colleagues>&date=… (one day, the portal's
             scheduling assistant)
Targets (issue 14): month p95 <= 100 ms, week <= 50, save <= 50, keystroke <= 50,
free/busy of 10 people for a week <= 100 ms. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.webmail import TOKEN, Web, WebServer, summary

PASSWORD = "Bench-pass-1234"
USER = "bench@example.test"
EVENTS_EACH = 300
GIVEN = [
    f"{a}{b}"
    for a in ("An", "Be", "Ca", "Da", "El", "Fi", "Go", "Ha", "Is", "Jo")
    for b in (
        "na",
        "rt",
        "lo",
        "mi",
        "sa",
        "ne",
        "ka",
        "ri",
        "do",
        "ly",
        "ra",
        "mo",
        "li",
        "ta",
        "ce",
        "ny",
        "ve",
        "an",
        "el",
        "is",
        "on",
        "ia",
        "us",
        "ei",
        "ou",
        "ar",
        "er",
        "ir",
        "or",
        "ur",
        "as",
        "es",
        "os",
        "ys",
        "ad",
        "ed",
        "id",
        "od",
        "ud",
        "yd",
    )
]
FAMILY = [
    f"{a}{b}{c}"
    for a in (
        "Mil",
        "Sch",
        "Ber",
        "Kov",
        "Nak",
        "Ros",
        "Dub",
        "Fer",
        "Hal",
        "Lin",
        "Mor",
        "Pet",
        "Wal",
        "Zim",
        "Och",
    )
    for b in ("ler", "man", "son", "ski", "ova", "ini", "ard", "ens")
    for c in ("", "e", "i", "o", "a")
]


def event_text(uid: str, start: datetime, minutes: int, summary_text: str, rule: str = "") -> str:
    end = start + timedelta(minutes=minutes)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{summary_text}\r\nLOCATION:Room {uid[-2:]}\r\n{rule}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def all_day_text(uid: str, day: date, summary_text: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:{day:%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}\r\nSUMMARY:{summary_text}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def calendar_texts(rng: random.Random, count: int, series: int, today: date) -> list[str]:
    texts = []
    for n in range(series):
        began = datetime.combine(
            today - timedelta(days=rng.randint(30, 700)), datetime.min.time(), UTC
        )
        start = began.replace(hour=rng.randint(7, 17), minute=rng.choice((0, 30)))
        kind = n % 10
        if kind < 5:
            days = rng.choice(("MO", "TU", "WE", "TH", "FR", "MO,TH", "TU,FR"))
            rule = f"RRULE:FREQ=WEEKLY;BYDAY={days}\r\n"
        elif kind < 7:
            rule = f"RRULE:FREQ=DAILY;COUNT={rng.randint(5, 30)}\r\n"
            start = datetime.combine(
                today + timedelta(days=rng.randint(-60, 60)), start.time(), UTC
            )
        elif kind < 9:
            rule = "RRULE:FREQ=MONTHLY\r\n"
        else:
            until = today + timedelta(days=rng.randint(-30, 300))
            rule = f"RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL={until:%Y%m%d}T235959Z\r\n"
        texts.append(
            event_text(f"series-{n}", start, rng.choice((30, 60, 90)), f"Series {n}", rule)
        )
    for n in range(count - series):
        day = today + timedelta(days=rng.randint(-182, 182))
        if n % 15 == 0:
            texts.append(all_day_text(f"day-{n}", day, f"Day off {n}"))
            continue
        start = datetime.combine(day, datetime.min.time(), UTC).replace(hour=rng.randint(6, 19))
        texts.append(
            event_text(f"single-{n}", start, rng.choice((30, 60, 60, 120)), f"Meeting {n}")
        )
    return texts


def card_text(rng: random.Random, n: int) -> str:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    emails = [f"{given.lower()}.{family.lower()}{n}@example.org"]
    if n % 3 == 0:
        emails.append(f"{given.lower()}{n}@home.example")
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:card-{n}",
        f"FN:{given} {family}",
        f"N:{family};{given};;;",
        *(f"EMAIL;TYPE=INTERNET:{e}" for e in emails),
        f"TEL:+49 30 {rng.randint(1000000, 9999999)}",
        f"ORG:{rng.choice(FAMILY)} GmbH",
        "END:VCARD",
    ]
    return "\r\n".join(lines) + "\r\n"


def seed(server: WebServer, args: argparse.Namespace) -> tuple[float, list[str]]:
    from groupware.mime.icalitem import describe_text
    from groupware.services.calendar.rows import NewItem

    rng = random.Random(14)
    people = [f"colleague{n}@example.test" for n in range(args.people)]
    server.initialise(PASSWORD, [USER, *people], PASSWORD)
    started = time.monotonic()
    built = server.runtime()
    try:
        calendars = built.services.calendars
        today = date.today()

        def fill(path: str, texts: list[str], suffix: str) -> None:
            collection = calendars.collection(path)
            assert collection is not None, path
            items = [NewItem.of(f"{uuid.uuid4()}{suffix}", describe_text(path, t)) for t in texts]
            calendars.create_collection(path, dict(collection.props), items)

        for address in (USER, *people):
            calendars.ensure_home(address)
        fill(f"{USER}/calendar", calendar_texts(rng, args.events, args.series, today), ".ics")
        fill(f"{USER}/contacts", [card_text(rng, n) for n in range(args.cards)], ".vcf")
        for address in people:
            texts = calendar_texts(rng, EVENTS_EACH, EVENTS_EACH // 10, today)
            fill(f"{address}/calendar", texts, ".ics")
    finally:
        built.close()
    return time.monotonic() - started, people


def timed(
    web: Web,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    if body is not None:
        status, data = raw(web, method, path, body, headers or {})
    else:
        status, _, data = web.request(method, path, form)
    return (time.perf_counter() - started) * 1000, status, data


def raw(
    web: Web, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    import http.client

    if web.connection is None:
        web.connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=120)
    web.connection.request(method, path, body=body, headers=headers)
    response = web.connection.getresponse()
    data = response.read()
    if response.will_close:
        web.close()
    return response.status, data


def freebusy_body(people: list[str], start: datetime) -> bytes:
    attendees = "".join(f"ATTENDEE:mailto:{p}\r\n" for p in people)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nMETHOD:REQUEST\r\n"
        f"BEGIN:VFREEBUSY\r\nUID:{uuid.uuid4()}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(days=7):%Y%m%dT%H%M%SZ}\r\n"
        f"ORGANIZER:mailto:{USER}\r\n{attendees}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    ).encode()


def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-calendar-") as folder:
        server = WebServer(Path(folder), args.database_url or f"sqlite:///{folder}/g.db", 100)
        seconds, people = seed(server, args)
        print(
            f"seeded {args.events} events ({args.series} series), {args.cards} cards and "
            f"{len(people)} colleagues x {EVENTS_EACH} events in {seconds:.1f} s"
        )
        server.start_web()
        try:
            return measure(server, args, people)
        finally:
            server.stop()


def measure(server: WebServer, args: argparse.Namespace, people: list[str]) -> dict[str, object]:
    rng = random.Random(7)
    web = Web(server.http_port)
    web.log_in(USER)
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    dav = Web(server.http_port)
    today = date.today()
    times: dict[str, list[float]] = {
        k: [] for k in ("month", "week", "save", "keystroke", "freebusy", "assistant")
    }
    errors: dict[str, int] = {k: 0 for k in times}
    who = ",".join(people)
    names = [g.lower() for g in GIVEN] + [f.lower() for f in FAMILY]
    for round_number in range(args.warmup + args.samples):
        record = round_number >= args.warmup
        day = today + timedelta(days=rng.randint(-90, 90))
        results = {
            "month": timed(web, "GET", f"/calendar?view=month&date={day.isoformat()}"),
            "week": timed(web, "GET", f"/calendar?view=week&date={day.isoformat()}"),
        }
        form_status, _, page = web.request(
            "GET", f"/calendar/event?date={day.isoformat()}&time=10:00"
        )
        token = TOKEN.search(page.decode())
        assert form_status == 200 and token is not None
        form = {
            "csrf_token": token.group(1),
            "c": "",
            "h": "",
            "occurrence": "",
            "title": f"Bench {round_number}",
            "start": f"{day.isoformat()}T10:00",
            "end": f"{day.isoformat()}T11:00",
            "zone": "UTC",
            "calendar": f"{USER}/calendar",
            "repeat": "",
            "reminder": "",
            "attendees": "",
            "location": "",
            "description": "",
        }
        results["save"] = timed(web, "POST", "/calendar/event", form)
        name = rng.choice(names)
        for length in range(1, 5):
            spent = timed(web, "GET", f"/contacts?part=list&q={name[:length]}")
            if record:
                times["keystroke"].append(spent[0])
                errors["keystroke"] += spent[1] != 200
        week_start = datetime.combine(day, datetime.min.time(), UTC)
        results["freebusy"] = timed(
            dav,
            "POST",
            f"/dav/{USER}/outbox/",
            body=freebusy_body(people, week_start),
            headers={"Authorization": auth, "Content-Type": "text/calendar; charset=utf-8"},
        )
        results["assistant"] = timed(
            web, "GET", f"/calendar/freebusy?who={who}&date={day.isoformat()}&zone=UTC"
        )
        if not record:
            continue
        for name_of, (spent, status, _) in results.items():
            times[name_of].append(spent)
            wanted = 302 if name_of == "save" else 200
            errors[name_of] += status != wanted
    rows = {name: {**summary(values), "errors": errors[name]} for name, values in times.items()}
    targets = {
        "month": 100,
        "week": 50,
        "save": 50,
        "keystroke": 50,
        "freebusy": 100,
        "assistant": 100,
    }
    print(
        f"\n{'operation':<10} {'count':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'target':>7} errors"
    )
    for name, row in rows.items():
        print(
            f"{name:<10} {row['count']:>5} {row['p50_ms']:>8} {row['p95_ms']:>8} "
            f"{row['max_ms']:>8} {targets[name]:>7} {row['errors']}"
        )
    return {
        "events": args.events,
        "series": args.series,
        "cards": args.cards,
        "people": len(people),
        "rows": rows,
    }


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--database-url", default="")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    arguments(parser)
    print(json.dumps(run(parser.parse_args())))
