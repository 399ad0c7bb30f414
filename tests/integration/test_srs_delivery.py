"""SRS in delivery, on SQLite and PostgreSQL: the key kept in the database for every node,
an SRS address of ours resolving to the original sender (and forged ones not), forwards
reported with the address they are made for, and an auto-reply to a forwarded sender.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from groupware.errors import NotFound
from groupware.services import Services
from groupware.services.core.access import SYSTEM
from groupware.services.delivery.local import Forward, Resolved
from groupware.services.delivery.srs import Srs
from groupware.services.delivery.vacation import VacationSettings

MESSAGE = b"From: carol@elsewhere.example\r\nTo: bob@example.test\r\nSubject: Hi\r\n\r\nHi.\r\n"


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    services.directory.add_user(SYSTEM, "bob@example.test", "Passw0rd-long")
    return services


def test_key_is_shared_through_the_database(setup: Services) -> None:
    key = setup.srs.secret
    assert len(key) >= 32
    # Another node, the same database.
    assert Srs(setup.delivery._db, setup.auth.throttle).secret == key


def test_resolve_srs_addresses(setup: Services) -> None:
    srs = setup.srs
    address = srs.forward_sender("Carol@Elsewhere.example", "example.test")
    assert address.startswith("SRS0=") and address.endswith("@example.test")
    assert setup.delivery.resolve(address) == Resolved(
        address, True, (), ("Carol@Elsewhere.example",)
    )
    local, _, domain = address.partition("@")
    with pytest.raises(NotFound):
        setup.delivery.resolve(local.replace("=Carol", "=Mallory") + "@" + domain)
    # Another domain's SRS address is just a remote recipient (relay rules apply).
    other = srs.forward_sender("carol@elsewhere.example", "other.example")
    assert setup.delivery.resolve(other) == Resolved(other.lower(), hosted=False)
    # An SRS local part may pass 64 characters, which addresses otherwise may not.
    long_sender = "a" * 60 + "@" + "b" * 50 + ".example"
    long_srs = srs.forward_sender(long_sender, "example.test")
    assert setup.delivery.resolve(long_srs).external == (long_sender,)


def test_forwards_name_the_forwarding_address(setup: Services, tmp_path: Path) -> None:
    setup.aliases.add(SYSTEM, "fwd@example.test", ["bob@example.test", "bob@home.example"])
    srs_address = setup.srs.forward_sender("carol@elsewhere.example", "example.test")
    spool = tmp_path / "m.eml"
    spool.write_bytes(MESSAGE)
    recipients = [setup.delivery.resolve(a) for a in ("fwd@example.test", srs_address)]
    report = setup.delivery.deliver(spool, recipients, mail_from="")
    assert len(report.delivered) == 1
    assert report.forwards == (
        Forward("fwd@example.test", "bob@home.example"),
        Forward(srs_address, "carol@elsewhere.example"),
    )


def test_auto_reply_to_a_forwarded_sender_goes_to_the_original(
    setup: Services, tmp_path: Path
) -> None:
    bob = setup.auth.principal(setup.directory.get_user(SYSTEM, "bob@example.test").id)
    assert bob is not None
    setup.vacation.set(bob, "bob@example.test", VacationSettings(enabled=True, body="Away."))
    srs_sender = setup.srs.forward_sender("carol@elsewhere.example", "example.test")
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "m.eml").write_bytes(MESSAGE)
    resolved = [setup.delivery.resolve("bob@example.test")]
    report = setup.router.route(spool / "m.eml", resolved, mail_from=srs_sender)
    assert report.replied == ("bob@example.test",)
    [queued] = setup.queue.list_all(SYSTEM)
    assert queued.mail_from == ""
    assert [r.address for r in queued.recipients] == ["carol@elsewhere.example"]
