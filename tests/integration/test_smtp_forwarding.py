"""Forwarding, rules and the vacation reply over real SMTP (smtplib against the MX): an
alias's external copy leaves with an SRS sender of our domain, a bounce to that address
reaches the original sender, a forged one is refused (and counted against the client
address on a throttle key of its own, which never locks logins), and a user's forward rule
and auto-reply are queued (the reply with the null sender).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.errors import AuthFailed, TryLater
from groupware.services.core.access import SYSTEM
from groupware.services.delivery.rulespec import Action, RuleSpec
from groupware.services.delivery.vacation import VacationSettings
from groupware.services.transport.queue import QueuedMessage
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners

CAROL = "carol@elsewhere.example"
BODY = (
    b"From: Carol <carol@elsewhere.example>\r\nTo: bob@example.test, fwd@example.test\r\n"
    b"Subject: Plans\r\nMessage-ID: <plans@elsewhere.example>\r\n\r\nHi.\r\n"
)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, smtp="on")) as served:
        served.services.directory.add_user(SYSTEM, "bob@example.test", "Bob-pass-1234")
        served.services.aliases.add(
            SYSTEM, "fwd@example.test", ["bob@example.test", "bob@home.example"]
        )
        yield served


def send(served: Served, mail_from: str, rcpts: list[str], body: bytes = BODY) -> dict:
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
        return client.sendmail(mail_from, rcpts, body)


def queued(served: Served) -> list[QueuedMessage]:
    return served.services.queue.list_all(SYSTEM)


def test_alias_forward_gets_an_srs_sender_and_bounces_come_back(server: Served) -> None:
    assert send(server, CAROL, ["fwd@example.test"]) == {}
    [copy] = queued(server)
    assert copy.mail_from.startswith("SRS0=") and copy.mail_from.endswith("@example.test")
    assert [r.address for r in copy.recipients] == ["bob@home.example"]
    assert server.services.srs.reverse(copy.mail_from) == CAROL
    # The remote side bounces to the SRS address: it goes on to Carol, still a bounce.
    assert send(server, "", [copy.mail_from], b"Subject: failed\r\n\r\nsorry\r\n") == {}
    bounce = [m for m in queued(server) if m.id != copy.id]
    assert [(m.mail_from, [r.address for r in m.recipients]) for m in bounce] == [("", [CAROL])]
    forged = copy.mail_from.replace("=carol@", "=mallory@")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server, "", [forged], b"Subject: x\r\n\r\nx\r\n")


def test_rule_forward_and_vacation_reply(server: Served) -> None:
    services = server.services
    bob = services.auth.principal(services.directory.get_user(SYSTEM, "bob@example.test").id)
    assert bob is not None
    rule = RuleSpec("phone", (), (Action("forward", "bob@phone.example"), Action("mark_read")))
    services.rules.add(bob, "bob@example.test", rule)
    services.vacation.set(bob, "bob@example.test", VacationSettings(enabled=True, body="Away."))
    assert send(server, CAROL, ["bob@example.test", "fwd@example.test"]) == {}
    _, states = services.messages.index(bob, "INBOX")
    assert [s.flags for s in states] == [frozenset({"\\Seen"})]  # one copy, marked read
    by_target = {r.address: m for m in queued(server) for r in m.recipients}
    assert set(by_target) == {"bob@home.example", "bob@phone.example", CAROL}
    assert by_target["bob@phone.example"].mail_from.startswith("SRS0=")
    assert by_target[CAROL].mail_from == ""  # the auto-reply
    # A second message from Carol gets no second reply.
    send(server, CAROL, ["bob@example.test"])
    assert sum(1 for m in queued(server) for r in m.recipients if r.address == CAROL) == 1


def test_bad_srs_addresses_are_throttled_on_a_key_of_their_own(
    tmp_path: Path, database_url: str
) -> None:
    """Regression: RCPT to guessed SRS addresses was free, so a million tries
    found one relaying to the guesser. Now each bad one counts against the client address
    (as failed logins do, on a key of its own); once locked out, SRS recipients get 450
    (others still pass). Regression: the count shared the "ip:" key of
    failed logins, so bad SRS recipients locked everyone behind that address out of every
    login (IMAP LOGIN answered NO [UNAVAILABLE] to the right password)."""
    config = make_config(tmp_path, database_url, max_failures_per_ip=3)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, smtp="on", submission="on")) as served:
        services = served.services
        services.directory.add_user(SYSTEM, "bob@example.test", "Bob-pass-1234")
        services.aliases.add(SYSTEM, "@example.test", ["bob@example.test"])  # a catch-all
        good = services.srs.forward_sender(CAROL, "example.test")
        _, hash_, rest = good.split("=", 2)
        guesses = [
            f"SRS0={'A' * len(hash_)}={rest}",
            f"SRS0={hash_[::-1]}={rest}",
            "SRS0=x@example.test",
        ]
        with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
            client.ehlo("guesser.example")
            client.mail("")
            for guess in guesses:
                code, message = client.rcpt(guess)  # never the catch-all
                assert (code, message[:5]) == (550, b"5.1.1"), guess
            code, message = client.rcpt(good)  # locked out: even a right guess is no use
            assert (code, message[:5]) == (450, b"4.7.1")
            assert client.rcpt("bob@example.test")[0] == 250  # ordinary mail still flows
        with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
            client.ehlo("guesser.example")
            client.mail("")
            assert client.rcpt(good)[0] == 450  # a new connection does not reset it
        # Logins from the same address are not locked: the right password works.
        with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
            assert client.login("bob@example.test", "Bob-pass-1234")[0] == 235
        locks = services.login_locks.entries(SYSTEM)
        assert [(lock.key, lock.kind, lock.network, lock.state) for lock in locks] == [
            ("srs:127.0.0.1", "srs", "127.0.0.1", "locked")
        ]
        assert locks[0].kind_label == "bad SRS addresses from address"
        # An admin lifts it as the others ("groupware lock clear 127.0.0.1").
        assert [c.key for c in services.login_locks.clear_matching(SYSTEM, "127.0.0.1")] == [
            "srs:127.0.0.1"
        ]
        with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
            client.ehlo("guesser.example")
            client.mail("")
            assert client.rcpt(good)[0] == 250


def test_failed_logins_do_not_refuse_srs_recipients(tmp_path: Path, database_url: str) -> None:
    """The two counts stay apart both ways: a client address locked out of logins still
    gets its bounces to our SRS addresses through."""
    config = make_config(tmp_path, database_url, max_failures_per_ip=2)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, smtp="on")) as served:
        services = served.services
        services.directory.add_user(SYSTEM, "bob@example.test", "Bob-pass-1234")
        for _ in range(3):
            with pytest.raises((AuthFailed, TryLater)):
                services.auth.authenticate("bob@example.test", "wrong", "smtp", "127.0.0.1")
        with pytest.raises(TryLater):
            services.auth.authenticate("bob@example.test", "Bob-pass-1234", "smtp", "127.0.0.1")
        good = services.srs.forward_sender(CAROL, "example.test")
        with smtplib.SMTP("127.0.0.1", served.ports["smtp"], timeout=30) as client:
            client.ehlo("bouncer.example")
            client.mail("")
            assert client.rcpt(good)[0] == 250
