"""Whose iMIP counts, over real SMTP: a REPLY, REQUEST or CANCEL by mail acts only when
its sender is proven: by the From: check for a local user's submission, by SPF, DKIM or
DMARC for mail from outside, and never, from outside, for an address of ours.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.mime import imip
from groupware.mime.icalitem import describe_text
from groupware.services import Services
from groupware.services.calendar.rows import NewItem
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, TEST_DNS, Served, make_config, serving, with_listeners

PASSWORD = "Trust-pass-1234"
ORGANIZER, BOB = "org@example.test", "bob@example.test"
ANN, CAROL = "ann@partner.example", "carol@partner.example"  # nothing vouches for them
DAN, EVE = "dan@friends.example", "eve@friends.example"  # their domain's SPF passes


def event(uid: str, organizer: str, *attendees: str) -> str:
    lines = [f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{a}\r\n" for a in attendees]
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261210T100000Z\r\n"
        f"DTEND:20261210T110000Z\r\nSUMMARY:Review\r\nORGANIZER:mailto:{organizer}\r\n"
        + "".join(lines)
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


MEETING = event("m1", ORGANIZER, ANN, DAN, BOB)  # ours, with guests outside and one here
VISIT = event("v1", CAROL, BOB)  # Carol's, that Bob was invited to
PARTY = event("p1", EVE, BOB)  # Eve's, too
SPF = {"friends.example": "v=spf1 ip4:127.0.0.1 -all", "example.test": "v=spf1 ip4:127.0.0.1 -all"}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    for domain, record in SPF.items():  # SPF passes from loopback (where we send from)
        TEST_DNS.set(domain, "TXT", [record])
    try:
        with serving(with_listeners(config, smtp="on", submission="on")) as served:
            services = served.services
            for user in (ORGANIZER, BOB):
                services.directory.add_user(SYSTEM, user, PASSWORD)
            place(services, ORGANIZER, "m1.ics", MEETING)
            place(services, BOB, "v1.ics", VISIT)
            place(services, BOB, "p1.ics", PARTY)
            yield served
    finally:  # the DNS server is shared by the whole session
        for domain in SPF:
            TEST_DNS.set(domain, "TXT", [])


def place(services: Services, owner: str, href: str, text: str) -> None:
    services.calendars.ensure_home(owner)
    calendar = services.calendars.collection(f"{owner}/calendar")
    assert calendar is not None
    services.calendars.put_item(calendar.id, NewItem.of(href, describe_text(calendar.path, text)))


def copy(services: Services, owner: str, uid: str) -> str:
    found = services.calendars.find_uid(owner, uid)
    assert found is not None
    return found[1].text


def answers(services: Services) -> dict[str, str]:
    return imip.read(copy(services, ORGANIZER, "m1")).attendees


def reply(sender: str, attendee: str, answer: str) -> bytes:
    body = imip.reply(imip.set_partstat(MEETING, attendee, answer), attendee)
    facts = imip.read(body)
    return imip.compose(
        method="REPLY", sender=sender, sender_name="", to=ORGANIZER, body=body, facts=facts
    )


def cancel(sender: str, text: str) -> bytes:
    body = imip.cancelled(text)
    facts = imip.read(body)
    return imip.compose(
        method="CANCEL", sender=sender, sender_name="", to=BOB, body=body, facts=facts
    )


def by_mx(served: Served, sender: str, recipient: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        assert client.sendmail(sender, [recipient], data) == {}


def submitted(served: Served, user: str, recipient: str, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
        client.login(user, PASSWORD)
        assert client.sendmail(user, [recipient], data) == {}


def test_outside_imip_counts_only_when_spf_dkim_or_dmarc_vouch(server: Served) -> None:
    """Regression: any From: or envelope address was taken as the sender."""
    services = server.services
    by_mx(server, ANN, ORGANIZER, reply(ANN, ANN, "DECLINED"))  # nothing vouches for Ann
    assert answers(services)[ANN] == "NEEDS-ACTION"
    by_mx(server, CAROL, BOB, cancel(CAROL, VISIT))
    assert "STATUS:CANCELLED" not in copy(services, BOB, "v1")
    # SPF vouches for the envelope sender: Dan's answer counts, Eve's cancel too.
    by_mx(server, DAN, ORGANIZER, reply(DAN, DAN, "ACCEPTED"))
    assert answers(services)[DAN] == "ACCEPTED"
    by_mx(server, DAN, ORGANIZER, reply(DAN, ANN, "DECLINED"))  # but only for Dan
    assert answers(services)[ANN] == "NEEDS-ACTION"
    by_mx(server, EVE, BOB, cancel(EVE, PARTY))
    assert "STATUS:CANCELLED" in copy(services, BOB, "p1")


def test_outside_imip_never_speaks_for_our_addresses(server: Served) -> None:
    """Even with SPF passing for our own domain, an answer from outside in the name of a
    local user is mail, not an answer: only our submission proves our addresses."""
    services = server.services
    by_mx(server, BOB, ORGANIZER, reply(BOB, BOB, "DECLINED"))
    assert answers(services)[BOB] == "NEEDS-ACTION"

    submitted(server, BOB, ORGANIZER, reply(BOB, ANN, "DECLINED"))  # Bob, answering for Ann
    assert answers(services)[ANN] == "NEEDS-ACTION"
    submitted(server, BOB, ORGANIZER, reply(BOB, BOB, "ACCEPTED"))  # Bob, for himself
    assert answers(services)[BOB] == "ACCEPTED"
