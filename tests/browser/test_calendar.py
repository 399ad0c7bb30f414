"""The portal's calendar in a real browser, against the same rows CalDAV clients use:
an event saved by CalDAV shows in the week view; a weekly series shows every week in the
month view; an event made in the browser is found over CalDAV (sync-collection reports
it); editing one occurrence leaves the others; a colleague's calendar shared for
free/busy shows busy blocks without titles; another user's event URL gives nothing.
Screenshots of each view at 1280 and 360 px, light and dark, go to the test's folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest
from playwright.sync_api import Page, expect

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from tests.browser.screens import WIDE, shoot
from tests.browser.test_webmail import log_in
from tests.conftest import ADMIN_PASSWORD, Served, serving, with_listeners
from tests.integration.test_cli import Groupware, write_config

NINA, NINA_PASSWORD = "nina@example.test", "Nina-pass-123456"
OTTO, OTTO_PASSWORD = "otto@example.test", "Otto-pass-123456"
ZONE = "Europe/Berlin"


@pytest.fixture
def portal(config: Config) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        for address, password in ((NINA, NINA_PASSWORD), (OTTO, OTTO_PASSWORD)):
            user = served.services.directory.add_user(SYSTEM, address, password)
            person = served.services.auth.principal(user.id)
            assert person is not None
            served.services.agenda.set_zone(person, ZONE)
        yield served


def dav_calendar(served: Served, user: str, password: str) -> caldav.Calendar:
    client = caldav.DAVClient(url=served.base_url + "/dav/", username=user, password=password)
    return client.principal().calendar(name="Calendar")


def ics(uid: str, summary: str, start: datetime, minutes: int = 60, extra: str = "") -> str:
    end = start + timedelta(minutes=minutes)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{end.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def this_week(hour: int, weekday: int = 2) -> datetime:
    today = datetime.now(ZoneInfo(ZONE)).date()
    monday = today - timedelta(days=today.weekday())
    day = monday + timedelta(days=weekday)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZoneInfo(ZONE))


def test_events_go_both_ways_between_the_calendar_page_and_caldav(
    portal: Served, new_page, shots: Path
) -> None:
    base = portal.base_url
    dav = dav_calendar(portal, NINA, NINA_PASSWORD)
    dav.save_event(ics("from-dav-1", "Budget review", this_week(10)))
    dav.save_event(
        ics("weekly-1", "Team sync", this_week(9, 0), 30, "RRULE:FREQ=WEEKLY;COUNT=20\r\n")
    )
    token = dav.objects(load_objects=False).sync_token  # what a client knew before

    page: Page = new_page(viewport=WIDE)
    log_in(page, base, NINA, NINA_PASSWORD)
    page.get_by_role("link", name="Calendar", exact=True).click()
    expect(page.get_by_role("link", name="Week", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name=re.compile("Budget review"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Team sync"))).to_be_visible()
    shoot(page, shots, "calendar-week")

    # The series is in every week of the month view.
    page.get_by_role("link", name="Month", exact=True).click()
    month = page.get_by_role("table")
    weeks_with_sync = sum(
        1
        for row in month.get_by_role("row").all()[1:]
        if row.get_by_role("link", name=re.compile("Team sync")).count()
    )
    first = date.today().replace(day=1)
    assert weeks_with_sync >= 4, weeks_with_sync
    shoot(page, shots, "calendar-month")
    page.get_by_role("link", name="Agenda", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Team sync")).first).to_be_visible()
    shoot(page, shots, "calendar-agenda")
    page.get_by_role("link", name="Day", exact=True).click()
    assert first  # the day view opens on today
    expect(page.get_by_role("heading", level=1)).to_contain_text(str(date.today().year))

    # An event made in the browser is found over CalDAV, and sync-collection reports it.
    page.get_by_role("link", name="Week", exact=True).click()
    page.get_by_role("link", name="New event").click()
    page.get_by_label("Title").fill("Lunch with Otto")
    start = this_week(12, 3)
    page.get_by_label("Start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("End", exact=True).fill(
        (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Location").fill("Canteen")
    page.get_by_label("Reminder").select_option("15")
    shoot(page, shots, "calendar-new-event")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name=re.compile("Lunch with Otto"))).to_be_visible()
    found = dav.search(
        event=True, start=start - timedelta(minutes=1), end=start + timedelta(hours=2)
    )
    lunch = [e for e in found if "Lunch with Otto" in e.data]
    assert len(lunch) == 1
    assert "LOCATION:Canteen" in lunch[0].data and "TRIGGER:-PT15M" in lunch[0].data
    changed = dav.objects_by_sync_token(sync_token=token, load_objects=True)
    assert any("Lunch with Otto" in (o.data or "") for o in changed)

    # One occurrence of the series edited: the others keep their title and time.
    page.get_by_role("link", name="Week", exact=True).click()
    page.get_by_role("link", name=re.compile("Team sync")).first.click()
    expect(page.get_by_label("Title")).to_have_value("Team sync")
    page.get_by_label("Title").fill("Team sync (moved)")
    page.get_by_role("group", name="Change").get_by_label("This event").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name=re.compile(r"Team sync \(moved\)"))).to_be_visible()
    later = this_week(9, 7)
    page.goto(f"{base}/calendar?view=week&date={later.date().isoformat()}")
    expect(page.get_by_role("link", name=re.compile("Team sync"))).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("moved"))).to_have_count(0)
    [series] = [e for e in dav.events() if "weekly-1" in e.data]
    assert series.data.count("BEGIN:VEVENT") == 2 and "RECURRENCE-ID" in series.data

    # Another user at the event's URL reaches nothing.
    page.get_by_role("link", name="Today").click()
    page.get_by_role("link", name=re.compile("Budget review")).click()
    other: Page = new_page(viewport=WIDE)
    log_in(other, base, OTTO, OTTO_PASSWORD)
    answer = other.goto(page.url)
    assert answer is not None and answer.status == 404

    # Deleting it in the browser removes it over CalDAV too.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Event deleted.")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Budget review"))).to_have_count(0)
    assert not [e for e in dav.events() if "from-dav-1" in e.data]


def test_a_free_busy_share_shows_busy_blocks_only(
    portal: Served, config: Config, tmp_path: Path, new_page, shots: Path
) -> None:
    """Otto shares his calendar with Nina for free/busy (by the CLI, as an admin would)."""
    dav = dav_calendar(portal, OTTO, OTTO_PASSWORD)
    dav.save_event(ics("secret-1", "Salary talks", this_week(14)))
    cli = Groupware(write_config(tmp_path, config.database_url))
    shared = cli.run("share", "add", f"{OTTO}/calendar", NINA, "--access", "freebusy")
    assert shared.code == 0, shared.err

    page: Page = new_page(viewport=WIDE)
    log_in(page, portal.base_url, NINA, NINA_PASSWORD)
    page.goto(portal.base_url + "/calendar")
    expect(page.get_by_text("Busy", exact=True).first).to_be_visible()
    assert "Salary talks" not in page.content()
    shoot(page, shots, "calendar-freebusy")
    # Switched off, remembered: the busy block is gone after a reload.
    with page.expect_navigation():
        page.get_by_role(
            "checkbox", name=re.compile("Calendar \\(otto")
        ).click()  # it submits itself
    expect(page.get_by_text("Busy", exact=True)).to_have_count(0)
    page.goto(portal.base_url + "/calendar?view=month")
    expect(page.get_by_role("checkbox", name=re.compile("Calendar \\(otto"))).not_to_be_checked()
    expect(page.get_by_text("Busy", exact=True)).to_have_count(0)


def test_an_invitation_is_answered_from_webmail(portal: Served, new_page, shots: Path) -> None:
    """Otto invites Nina from his CalDAV client; the mail shows the event and her conflict;
    Accept puts her answer on Otto's copy at once."""
    nina = dav_calendar(portal, NINA, NINA_PASSWORD)
    nina.save_event(ics("dentist-1", "Dentist", this_week(15, 4), 60))
    otto = dav_calendar(portal, OTTO, OTTO_PASSWORD)
    attendees = (
        f"ORGANIZER:mailto:{OTTO}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{OTTO}\r\n"
        f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{NINA}\r\n"
    )
    otto.save_event(ics("plan-1", "Planning meeting", this_week(15, 4), 60, attendees))

    page: Page = new_page(viewport=WIDE)
    log_in(page, portal.base_url, NINA, NINA_PASSWORD)
    page.goto(portal.base_url + "/mail/folder/INBOX")
    page.get_by_role("link", name=re.compile("Planning meeting")).first.click()
    invitation = page.get_by_role("region", name="Invitation")
    expect(invitation).to_contain_text("Planning meeting")
    expect(invitation.get_by_role("link", name="Dentist")).to_be_visible()  # her conflict
    shoot(page, shots, "invitation")
    invitation.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Accepted: it is in your calendar.")).to_be_visible()

    [copy] = [e for e in otto.events() if "plan-1" in e.data]
    unfolded = copy.data.replace("\r\n ", "").replace("\n ", "")
    assert re.search(rf"ATTENDEE;[^\r\n]*PARTSTAT=ACCEPTED[^\r\n]*:mailto:{NINA}", unfolded)
    # Her calendar has it, accepted; Tentative then changes the answer again.
    [mine] = [e for e in nina.events() if "plan-1" in e.data]
    assert "PARTSTAT=ACCEPTED" in mine.data.replace("\r\n ", "")
    page.get_by_role("region", name="Invitation").get_by_role("button", name="Tentative").click()
    expect(page.get_by_text("Answered tentative.")).to_be_visible()
    [copy] = [e for e in otto.events() if "plan-1" in e.data]
    assert "PARTSTAT=TENTATIVE" in copy.data.replace("\r\n ", "")

    # Nina proposes another time; Otto takes it up from his mail: the event moves and
    # Nina is asked again.
    invitation = page.get_by_role("region", name="Invitation")
    invitation.get_by_text("Propose a new time").click()
    later = this_week(17, 4)
    invitation.get_by_label("Start").fill(later.strftime("%Y-%m-%dT%H:%M"))
    invitation.get_by_label("End").fill((later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    invitation.get_by_role("button", name="Propose").click()
    expect(page.get_by_text("Your proposal is on its way to the organizer.")).to_be_visible()
    organizer: Page = new_page(viewport=WIDE)
    log_in(organizer, portal.base_url, OTTO, OTTO_PASSWORD)
    organizer.goto(portal.base_url + "/mail/folder/INBOX")
    organizer.get_by_role("link", name=re.compile("New time proposed")).first.click()
    proposal = organizer.get_by_role("region", name="Invitation")
    expect(proposal).to_contain_text(f"{NINA} proposes this new time")
    shoot(organizer, shots, "invitation-proposal")
    proposal.get_by_role("button", name="Take this time").click()
    expect(organizer.get_by_text("The event moved to the proposed time")).to_be_visible()
    [copy] = [e for e in otto.events() if "plan-1" in e.data]
    moved = icalendar.Calendar.from_ical(copy.data).walk("VEVENT")[0]
    assert moved["DTSTART"].dt == later and moved["DTEND"].dt == later + timedelta(hours=1)
    [mine] = [e for e in nina.events() if "plan-1" in e.data]
    assert "PARTSTAT=NEEDS-ACTION" in mine.data.replace("\r\n ", "")  # asked again


def test_the_scheduling_assistant_finds_a_time_and_books_a_room(
    portal: Served, new_page, shots: Path
) -> None:
    """Otto is busy 9 to 10 on Thursday: the assistant shows it (no title) and "Next free
    slot" moves Nina's meeting to 10:00; the room she adds accepts, as her event says."""
    portal.services.resources.add(SYSTEM, "room-1@example.test", "Room 1", capacity=6)
    otto = dav_calendar(portal, OTTO, OTTO_PASSWORD)
    thursday = this_week(9, 3)
    otto.save_event(ics("busy-1", "Private appointment", thursday, 60))

    page: Page = new_page(viewport=WIDE)
    log_in(page, portal.base_url, NINA, NINA_PASSWORD)
    page.goto(f"{portal.base_url}/calendar/event?date={thursday.date().isoformat()}&time=09:00")
    page.get_by_label("Title").fill("Design review")
    attendees = page.get_by_role("combobox", name="Attendees")
    attendees.press_sequentially("otto")  # offered from the directory, taken with Enter
    expect(page.get_by_role("option", name=OTTO)).to_be_visible()
    attendees.press("ArrowDown")
    attendees.press("Enter")
    expect(attendees).to_have_value(f"{OTTO}, ")
    attendees.dispatch_event("change")
    assistant = page.get_by_role("region", name="Scheduling assistant")
    expect(assistant.locator(".fb.busy")).to_have_count(1)
    assert "Private appointment" not in page.content()
    assistant.get_by_role("button", name="Next free slot").click()
    expect(page.get_by_label("Start")).to_have_value(f"{thursday.date().isoformat()}T10:00")
    expect(page.get_by_label("End", exact=True)).to_have_value(
        f"{thursday.date().isoformat()}T11:00"
    )
    assistant.get_by_role("button", name="Add room").click()
    expect(attendees).to_have_value(f"{OTTO}, room-1@example.test")
    shoot(page, shots, "calendar-assistant")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name=re.compile("Design review")).click()
    answers = page.get_by_role("list", name="Answers")
    expect(answers).to_contain_text("room-1@example.test")
    expect(answers.locator("li", has_text="room-1@example.test")).to_contain_text("accepted")
    expect(answers.locator("li", has_text=OTTO)).to_contain_text("no answer yet")
