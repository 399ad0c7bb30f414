"""iMIP mail reaching a local organizer: a REPLY counts only for the attendee who sent
it (a forged one is ignored), and broken calendar parts are delivered as plain mail."""

from __future__ import annotations

from pathlib import Path

from groupware.mime import imip
from groupware.mime.icalitem import describe_text
from groupware.services import Services
from groupware.services.access import SYSTEM
from groupware.services.calendars import NewItem

ORGANIZER = "org@example.test"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n"
    "DTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\nDTEND:20261210T110000Z\r\n"
    "SUMMARY:Review\r\nORGANIZER:mailto:org@example.test\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ann@partner.example\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ben@partner.example\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def deliver(services: Services, tmp_path: Path, sender: str, data: bytes) -> None:
    path = tmp_path / "in.eml"
    path.write_bytes(data)
    resolved = [services.delivery.resolve(ORGANIZER)]
    report = services.delivery.deliver(path, resolved, mail_from=sender)
    assert report.delivered


def reply_mail(sender: str, attendee: str, answer: str, body: str | None = None) -> bytes:
    text = body or imip.reply(imip.set_partstat(EVENT, attendee, answer), attendee)
    return imip.compose(
        method="REPLY",
        sender=sender,
        sender_name="",
        to=ORGANIZER,
        body=text,
        facts=imip.read(text) if body is None else imip.read(EVENT),
    )


def organizer_copy(services: Services) -> dict[str, str]:
    found = services.calendars.find_uid(ORGANIZER, "m1")
    assert found is not None
    return imip.read(found[1].text).attendees


def test_replies_by_mail_count_only_for_their_sender(services: Services, tmp_path: Path) -> None:
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, ORGANIZER, "Organizer-pass-1")
    services.calendars.ensure_home(ORGANIZER)
    calendar = services.calendars.collection(f"{ORGANIZER}/calendar")
    assert calendar is not None
    facts = describe_text(calendar.path, EVENT)
    services.calendars.put_item(calendar.id, NewItem.of("m1.ics", facts), quiet=True)

    deliver(
        services,
        tmp_path,
        "ann@partner.example",
        reply_mail("ann@partner.example", "ann@partner.example", "ACCEPTED"),
    )
    assert organizer_copy(services)["ann@partner.example"] == "ACCEPTED"

    # Mallory answers for Ben: stored as mail, but Ben's answer is unchanged.
    deliver(
        services,
        tmp_path,
        "mallory@evil.example",
        reply_mail("mallory@evil.example", "ben@partner.example", "DECLINED"),
    )
    assert organizer_copy(services)["ben@partner.example"] == "NEEDS-ACTION"

    # Broken calendar parts are ordinary mail: delivered, nothing changes.
    for broken in ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n", "not at all", EVENT[:200]):
        data = reply_mail("ann@partner.example", "ann@partner.example", "DECLINED", broken)
        deliver(services, tmp_path, "ann@partner.example", data)
    assert organizer_copy(services)["ann@partner.example"] == "ACCEPTED"
