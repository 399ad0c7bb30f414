"""Recurrence benchmark: what the costliest recurrence rules cost the server, in-process.

For each rule that needs the most work per instance (never matching, or matching once in
many years, with the BY parts that make dateutil's walk costliest) and for the largest
sets the limit lets through, prints the milliseconds that
  check   the recurrence limit (mime/recurrence.py) takes to pass or refuse it, as every
          PUT, invitation and import does
  report  a time-range walk over it takes when it is stored anyway (before the limit):
          what each REPORT, free-busy or expansion over a calendar holding it pays
and a JSON line. Every figure is bounded by expansion.MAX_WORK per item, whatever the rule.
Usage: python bench/recurrence.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import vobject

from groupware.dav import patches
from groupware.mime import expansion, recurrence

SECONDS = ",".join(str(second) for second in range(60))
NEVER = "BYMONTH=2;BYMONTHDAY=30"
RULES = {
    "daily, 10,000 (largest passed)": "RRULE:FREQ=DAILY;COUNT=10000",
    "minutely, 10,000": "RRULE:FREQ=MINUTELY;COUNT=10000",
    "8 daily rules, 1,000 each": "RRULE:FREQ=DAILY;COUNT=1000\r\n" * 8,
    "daily, never": f"RRULE:FREQ=DAILY;{NEVER}",
    "yearly, never": f"RRULE:FREQ=YEARLY;{NEVER}",
    "yearly, never, BYWEEKNO": f"RRULE:FREQ=YEARLY;{NEVER};BYWEEKNO="
    + ",".join(map(str, range(1, 54))),
    "yearly, never, 366 BYSETPOS": f"RRULE:FREQ=YEARLY;{NEVER};BYSETPOS="
    + ",".join(map(str, range(1, 367))),
    "hourly, never, 1,200 times an hour": f"RRULE:FREQ=HOURLY;COUNT=9;{NEVER};"
    f"BYMINUTE={SECONDS};BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19",
    "secondly, never": f"RRULE:FREQ=SECONDLY;COUNT=9;{NEVER}",
    "8 yearly rules, never": f"RRULE:FREQ=YEARLY;COUNT=1;{NEVER};BYHOUR=1\r\n" * 8,
}


def item(lines: str) -> object:
    return vobject.readOne(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        "UID:bench\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\n"
        f"DURATION:PT1H\r\n{lines.strip()}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def timed(action: object, repeat: int) -> tuple[float, str]:
    """The best of `repeat` runs, in ms, and what the last one said."""
    best, said = float("inf"), ""
    for _ in range(repeat):
        began = time.perf_counter()
        try:
            said = str(action())  # type: ignore[operator]
        except recurrence.TooManyInstances as refused:
            said = "refused: " + str(refused).split(": ")[-1][:40]
        best = min(best, (time.perf_counter() - began) * 1000)
    return best, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    patches.install()
    start, end = datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC)
    figures = {}
    print(f"{'rule':38} {'check ms':>9} {'report ms':>10}  check says")
    for name, lines in RULES.items():
        calendar = item(lines)

        def check(calendar: object = calendar) -> str:
            recurrence.check(calendar)
            return "passed"

        def report(calendar: object = calendar) -> int:
            with expansion.expanding_from(start):
                return len(calendar.vevent.getrruleset(True).between(start, end))  # type: ignore[attr-defined]

        check_ms, said = timed(check, args.repeat)
        report_ms, _ = timed(report, args.repeat)
        figures[name] = {"check_ms": round(check_ms, 1), "report_ms": round(report_ms, 1)}
        print(f"{name:38} {check_ms:9.1f} {report_ms:10.1f}  {said}")
    print(json.dumps({"max_work": expansion.MAX_WORK, "rules": figures}))


if __name__ == "__main__":
    main()
