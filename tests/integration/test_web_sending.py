"""Webmail's sending services, on SQLite and PostgreSQL: a held message waits, is
released once by the worker's call, or is taken back as a draft (its Bcc kept); a crash
while sending sends again rather than loses; scheduling refuses the past; identities
offer only addresses the user may send as; preferences and trusted senders are the
user's own and checked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from groupware.errors import InvalidInput, NotFound, PermissionDenied, QuotaExceeded
from groupware.mime.compose import File
from groupware.model.base import utcnow
from groupware.model.webmail import HeldMessage
from groupware.runtime import Runtime
from groupware.services import Services
from groupware.services.calendar.rows import TIMESTAMP_MAX, TIMESTAMP_MIN, NewItem
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.delivery.send import Draft
from groupware.services.mail.preferences import MailSettings
from groupware.store import Database

ALICE, BOB = "alice@example.test", "bob@example.test"
PASSWORD = "Passw0rd-long"


@pytest.fixture
def database(runtime: Runtime) -> Database:
    return runtime.database


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, ALICE, PASSWORD, display_name="Alice A")
    services.directory.add_user(SYSTEM, BOB, PASSWORD)
    services.aliases.add(SYSTEM, "sales@example.test", [ALICE])
    return services


def principal(services: Services, address: str) -> Principal:
    found = services.auth.principal(services.directory.get_user(SYSTEM, address).id)
    assert found is not None
    return found


def inbox(services: Services, address: str) -> list[str]:
    actor = principal(services, address)
    return [m.subject for m in services.mail_view.window(actor, "INBOX").messages]


def test_a_held_message_goes_once_when_its_time_comes(setup: Services, database: Database) -> None:
    alice = principal(setup, ALICE)
    sent = setup.sending.send(alice, Draft(BOB, "", "", "Held", "Wait."), hold=timedelta(hours=1))
    assert sent.held is not None and inbox(setup, BOB) == []
    assert [w.subject for w in setup.sending.waiting(alice)] == ["Held"]
    assert setup.sending.waiting(principal(setup, BOB)) == []  # only the sender's
    assert setup.sending.release_due() == 0
    with database.write() as session:
        session.execute(update(HeldMessage).values(release_at=utcnow() - timedelta(seconds=1)))
    assert setup.sending.release_due() == 1
    assert setup.sending.release_due() == 0
    assert inbox(setup, BOB) == ["Held"]
    assert setup.sending.waiting(alice) == []
    with pytest.raises(NotFound):
        setup.sending.cancel(alice, sent.held)  # too late


def test_undo_makes_a_draft_with_its_blind_recipients(setup: Services) -> None:
    alice, bob = principal(setup, ALICE), principal(setup, BOB)
    draft = Draft(BOB, "", "sales@example.test", "Oops", "Not yet.")
    sent = setup.sending.send(alice, draft, hold=timedelta(seconds=30))
    assert sent.held is not None
    with pytest.raises(NotFound):
        setup.sending.cancel(bob, sent.held)  # not Bob's to take back
    uid = setup.sending.cancel(alice, sent.held)
    opened = setup.mail_view.open(alice, "Drafts", uid)
    assert opened.subject == "Oops" and opened.bcc == "sales@example.test"
    assert "\\Draft" in opened.flags
    assert setup.sending.release_due() == 0 and inbox(setup, BOB) == []


def test_a_crash_while_sending_sends_again(setup: Services, database: Database) -> None:
    alice = principal(setup, ALICE)
    setup.sending.send(alice, Draft(BOB, "", "", "Again", "x"), hold=timedelta(hours=1))
    with database.write() as session:
        session.execute(
            update(HeldMessage).values(state="sending", release_at=utcnow() - timedelta(1))
        )
    assert setup.sending.release_due() == 0  # claimed by the process that crashed
    assert setup.sending.recover() == 1
    assert setup.sending.release_due() == 1
    assert inbox(setup, BOB) == ["Again"]


def test_scheduling_and_refusals(setup: Services) -> None:
    alice = principal(setup, ALICE)
    now = utcnow()
    for when in (now - timedelta(minutes=1), now + timedelta(days=400)):
        with pytest.raises(InvalidInput):
            setup.sending.send(alice, Draft(BOB, "", "", "Later", "x"), at=when)
    with pytest.raises(InvalidInput, match="no such recipient"):
        setup.sending.send(
            alice, Draft("nobody@example.test", "", "", "x", "x"), at=now + timedelta(1)
        )
    sent = setup.sending.send(alice, Draft(BOB, "", "", "Later", "x"), at=now + timedelta(days=1))
    [waiting] = setup.sending.waiting(alice)
    assert waiting.scheduled and waiting.release_at == sent.release_at
    with pytest.raises(PermissionDenied):
        setup.sending.send(alice, Draft(BOB, "", "", "Forged", "x", sender=BOB))


def test_identities_offer_what_one_may_send_as(setup: Services) -> None:
    alice = principal(setup, ALICE)
    offered = setup.identities.list_all(alice)
    assert [i.address for i in offered] == [ALICE, "sales@example.test"]
    assert offered[0].is_default and offered[0].name == "Alice A"
    setup.identities.save(alice, "sales@example.test", "Sales", "-- Sales team", is_default=True)
    first = setup.identities.list_all(alice)[0]
    assert (first.address, first.signature, first.is_default) == (
        "sales@example.test",
        "-- Sales team",
        True,
    )
    with pytest.raises(PermissionDenied):
        setup.identities.save(alice, BOB, "Bob", "", is_default=False)
    with pytest.raises(InvalidInput):
        setup.identities.save(alice, ALICE, "x" * 201, "", is_default=False)
    sent = setup.sending.send(
        alice, Draft(BOB, "", "", "From sales", "x", sender="sales@example.test")
    )
    assert sent.kept
    found = setup.mail_view.window(principal(setup, BOB), "INBOX").messages
    assert "sales@example.test" in found[0].sender


def test_preferences_and_trusted_senders(setup: Services) -> None:
    alice, bob = principal(setup, ALICE), principal(setup, BOB)
    assert setup.preferences.get(alice) == MailSettings()
    setup.preferences.set(alice, MailSettings(page_size=100, conversations=False, undo_seconds=0))
    assert setup.preferences.get(alice).page_size == 100
    assert setup.preferences.get(bob) == MailSettings()
    for wrong in (MailSettings(page_size=7), MailSettings(undo_seconds=31)):
        with pytest.raises(InvalidInput):
            setup.preferences.set(alice, wrong)
    setup.preferences.trust(alice, "News@Example.org", on=True)
    assert setup.preferences.trusts(alice, "news@example.org")
    assert not setup.preferences.trusts(bob, "news@example.org")
    assert not setup.preferences.trusts(alice, "not an address")
    with pytest.raises(InvalidInput):
        setup.preferences.trust(alice, "<script>", on=True)
    setup.preferences.trust(alice, "news@example.org", on=False)
    assert setup.preferences.trusted(alice) == []


def test_recipients_are_suggested_from_the_directory_and_address_books(setup: Services) -> None:
    alice = principal(setup, ALICE)
    setup.calendars.ensure_home(ALICE)
    [book] = [c for c in setup.calendars.children(ALICE) if c.tag == "VADDRESSBOOK"]
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Bobby Tables\\, Esq.\r\n"
        "item1.EMAIL;TYPE=INTERNET:bobby@elsewhere.example\r\nEMAIL:bt@elsewhere.exa\r\n mple\r\n"
        "END:VCARD\r\n"
    )
    setup.calendars.put_item(
        book.id, NewItem("c1.vcf", "c1", '"e1"', "VCARD", TIMESTAMP_MIN, TIMESTAMP_MAX, card)
    )
    found = [s.text for s in setup.suggestions.suggest(alice, "BOB")]
    assert found == [
        '"Bobby Tables, Esq." <bobby@elsewhere.example>',
        '"Bobby Tables, Esq." <bt@elsewhere.example>',
        "bob@example.test",
    ]
    assert [s.address for s in setup.suggestions.suggest(alice, "alice a")] == [ALICE]
    assert setup.suggestions.suggest(alice, "b") == []  # too short to ask
    assert setup.suggestions.suggest(alice, "%") == []  # a wildcard is a character
    assert setup.suggestions.suggest(alice, "_o") == []
    bob_sees = [s.address for s in setup.suggestions.suggest(principal(setup, BOB), "bob")]
    assert "bobby@elsewhere.example" not in bob_sees  # Alice's address book is hers


def test_the_search_box_finds_words_by_their_start(setup: Services, tmp_path: Path) -> None:
    """Plain words are words (the index answers): "inv" finds "invoice", not
    "convince"; letters of any script; and a text too long for PostgreSQL's index."""
    alice = principal(setup, ALICE)
    bodies = {
        "Invoice": "The invoice is attached.",
        "Convince": "Convince me otherwise.",
        "Umlaut": "Grüße von Müller aus der Straße.",
        "Long": "filler " * 20_000 + "needlework",
    }
    for subject, body in bodies.items():
        path = tmp_path / "m.eml"
        path.write_bytes(f"Subject: {subject}\r\n\r\n{body}\r\n".encode())
        setup.messages.append(alice, "INBOX", path)

    def found(text: str) -> set[str]:
        return {f.message.subject for f in setup.mail_view.search(alice, text)}

    assert found("inv") == {"Invoice"}
    assert found("INVOICE attached") == {"Invoice"}
    assert found("invoice convince") == set()
    assert found("müller") == found("Straße") == {"Umlaut"}
    assert found("needle") == {"Long"}
    assert found("subject:Convince") == {"Convince"}
    assert found("vince") == set()  # not a word's start


