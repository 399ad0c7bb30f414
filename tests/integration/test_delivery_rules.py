"""Per-user delivery rules through the services, on SQLite and PostgreSQL: editing them
(owner only, input checked, order), and what delivery does with them: move to a folder,
mark read, flag, discard, forward (reported for the queue), conditions on addresses,
headers and size, disabled rules, order and stop, and the INBOX and quota fallbacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from groupware.errors import InvalidInput, NotFound, PermissionDenied
from groupware.mime.parse import parse_message
from groupware.model.delivery import MailRule
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.core.userset import UserSet
from groupware.services.delivery.local import DeliveryReport, Forward
from groupware.services.delivery.rules import Outcome, Rules
from groupware.services.delivery.rulespec import Action, Condition, RuleSpec

ALICE, BOB = "alice@example.test", "bob@example.test"
MESSAGE = (
    b"From: Carol Client <carol@client.example>\r\nTo: alice@example.test\r\n"
    b"Cc: Team <team@example.test>\r\nSubject: Invoice 42 overdue\r\n"
    b"X-Spam-Flag: YES\r\nMessage-ID: <inv42@client.example>\r\n\r\nPlease pay.\r\n"
)


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    for address in (ALICE, BOB):
        services.directory.add_user(SYSTEM, address, "Passw0rd-long")
    return services


def principal(services: Services, address: str) -> Principal:
    found = services.auth.principal(services.directory.get_user(SYSTEM, address).id)
    assert found is not None
    return found


def deliver(
    services: Services, tmp_path: Path, *rcpts: str, data: bytes = MESSAGE
) -> DeliveryReport:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    path = spool / f"m{len(list(spool.iterdir()))}.eml"
    path.write_bytes(data)
    resolved = [services.delivery.resolve(r) for r in rcpts]
    return services.delivery.deliver(path, resolved, mail_from="carol@client.example")


def contents(services: Services, address: str, mailbox: str = "INBOX") -> list[frozenset[str]]:
    """The flags of each message in `mailbox`."""
    _, states = services.messages.index(principal(services, address), mailbox)
    return [s.flags for s in states]


def rule(
    name: str, *actions: Action, conditions: tuple[Condition, ...] = (), **kw: object
) -> RuleSpec:
    return RuleSpec(name, conditions, actions, **kw)  # type: ignore[arg-type]


def test_owner_edits_rules_in_order(setup: Services) -> None:
    alice = principal(setup, ALICE)
    rules = setup.rules
    first = rules.add(alice, ALICE, rule("one", Action("mark_read")))
    second = rules.add(alice, ALICE, rule("two", Action("flag")))
    third = rules.add(alice, ALICE, rule("zero", Action("stop")), position=0)
    assert [r.spec.name for r in rules.list_all(alice, ALICE)] == ["zero", "one", "two"]
    assert [r.position for r in rules.list_all(alice, ALICE)] == [0, 1, 2]
    moved = rules.move(alice, ALICE, third.id, 5)
    assert [r.spec.name for r in moved] == ["one", "two", "zero"]
    changed = rules.replace(alice, ALICE, first.id, rule("uno", Action("discard"), enabled=False))
    assert (changed.spec.name, changed.spec.enabled, changed.position) == ("uno", False, 0)
    rules.remove(alice, ALICE, second.id)
    assert [(r.spec.name, r.position) for r in rules.list_all(alice, ALICE)] == [
        ("uno", 0),
        ("zero", 1),
    ]
    # Bob may not see or touch Alice's rules; an admin may.
    bob = principal(setup, BOB)
    with pytest.raises(PermissionDenied):
        rules.list_all(bob, ALICE)
    with pytest.raises(NotFound):
        rules.remove(bob, BOB, first.id)  # not his rule
    assert len(rules.list_all(SYSTEM, ALICE)) == 2
    with pytest.raises(InvalidInput):  # checked as tests/unit/test_rules.py shows
        rules.add(alice, ALICE, rule("self", Action("forward", ALICE)))


def test_move_mark_read_and_flag(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    setup.mailboxes.create(alice, "Invoices")
    setup.rules.add(
        alice,
        ALICE,
        rule(
            "invoices",
            Action("move_to", "Invoices"),
            Action("mark_read"),
            Action("flag"),
            conditions=(Condition("subject", "matches", "invoice * overdue"),),
        ),
    )
    report = deliver(setup, tmp_path, ALICE, BOB)
    assert len(report.delivered) == 2  # one transaction for both, different mailboxes
    assert contents(setup, ALICE, "Invoices") == [frozenset({"\\Seen", "\\Flagged"})]
    assert contents(setup, ALICE) == []
    assert contents(setup, BOB) == [frozenset()]  # Bob has no rules


def test_missing_folder_falls_back_to_inbox(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    setup.rules.add(alice, ALICE, rule("gone", Action("move_to", "Gone"), Action("mark_read")))
    deliver(setup, tmp_path, ALICE)
    assert contents(setup, ALICE) == [frozenset({"\\Seen"})]


def test_discard_counts_as_accepted(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    setup.rules.add(
        alice,
        ALICE,
        rule(
            "spam",
            Action("discard"),
            conditions=(Condition("header:x-spam-flag", "equals", "yes"),),
        ),
    )
    report = deliver(setup, tmp_path, ALICE)
    assert report.discarded == (ALICE,) and report.delivered == () and report.accepted
    assert contents(setup, ALICE) == []
    report = deliver(
        setup, tmp_path, ALICE, data=MESSAGE.replace(b"X-Spam-Flag: YES", b"X-Spam-Flag: NO")
    )
    assert len(report.delivered) == 1 and report.discarded == ()


def test_forward_is_reported_with_the_user(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    setup.rules.add(
        alice,
        ALICE,
        rule(
            "to phone",
            Action("forward", "alice.mobile@phone.example"),
            Action("discard"),
            conditions=(Condition("from", "equals", "carol@client.example"),),
        ),
    )
    setup.aliases.add(SYSTEM, "billing@example.test", [ALICE, "ledger@books.example"])
    report = deliver(setup, tmp_path, "billing@example.test")
    assert set(report.forwards) == {
        Forward("billing@example.test", "ledger@books.example"),
        Forward(ALICE, "alice.mobile@phone.example"),
    }
    assert report.discarded == (ALICE,)


def test_forward_loops_stop(setup: Services, tmp_path: Path) -> None:
    alice = principal(setup, ALICE)
    setup.rules.add(alice, ALICE, rule("all", Action("forward", "x@phone.example")))
    looped = b"Delivered-To: alice@example.test\r\n" + MESSAGE
    assert deliver(setup, tmp_path, ALICE, data=looped).forwards == ()
    hops = b"Received: from a by b; Fri, 27 Nov 2026 09:00:00 +0000\r\n" * 25 + MESSAGE
    assert deliver(setup, tmp_path, ALICE, data=hops).forwards == ()
    assert len(deliver(setup, tmp_path, ALICE).forwards) == 1


def test_conditions_order_stop_and_disabled(setup: Services) -> None:
    alice = principal(setup, ALICE)
    user_id = alice.user_id
    assert user_id is not None
    rules = setup.rules
    parsed = parse_message(MESSAGE)

    def outcome(size: int = len(MESSAGE)) -> Outcome:
        return rules.evaluate(user_id, parsed, size)

    assert outcome() == Outcome()  # no rules: INBOX as it is
    disabled = rules.add(alice, ALICE, rule("off", Action("discard"), enabled=False))
    assert outcome() == Outcome()
    rules.remove(alice, ALICE, disabled.id)
    # Display names, addresses and To+Cc; any/all; sizes.
    rules.add(
        alice,
        ALICE,
        rule(
            "team",
            Action("flag"),
            conditions=(Condition("to", "equals", "team"), Condition("from", "contains", "CLIENT")),
        ),
    )
    assert outcome().flags == {"\\Flagged"}
    rules.add(
        alice,
        ALICE,
        rule(
            "big or odd",
            Action("move_to", "Archive"),
            Action("stop"),
            conditions=(
                Condition("size_over", "contains", "100000"),
                Condition("header:X-Odd", "contains", "x"),
            ),
            match="any",
        ),
    )
    rules.add(alice, ALICE, rule("late", Action("mark_read")))
    assert outcome() == Outcome(flags=frozenset({"\\Flagged", "\\Seen"}))
    assert outcome(size=200_000) == Outcome("Archive", frozenset({"\\Flagged"}))  # stopped
    small = rules.add(
        alice,
        ALICE,
        rule(
            "small",
            Action("move_to", "Junk"),
            conditions=(Condition("size_under", "equals", "10"),),
        ),
    )
    assert outcome(size=9).mailbox == "Junk" and outcome(size=10).mailbox == "INBOX"
    rules.move(alice, ALICE, small.id, 0)
    assert outcome(size=9).mailbox == "Junk"  # the later move wins when both match
    # Globs: "*" and "?" only, whole value, any case; a missing header matches nothing.
    rules.add(
        alice,
        ALICE,
        rule(
            "glob",
            Action("move_to", "Drafts"),
            conditions=(Condition("from", "matches", "*@CLIENT.exampl?"),),
        ),
    )
    assert outcome().mailbox == "Drafts"
    rules.add(
        alice,
        ALICE,
        rule("absent", Action("discard"), conditions=(Condition("header:X-None", "matches", "*"),)),
    )
    assert not outcome().discard


def test_quota_fallback_keeps_the_others(setup: Services, tmp_path: Path) -> None:
    setup.directory.add_user(SYSTEM, "full@example.test", "Passw0rd-long", quota_bytes=10)
    alice = principal(setup, ALICE)
    setup.mailboxes.create(alice, "Clients")
    setup.rules.add(alice, ALICE, rule("clients", Action("move_to", "Clients")))
    full = principal(setup, "full@example.test")
    setup.rules.add(full, "full@example.test", rule("fwd", Action("forward", "f@x.example")))
    report = deliver(setup, tmp_path, ALICE, "full@example.test")
    assert report.over_quota == ("full@example.test",)
    assert len(report.delivered) == 1 and contents(setup, ALICE, "Clients") == [frozenset()]
    assert report.forwards == ()  # a refused message is not forwarded either


def test_rule_users_are_cached_per_node(setup: Services) -> None:
    """Delivery asks the database only for users with rules; this node sees its own edits
    at once, another node within the set's time to live."""
    alice = principal(setup, ALICE)
    assert alice.user_id is not None
    parsed = parse_message(MESSAGE)
    other_node = Rules(setup.delivery._db)
    assert other_node.evaluate(alice.user_id, parsed, 10) == Outcome()  # set loaded: empty
    setup.rules.add(alice, ALICE, rule("flag", Action("flag")))
    assert setup.rules.evaluate(alice.user_id, parsed, 10).flags == {"\\Flagged"}
    assert other_node.evaluate(alice.user_id, parsed, 10) == Outcome()  # not yet
    query = select(MailRule.user_id).where(MailRule.enabled.is_(True))
    users = UserSet(setup.delivery._db, query, ttl=0.0)
    assert users.any_of([alice.user_id]) and not users.any_of([alice.user_id + 1000])
