"""iMIP mail reaching a local organizer: a REPLY counts only for the attendee proven to
have sent it (a forged one is ignored), and broken calendar parts are delivered as plain
mail. How a sender is proven over SMTP is in test_imip_trust.py; here delivery is told."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from groupware.errors import InvalidInput
from groupware.mime import imip
from groupware.mime.icalitem import describe_text
from groupware.services import Services
from groupware.services.calendar import scheduling as scheduling_module
from groupware.services.calendar.rows import NewItem
from groupware.services.core.access import SYSTEM
from groupware.services.transport.provenance import Provenance

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
    """Deliver `data` as mail proven to come from `sender` (as SPF would prove it)."""
    path = tmp_path / "in.eml"
    path.write_bytes(data)
    resolved = [services.delivery.resolve(ORGANIZER)]
    report = services.router.route(path, resolved, sender, Provenance(frozenset({sender})))
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


def test_invitations_never_overwrite_someone_elses_item(services: Services, tmp_path: Path) -> None:
    """A forged REQUEST, or a colleague's event reusing the UID of one of ours, leaves
    our item alone; moving an event between one's own calendars cancels nothing."""
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, ORGANIZER, "Organizer-pass-1")
    services.directory.add_user(SYSTEM, "bob@example.test", "Organizer-pass-1")
    for home in (ORGANIZER, "bob@example.test"):
        services.calendars.ensure_home(home)
    mine = services.calendars.collection(f"{ORGANIZER}/calendar")
    bobs = services.calendars.collection("bob@example.test/calendar")
    assert mine is not None and bobs is not None
    private = EVENT.replace("ORGANIZER:mailto:org@example.test\r\n", "").replace(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ann@partner.example\r\n", ""
    )
    private = private.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ben@partner.example\r\n", "")
    services.calendars.put_item(
        mine.id, NewItem.of("m1.ics", describe_text(mine.path, private)), quiet=True
    )

    def text() -> str:
        found = services.calendars.find_uid(ORGANIZER, "m1")
        assert found is not None
        return found[1].text

    forged = (
        EVENT.replace("org@example.test", "mallory@evil.example")
        .replace("ann@partner.example", ORGANIZER)
        .replace("SUMMARY:Review", "SUMMARY:HIJACKED\r\nSEQUENCE:5")
    )
    body = imip.with_method(forged, "REQUEST")
    data = imip.compose(
        method="REQUEST",
        sender="mallory@evil.example",
        sender_name="",
        to=ORGANIZER,
        body=body,
        facts=imip.read(body),
    )
    deliver(services, tmp_path, "mallory@evil.example", data)
    assert "HIJACKED" not in text()

    # Bob invites the organizer with the UID of her private event: hers stays.
    bobs_event = forged.replace("mallory@evil.example", "bob@example.test")
    services.calendars.put_item(bobs.id, NewItem.of("m1.ics", describe_text(bobs.path, bobs_event)))
    assert "HIJACKED" not in text()

    # Moving an invitation between Bob's own calendars cancels nothing.
    theirs = services.calendars.find_uid(ORGANIZER, "m1")
    assert theirs is not None
    services.calendars.create_collection("bob@example.test/work", {"tag": "VCALENDAR"})
    work = services.calendars.collection("bob@example.test/work")
    assert work is not None
    before = len(services.queue.list_all(SYSTEM))
    services.calendars.put_item(work.id, NewItem.of("m1.ics", describe_text(work.path, bobs_event)))
    services.calendars.delete_item(bobs.id, "m1.ics")
    assert len(services.queue.list_all(SYSTEM)) == before  # no REQUEST or CANCEL again


def test_a_copy_changed_meanwhile_is_not_overwritten(services: Services) -> None:
    """Scheduling compares a copy and writes it, under the collection's lock, only if it
    is still the version it compared (else it reads again): an owner's own save made in
    between is never lost."""
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, ORGANIZER, "Organizer-pass-1")
    services.calendars.ensure_home(ORGANIZER)
    calendar = services.calendars.collection(f"{ORGANIZER}/calendar")
    assert calendar is not None
    compared, _ = services.calendars.put_item(
        calendar.id, NewItem.of("m1.ics", describe_text(calendar.path, EVENT)), quiet=True
    )
    edited = EVENT.replace("SUMMARY:Review", "SUMMARY:Review (moved by its owner)")
    services.calendars.put_item(
        calendar.id, NewItem.of("m1.ics", describe_text(calendar.path, edited)), quiet=True
    )
    answered = imip.set_partstat(EVENT, "ann@partner.example", "ACCEPTED")
    scheduling = services.scheduling
    assert not scheduling._store(calendar, "m1.ics", answered, compared.etag)
    assert "moved by its owner" in organizer_copy_text(services)
    # Read again, the answer lands on the owner's version.
    deliver_reply = imip.set_partstat(edited, "ann@partner.example", "ACCEPTED")
    current = services.calendars.item(calendar.id, "m1.ics")
    assert current is not None
    assert scheduling._store(calendar, "m1.ics", deliver_reply, current.etag)
    assert organizer_copy(services)["ann@partner.example"] == "ACCEPTED"
    assert "moved by its owner" in organizer_copy_text(services)


