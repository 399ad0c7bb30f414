"""The vacation auto-reply through the services, on SQLite and PostgreSQL: settings (owner
only, checked), one reply per sender per period, none to lists, bulk, auto-submitted
mail, bounces or Bcc copies, none outside the dates, the reply's headers, and where it
goes: the outbound queue with the null sender, or a local sender's INBOX.
"""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta
from pathlib import Path

import pytest

from groupware.errors import InvalidInput, PermissionDenied
from groupware.mime.parse import parse_message
from groupware.model.base import utcnow
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.delivery.local import DeliveryReport
from groupware.services.delivery.vacation import VacationSettings

ALICE, BOB = "alice@example.test", "bob@example.test"
CAROL = "carol@elsewhere.example"
MESSAGE = (
    b"From: Carol <carol@elsewhere.example>\r\nTo: Bob <bob@example.test>\r\n"
    b"Subject: Budget\r\nMessage-ID: <m2@elsewhere.example>\r\n"
    b"References: <m1@elsewhere.example>\r\n\r\nNumbers?\r\n"
)
AWAY = VacationSettings(enabled=True, body="Away until Monday.")


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, ALICE, "Passw0rd-long")
    services.directory.add_user(SYSTEM, BOB, "Passw0rd-long", display_name="Bob Builder")
    return services


def principal(services: Services, address: str) -> Principal:
    found = services.auth.principal(services.directory.get_user(SYSTEM, address).id)
    assert found is not None
    return found


def deliver(
    services: Services, tmp_path: Path, mail_from: str = CAROL, data: bytes = MESSAGE, to: str = BOB
) -> DeliveryReport:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    path = spool / f"m{len(list(spool.iterdir()))}.eml"
    path.write_bytes(data)
    return services.router.route(path, [services.delivery.resolve(to)], mail_from=mail_from)


def queued(services: Services) -> list[tuple[str, list[str]]]:
    return [
        (m.mail_from, [r.address for r in m.recipients]) for m in services.queue.list_all(SYSTEM)
    ]


def test_settings(setup: Services) -> None:
    bob = principal(setup, BOB)
    assert setup.vacation.get(bob, BOB) == VacationSettings()
    wanted = VacationSettings(True, " Away ", "Back\r\nsoon.\n", date(2026, 1, 1), None, 3)
    stored = setup.vacation.set(bob, BOB, wanted)
    assert stored == VacationSettings(True, "Away", "Back\nsoon.", date(2026, 1, 1), None, 3)
    assert setup.vacation.get(bob, BOB) == stored
    for bad in (
        VacationSettings(enabled=True, body=""),
        VacationSettings(body="x", days=0),
        VacationSettings(body="x", subject="x" * 201),
        VacationSettings(body="x", start_date=date(2026, 2, 1), end_date=date(2026, 1, 1)),
    ):
        with pytest.raises(InvalidInput):
            setup.vacation.set(bob, BOB, bad)
    with pytest.raises(PermissionDenied):
        setup.vacation.set(principal(setup, ALICE), BOB, AWAY)


def test_one_reply_per_sender_per_period(setup: Services, tmp_path: Path) -> None:
    bob = principal(setup, BOB)
    assert deliver(setup, tmp_path).replied == ()  # off
    setup.vacation.set(bob, BOB, AWAY)
    assert deliver(setup, tmp_path).replied == (BOB,)
    assert deliver(setup, tmp_path).replied == ()
    assert queued(setup) == [("", [CAROL])]  # the null sender: never bounced or answered
    assert deliver(setup, tmp_path, mail_from="dave@elsewhere.example").replied == (BOB,)
    # After the period the same sender gets a reply again.
    user_id = bob.user_id
    assert user_id is not None
    again = setup.vacation.replies(CAROL, parse_message(MESSAGE), {user_id: {BOB}}, now=utcnow())
    assert again == []
    later = utcnow() + timedelta(days=7, minutes=1)
    again = setup.vacation.replies(CAROL, parse_message(MESSAGE), {user_id: {BOB}}, now=later)
    assert [reply.author for reply in again] == [BOB]
    assert [reply.recipient for reply in again] == [CAROL]
    # Turning it off and on again starts a new round.
    setup.vacation.set(bob, BOB, VacationSettings(body="x"))
    setup.vacation.set(bob, BOB, AWAY)
    assert deliver(setup, tmp_path).replied == (BOB,)


