"""The portal's event and task forms on iCalendar text: what a form writes reads back the
same; one occurrence edited or taken out, a series split; the kept occurrences answer as
a fresh expansion does for any range; bad, truncated and huge input is a FormError."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from groupware.mime import icalform
from groupware.mime.icalform import EventFields, FormError, Repeat, TaskFields

BERLIN = ZoneInfo("Europe/Berlin")
ALICE = "alice@example.test"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)


def titles(text: str, first: int = 1, last: int = 31) -> list[tuple[str, datetime | date]]:
    found = icalform.occurrences(text, at(first, 0), at(last, 23))
    return [(o.title, o.start) for o in found]


def test_an_event_reads_back_as_written() -> None:
    fields = EventFields(
        "Standup",
        at(7, 9),
        at(7, 9, 15),
        location="Room 1",
        description="Daily; short, please",
        reminder=10,
        repeat=Repeat("WEEKLY", weekdays=("MO", "WE"), until=date(2026, 12, 31)),
        attendees=("bob@example.test",),
        zone="Europe/Berlin",
    )
    text = icalform.new_event(fields, ALICE)
    assert icalform.event_fields(text) == fields
    assert "ORGANIZER:mailto:alice@example.test" in text and "BEGIN:VTIMEZONE" in text
    assert [d for _, d in titles(text)] == [at(d, 9) for d in (7, 9, 14, 16, 21, 23, 28, 30)]
    assert icalform.answers(text) == {ALICE: "ACCEPTED", "bob@example.test": "NEEDS-ACTION"}


def test_one_occurrence_this_and_following_and_all() -> None:
    text = icalform.new_event(
        EventFields("Sync", at(7, 9), at(7, 10), repeat=Repeat("WEEKLY"), zone="Europe/Berlin"),
        ALICE,
    )
    second = icalform.occurrence_key(at(14, 9))
    moved = icalform.event_fields(text, second)
    edited, split = icalform.edit_event(
        text, EventFields("Sync (moved)", at(14, 11), at(14, 12)), ALICE, "this", second
    )
    assert split is None
    assert titles(edited)[:3] == [
        ("Sync", at(7, 9)),
        ("Sync (moved)", at(14, 11)),
        ("Sync", at(21, 9)),
    ]
    assert moved.start == at(14, 9)
    gone = icalform.without_occurrence(edited, icalform.occurrence_key(at(21, 9)))
    assert [t for t, _ in titles(gone)] == ["Sync", "Sync (moved)", "Sync"]  # 7, 14, 28
    ended, following = icalform.edit_event(
        gone,
        EventFields("Sync 2", at(28, 9), at(28, 10), repeat=Repeat("WEEKLY")),
        ALICE,
        "following",
        icalform.occurrence_key(at(28, 9)),
    )
    assert following is not None
    assert [t for t, _ in titles(ended)] == ["Sync", "Sync (moved)"]
    assert titles(following)[0] == ("Sync 2", at(28, 9))
    everything, _ = icalform.edit_event(
        text,
        EventFields("Later", at(14, 10), at(14, 11), repeat=Repeat("WEEKLY")),
        ALICE,
        "all",
        second,
    )
    assert titles(everything)[:2] == [("Later", at(7, 10)), ("Later", at(14, 10))]
    assert icalform.is_first(text, icalform.occurrence_key(at(7, 9)))


def test_moving_an_invitation_asks_the_attendees_again() -> None:
    fields = EventFields("Review", at(8, 9), at(8, 10), attendees=("bob@example.test",))
    text = icalform.with_answer(icalform.new_event(fields, ALICE), "bob@example.test", "ACCEPTED")
    retitled, _ = icalform.edit_event(
        text, EventFields("Review 2", at(8, 9), at(8, 10), attendees=("bob@example.test",)), ALICE
    )
    assert icalform.answers(retitled)["bob@example.test"] == "ACCEPTED"
    moved, _ = icalform.edit_event(
        text, EventFields("Review", at(8, 11), at(8, 12), attendees=("bob@example.test",)), ALICE
    )
    assert icalform.answers(moved)["bob@example.test"] == "NEEDS-ACTION"
    assert "SEQUENCE:1" in moved
    with pytest.raises(FormError):
        icalform.with_answer(text, "mallory@example.test", "ACCEPTED")


def test_all_day_events_and_tasks() -> None:
    holiday = icalform.new_event(
        EventFields("Holiday", date(2026, 12, 24), date(2026, 12, 26), all_day=True), ALICE
    )
    assert "DTEND;VALUE=DATE:20261227" in holiday
    assert icalform.event_fields(holiday).end == date(2026, 12, 26)
    task = icalform.new_task(TaskFields("Report", date(2026, 12, 8), "high", "two pages"))
    done = icalform.task_done(task, True)
    assert icalform.task_of(done).done and "COMPLETED:" in done and "PERCENT-COMPLETE:100" in done
    undone = icalform.task_done(done, False)
    assert icalform.task_of(undone).status == "NEEDS-ACTION" and "\nCOMPLETED:" not in undone


@pytest.mark.parametrize(
    "fields",
    [
        EventFields("", at(7, 9), at(7, 10)),
        EventFields("x", at(7, 10), at(7, 9)),
        EventFields("x", date(2026, 12, 7), at(7, 9)),
        EventFields("x" * 10_001, at(7, 9), at(7, 10)),
        EventFields("x", at(7, 9), at(7, 10), repeat=Repeat("HOURLY")),
        EventFields("x", at(7, 9), at(7, 10), repeat=Repeat("DAILY", count=1_000_000)),
        EventFields("x", at(7, 9), at(7, 10), repeat=Repeat("DAILY", until=date(2020, 1, 1))),
        EventFields("x", at(7, 9), at(7, 10), attendees=("not an address",)),
        EventFields("x", at(7, 9), at(7, 10), attendees=("a@b\r\nATTENDEE:mailto:c@d",)),
        EventFields("x", at(7, 9), at(7, 10), reminder=10**9),
    ],
)
def test_what_a_form_cannot_write_is_refused(fields: EventFields) -> None:
    with pytest.raises(FormError):
        icalform.new_event(fields, ALICE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "BEGIN:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\n" + "X-JUNK:" + "y" * 1_000_000 + "\r\nEND:VCALENDAR\r\n",
    ],
)
def test_malformed_objects_are_form_errors_not_crashes(text: str) -> None:
    with pytest.raises(FormError):
        icalform.event_fields(text)
    with contextlib.suppress(FormError):  # it needs no times: it may read
        assert isinstance(icalform.answers(text), dict)
    with pytest.raises(FormError):
        icalform.edit_event(text, EventFields("x", at(7, 9), at(7, 10)), ALICE)
    if "VTODO" not in text and "VEVENT" not in text:
        with pytest.raises(FormError):
            icalform.split_calendar(text)


def test_a_calendar_file_splits_by_uid_and_joins_again() -> None:
    one = icalform.new_event(EventFields("A", at(7, 9), at(7, 10), zone="Europe/Berlin"), ALICE)
    two = icalform.new_event(EventFields("B", at(8, 9), at(8, 10), zone="Europe/Berlin"), ALICE)
    joined = icalform.join_calendar([one, two], "Mine")
    assert joined.count("BEGIN:VTIMEZONE") == 1 and "X-WR-CALNAME:Mine" in joined
    parts = icalform.split_calendar(joined)
    assert [titles(t)[0][0] for _, t in parts] == ["A", "B"]
    assert all("BEGIN:VTIMEZONE" in t for _, t in parts)


def test_kept_occurrences_answer_as_a_fresh_expansion_does() -> None:
    """Random ranges over timed, floating, all-day and recurring objects (with an
    override and an exception): the kept path and the expansion agree."""
    texts = [
        icalform.new_event(
            EventFields("T", at(7, 9), at(7, 10), repeat=Repeat("DAILY", count=40)), ALICE
        ),
        icalform.new_event(
            EventFields(
                "D", date(2026, 12, 24), date(2026, 12, 25), all_day=True, repeat=Repeat("WEEKLY")
            ),
            ALICE,
        ),
        icalform.new_event(EventFields("S", at(9, 23, 30), at(10, 0, 30)), ALICE),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261210T090000\r\nDTEND:20261210T100000\r\nRRULE:FREQ=WEEKLY\r\n"
        "EXDATE:20261217T090000\r\nSUMMARY:Floating\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:f\r\n"
        "DTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20261224T090000\r\n"
        "DTSTART:20261224T130000\r\nDTEND:20261224T140000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n",
    ]
    rng = random.Random(6)
    for _ in range(300):
        zone = ZoneInfo(rng.choice(("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")))
        start = datetime(2026, 12, 1, tzinfo=zone) + timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        end = start + timedelta(minutes=rng.choice((15, 60, 24 * 60, 7 * 24 * 60, 31 * 24 * 60)))
        for text in texts:
            kept = [(o.title, o.start) for o in icalform.occurrences(text, start, end)]
            fresh = [(o.title, o.start) for o in icalform._expand(text, start, end)]
            assert kept == fresh, (text[:60], start, end)
    assert datetime.now(UTC)  # the kept span is around today: these dates are within it
