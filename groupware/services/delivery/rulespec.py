"""What a delivery rule may say: conditions on from/to/subject/a header/the size, actions
(move, mark read, flag, forward, discard, stop), and `check_spec` for a rule as edited.
To add a condition or action: name it here, check it in `_condition`/`_action`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from groupware.errors import InvalidInput
from groupware.services.core.addresses import normalize_address
from groupware.services.mail.mailboxes import normalize_name

# "to" is To and Cc; "header:<Name>" any field by name; sizes in bytes (strictly over/under).
FIELDS = frozenset({"from", "to", "subject", "size_over", "size_under"})
OPS = frozenset({"contains", "equals", "matches"})  # matches: a glob, "*" and "?" only
ACTIONS = frozenset({"move_to", "mark_read", "flag", "forward", "discard", "stop"})
MAX_PARTS = 20  # conditions, and actions, per rule
MAX_VALUE = 1000
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}\Z")  # RFC 5322 §3.6.8 ftext


@dataclass(frozen=True)
class Condition:
    field: str  # from, to, subject, header:<Name>, size_over, size_under
    op: str = "contains"
    value: str = ""


@dataclass(frozen=True)
class Action:
    action: str  # move_to <mailbox>, mark_read, flag, forward <address>, discard, stop
    value: str = ""


@dataclass(frozen=True)
class RuleSpec:
    """A rule as edited: with no conditions it matches every message."""

    name: str
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    match: str = "all"  # all, any
    enabled: bool = True


def check_spec(spec: RuleSpec, owner: str) -> RuleSpec:
    """`spec` normalised, or InvalidInput saying what is wrong with it."""
    name = spec.name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidInput("a rule needs a name of 1 to 100 characters")
    if spec.match not in {"all", "any"}:
        raise InvalidInput('a rule matches "all" or "any" of its conditions')
    if len(spec.conditions) > MAX_PARTS or len(spec.actions) > MAX_PARTS:
        raise InvalidInput(f"at most {MAX_PARTS} conditions and {MAX_PARTS} actions per rule")
    if not spec.actions:
        raise InvalidInput("a rule needs at least one action")
    return RuleSpec(
        name,
        tuple(_condition(c) for c in spec.conditions),
        tuple(_action(a, owner) for a in spec.actions),
        spec.match,
        bool(spec.enabled),
    )


def _condition(condition: Condition) -> Condition:
    field_name = condition.field.strip()
    lowered = field_name.lower()
    if lowered.startswith("header:"):
        header = field_name[7:].strip()
        if not _HEADER_NAME.match(header):
            raise InvalidInput(f"not a header field name: {header!r}")
        field_name = "header:" + header
    elif lowered in FIELDS:
        field_name = lowered
    else:
        raise InvalidInput(f"unknown condition field {condition.field!r}")
    if condition.op not in OPS:
        raise InvalidInput(f"unknown comparison {condition.op!r} (contains, equals, matches)")
    value = condition.value.strip()
    if field_name in {"size_over", "size_under"}:
        if not value.isdigit() or len(value) > 18:
            raise InvalidInput("a size condition needs a number of bytes")
        return Condition(field_name, condition.op, str(int(value)))
    if not value or len(value) > MAX_VALUE or not value.isprintable():
        raise InvalidInput(f"a condition needs a value of 1 to {MAX_VALUE} characters")
    return Condition(field_name, condition.op, value)


def _action(action: Action, owner: str) -> Action:
    kind = action.action.strip().lower()
    if kind not in ACTIONS:
        raise InvalidInput(f"unknown action {action.action!r}")
    if kind == "move_to":
        return Action(kind, normalize_name(action.value.strip()))
    if kind == "forward":
        target = normalize_address(action.value)
        if target == owner:
            raise InvalidInput("a rule cannot forward to its own account")
        return Action(kind, target)
    return Action(kind)
