"""Delivery rule input (services/rulespec.check_spec) without a database: a table of specs
refused, and what the accepted ones are normalised to.
"""

from __future__ import annotations

import pytest

from groupware.errors import InvalidInput
from groupware.services.delivery.rulespec import Action, Condition, RuleSpec, check_spec

OWNER = "alice@example.test"


def rule(*actions: Action, conditions: tuple[Condition, ...] = (), name: str = "r") -> RuleSpec:
    return RuleSpec(name, conditions, actions)


def when(field: str, op: str, value: str) -> RuleSpec:
    return rule(Action("flag"), conditions=(Condition(field, op, value),))


@pytest.mark.parametrize(
    "spec",
    [
        rule(Action("flag"), name=""),
        rule(Action("flag"), name="tab\there"),
        rule(),
        rule(Action("explode")),
        when("body", "contains", "x"),
        when("subject", "regex", "x"),
        when("subject", "contains", " "),
        when("subject", "contains", "x" * 1001),
        when("size_over", "equals", "1MB"),
        when("size_under", "equals", "-1"),
        when("header:a b", "equals", "x"),
        when("header:", "equals", "x"),
        rule(Action("move_to", "a//b")),
        rule(Action("move_to", "")),
        rule(Action("forward", "not an address")),
        rule(Action("forward", "Alice@Example.test")),  # its own account
        RuleSpec("r", (), (Action("flag"),), match="most"),
        rule(*[Action("flag")] * 21),
    ],
)
def test_refused(spec: RuleSpec) -> None:
    with pytest.raises(InvalidInput):
        check_spec(spec, OWNER)


def test_normalised() -> None:
    spec = RuleSpec(
        "  Clients  ",
        (
            Condition("From", "contains", " Carol "),
            Condition("HEADER: X-Spam-Flag", "equals", "yes"),
            Condition("size_over", "contains", "007"),
        ),
        (
            Action("Move_To", "inbox/Clients"),
            Action("FORWARD", "Bob@EXAMPLE.test"),
            Action("stop", "x"),
        ),
        match="any",
    )
    assert check_spec(spec, OWNER) == RuleSpec(
        "Clients",
        (
            Condition("from", "contains", "Carol"),
            Condition("header:X-Spam-Flag", "equals", "yes"),
            Condition("size_over", "contains", "7"),
        ),
        (Action("move_to", "INBOX/Clients"), Action("forward", "bob@example.test"), Action("stop")),
        match="any",
    )