def test_what_waits_counts_against_the_quota_and_undo_keeps_it_when_full(
    setup: Services,
) -> None:
    bob = principal(setup, BOB)
    setup.directory.update_user(SYSTEM, BOB, quota_bytes=200_000)
    big = (File("big.bin", "application/octet-stream", b"x" * 120_000),)
    later = utcnow() + timedelta(days=1)
    sent = setup.sending.send(bob, Draft(ALICE, "", "", "One", "x", files=big), at=later)
    with pytest.raises(QuotaExceeded):  # two would not fit beside what Bob keeps
        setup.sending.send(bob, Draft(ALICE, "", "", "Two", "x", files=big), at=later)
    assert sent.held is not None
    filler = File("fill.bin", "application/octet-stream", b"y" * 100_000)
    setup.sending.save_draft(bob, Draft("", "", "", "Filler", "", files=(filler,)))
    with pytest.raises(QuotaExceeded):  # no room for the draft: the message waits on
        setup.sending.cancel(bob, sent.held)
    assert [w.subject for w in setup.sending.waiting(bob)] == ["One"]


def test_file_names_lose_control_characters(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    data = (
        b"Subject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x%0D%0A.html\r\n"
        b"\r\nAAAA\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''report%E2%80%AEfdp.exe\r\n"
        b"\r\nAAAA\r\n--b--\r\n"
    )
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    uid = setup.messages.append(alice, "INBOX", path).uid
    names = [a.filename for a in setup.mail_view.open(alice, "INBOX", uid).attachments]
    assert names == ["a Set-Cookie: x .html", "reportfdp.exe"]
    assert setup.suggestions.suggest(alice, "\x00bo") == setup.suggestions.suggest(alice, "bo")