def test_an_attendee_left_to_the_client_gets_no_cancel_when_removed(services: Services) -> None:
    services.directory.add_domain(SYSTEM, "example.test")
    for address in (ORGANIZER, "carol@example.test"):
        services.directory.add_user(SYSTEM, address, "Organizer-pass-1")
        services.calendars.ensure_home(address)
    calendar = services.calendars.collection(f"{ORGANIZER}/calendar")
    assert calendar is not None
    invited = EVENT.replace("mailto:ben@partner.example", "mailto:carol@example.test")

    def save(text: str) -> None:
        services.calendars.put_item(
            calendar.id, NewItem.of("m1.ics", describe_text(calendar.path, text))
        )

    def carols() -> str:
        found = services.calendars.find_uid("carol@example.test", "m1")
        assert found is not None
        return found[1].text

    save(invited)
    assert "CANCELLED" not in carols()
    client_kept = invited.replace(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol",
        "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=NEEDS-ACTION:mailto:carol",
    )
    save(client_kept)
    removed = client_kept.replace(
        "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=NEEDS-ACTION:mailto:carol@example.test\r\n", ""
    )
    assert "carol" not in removed
    save(removed)
    assert "CANCELLED" not in carols()  # her client tells her, not us


def organizer_copy_text(services: Services) -> str:
    found = services.calendars.find_uid(ORGANIZER, "m1")
    assert found is not None
    return found[1].text


def test_account_addresses_cannot_look_like_group_homes(services: Services) -> None:
    services.directory.add_domain(SYSTEM, "example.test")
    for bad in ("+team@example.test", "a/b@example.test"):
        with pytest.raises(InvalidInput):
            services.directory.add_user(SYSTEM, bad, "Organizer-pass-1")


def test_a_slow_invitation_holds_up_no_other(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scheduling takes no lock of its own while it reads and parses a copy: while one
    delivery is still parsing (held here), another attendee's invitation is placed."""
    services.directory.add_domain(SYSTEM, "example.test")
    for address in ("ann@example.test", "ben@example.test"):
        services.directory.add_user(SYSTEM, address, "Organizer-pass-1")
    parsing, release = threading.Event(), threading.Event()
    real = scheduling_module.describe_text

    def held(collection_path: str, text: str) -> object:
        if "UID:slow" in text:
            parsing.set()
            release.wait(60)
        return real(collection_path, text)

    monkeypatch.setattr(scheduling_module, "describe_text", held)

    def deliver_to(attendee: str, uid: str) -> None:
        text = (
            EVENT.replace("UID:m1", f"UID:{uid}")
            .replace("org@example.test", "org@partner.example")
            .replace("ann@partner.example", attendee)
        )
        body = imip.with_method(text, "REQUEST")
        data = imip.compose(
            method="REQUEST",
            sender="org@partner.example",
            sender_name="",
            to=attendee,
            body=body,
            facts=imip.read(body),
        )
        path = tmp_path / f"{uid}.eml"
        path.write_bytes(data)
        resolved = [services.delivery.resolve(attendee)]
        sender = "org@partner.example"
        services.router.route(path, resolved, sender, Provenance(frozenset({sender})))

    slow = threading.Thread(target=deliver_to, args=("ann@example.test", "slow"))
    fast = threading.Thread(target=deliver_to, args=("ben@example.test", "fast"))
    slow.start()
    try:
        assert parsing.wait(60)
        fast.start()
        fast.join(60)  # generous: it waits for nothing but its own work
        assert not fast.is_alive(), "held up by another delivery's parsing"
        assert services.calendars.find_uid("ben@example.test", "fast") is not None
        assert slow.is_alive()
    finally:
        release.set()
        slow.join(60)
        fast.join(60)
    assert services.calendars.find_uid("ann@example.test", "slow") is not None