def test_reply_content_and_signature(setup: Services, tmp_path: Path) -> None:
    setup.vacation.set(principal(setup, BOB), BOB, AWAY)
    deliver(setup, tmp_path)
    [job] = setup.queue.claim_due()
    assert (job.mail_from, job.recipients[0][1]) == ("", CAROL)
    data = setup.queue.read_message(job.blob_id)
    assert data.startswith(b"DKIM-Signature:")  # DMARC at the sender's side passes
    reply = email.message_from_bytes(data, policy=email.policy.default)
    assert reply["From"] == "Bob Builder <bob@example.test>"
    assert reply["To"] == CAROL
    assert reply["Subject"] == "Auto: Budget"
    assert reply["In-Reply-To"] == "<m2@elsewhere.example>"
    assert reply["References"].split() == ["<m1@elsewhere.example>", "<m2@elsewhere.example>"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply.get_content().strip() == "Away until Monday."


def test_never_to_lists_robots_bounces_or_bcc(setup: Services, tmp_path: Path) -> None:
    setup.vacation.set(principal(setup, BOB), BOB, AWAY)
    lines = (
        b"List-Id: <staff.lists.example>\r\n",
        b"List-Unsubscribe: <mailto:leave@lists.example>\r\n",
        b"Precedence: bulk\r\n",
        b"Precedence: list\r\n",
        b"Auto-Submitted: auto-generated\r\n",
    )
    for line in lines:
        assert deliver(setup, tmp_path, data=line + MESSAGE).replied == (), line
    for sender in ("", "MAILER-DAEMON@elsewhere.example", "owner-staff@lists.example"):
        assert deliver(setup, tmp_path, mail_from=sender).replied == (), sender
    bcc = MESSAGE.replace(b"To: Bob <bob@example.test>", b"To: staff@elsewhere.example")
    assert deliver(setup, tmp_path, data=bcc).replied == ()
    assert queued(setup) == []
    # The address the message came through counts as the user's (an alias here).
    setup.aliases.add(SYSTEM, "sales@example.test", [BOB])
    to_alias = MESSAGE.replace(b"To: Bob <bob@example.test>", b"To: sales@example.test")
    assert deliver(setup, tmp_path, data=to_alias, to="sales@example.test").replied == (BOB,)


def test_dates(setup: Services, tmp_path: Path) -> None:
    bob = principal(setup, BOB)
    today = utcnow().date()
    setup.vacation.set(bob, BOB, VacationSettings(True, "", "x", today + timedelta(days=1)))
    assert deliver(setup, tmp_path).replied == ()
    setup.vacation.set(bob, BOB, VacationSettings(True, "", "x", None, today - timedelta(days=1)))
    assert deliver(setup, tmp_path).replied == ()
    setup.vacation.set(bob, BOB, VacationSettings(True, "", "x", today, today))
    assert deliver(setup, tmp_path).replied == (BOB,)


def test_local_sender_gets_the_reply_in_the_inbox(setup: Services, tmp_path: Path) -> None:
    setup.vacation.set(principal(setup, BOB), BOB, AWAY)
    setup.vacation.set(principal(setup, ALICE), ALICE, AWAY)  # no reply to the reply
    mail = MESSAGE.replace(b"Carol <carol@elsewhere.example>", b"alice@example.test")
    assert deliver(setup, tmp_path, mail_from=ALICE, data=mail).replied == (BOB,)
    assert queued(setup) == []
    alice = principal(setup, ALICE)
    _, states = setup.messages.index(alice, "INBOX")
    [reply] = [setup.messages.read(alice, "INBOX", s.uid) for s in states]
    assert b"Auto-Submitted: auto-replied" in reply and b"Subject: Auto: Budget" in reply
