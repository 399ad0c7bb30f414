"""Each user's delivery rules: stored and edited by the owner (or whoever manages the
account), and evaluated at delivery on the parsed message, never its bytes. A new
condition or action is named in rulespec.py, then matched in `_Facts`/`_outcome` here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput, NotFound
from groupware.mime.headerlines import header_values
from groupware.mime.parse import ParsedMessage
from groupware.mime.structure import Address
from groupware.model.delivery import MailRule
from groupware.model.directory import User
from groupware.services.core import audit
from groupware.services.core.access import Principal
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.core.userset import UserSet
from groupware.services.delivery.rulespec import Action, Condition, RuleSpec, check_spec
from groupware.services.directory.accounts import managed_user
from groupware.services.mail.mailboxes import INBOX
from groupware.store import Database

log = logging.getLogger(__name__)

MAX_RULES = 100
FORWARDING = "Forward all mail"  # the rule the settings' Forwarding section keeps
# A rule never forwards a message that has passed this many hops (RFC 5321 §6.3) or that
# was delivered to the user before (their Delivered-To): forwarding loops end there.
MAX_HOPS = 25


@dataclass(frozen=True)
class Rule:
    id: int
    position: int  # 0, 1, … in evaluation order
    spec: RuleSpec


@dataclass(frozen=True)
class Outcome:
    """What a user's rules decided for one message (the last move_to wins)."""

    mailbox: str = INBOX
    flags: frozenset[str] = frozenset()
    forwards: tuple[str, ...] = ()
    discard: bool = False


class Rules:
    def __init__(self, database: Database) -> None:
        self._db = database
        enabled = select(MailRule.user_id).where(MailRule.enabled.is_(True)).distinct()
        self._users = UserSet(database, enabled)  # most users have none: no query for them

    # -- editing (the web settings page) ---------------------------------------------------

    def list_all(self, actor: Principal, address: str) -> list[Rule]:
        address = normalize_address(address)
        with self._db.read() as session:
            user = managed_user(session, actor, address, "account.manage")
            return [_rule(row) for row in _rows(session, user.id)]

    def add(
        self, actor: Principal, address: str, spec: RuleSpec, position: int | None = None
    ) -> Rule:
        """Add a rule at `position` (default: last), moving later ones down."""
        address = normalize_address(address)
        spec = check_spec(spec, address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            rows = list(_rows(session, user.id))
            if len(rows) >= MAX_RULES:
                raise InvalidInput(f"at most {MAX_RULES} rules per account")
            row = MailRule(user_id=user.id, position=len(rows), **_columns(spec))
            session.add(row)
            session.flush()
            where = len(rows) if position is None else max(0, min(position, len(rows)))
            rows.insert(where, row)
            _renumber(rows)
            _audit(session, actor, "rule.add", address, spec)
            added = _rule(row)
        self._users.changed()
        return added

    def replace(self, actor: Principal, address: str, rule_id: int, spec: RuleSpec) -> Rule:
        address = normalize_address(address)
        spec = check_spec(spec, address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            row = _own(session, user.id, rule_id)
            for name, value in _columns(spec).items():
                setattr(row, name, value)
            _audit(session, actor, "rule.change", address, spec)
            changed = _rule(row)
        self._users.changed()
        return changed

    def move(self, actor: Principal, address: str, rule_id: int, position: int) -> list[Rule]:
        """Put a rule at `position` (clamped); returns the rules in their new order."""
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            row = _own(session, user.id, rule_id)
            rows = [r for r in _rows(session, user.id) if r.id != row.id]
            rows.insert(max(0, min(position, len(rows))), row)
            _renumber(rows)
            return [_rule(r) for r in rows]

    def remove(self, actor: Principal, address: str, rule_id: int) -> None:
        address = normalize_address(address)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            row = _own(session, user.id, rule_id)
            spec = _rule(row).spec
            session.execute(delete(MailRule).where(MailRule.id == row.id))
            _renumber(_rows(session, user.id))
            _audit(session, actor, "rule.remove", address, spec)
        self._users.changed()

    # -- forwarding: a rule of its own, first, matching every message ---------------------

    def forwarding(self, actor: Principal, address: str) -> tuple[str, bool] | None:
        """Where all of the user's mail is forwarded, and whether a copy stays; None
        when it is not."""
        for rule in self.list_all(actor, address):
            if rule.spec.name == FORWARDING and rule.spec.enabled:
                targets = [a.value for a in rule.spec.actions if a.action == "forward"]
                keep = not any(a.action == "discard" for a in rule.spec.actions)
                return (targets[0], keep) if targets else None
        return None

    def set_forwarding(
        self, actor: Principal, address: str, target: str | None, *, keep: bool = True
    ) -> None:
        """Forward all of the user's mail to `target` (keeping a copy or not) before any
        other rule; None stops forwarding."""
        for rule in self.list_all(actor, address):
            if rule.spec.name == FORWARDING:
                self.remove(actor, address, rule.id)
        if target:
            actions = (Action("forward", target), *(() if keep else (Action("discard"),)))
            self.add(actor, address, RuleSpec(FORWARDING, (), actions), position=0)

    # -- delivery ------------------------------------------------------------------------

    def evaluate(self, user_id: int, parsed: ParsedMessage, size: int) -> Outcome:
        """What `user_id`'s rules decide for a message (INBOX, as it is, without rules)."""
        return self.evaluate_many([user_id], parsed, size).get(user_id, Outcome())

    def evaluate_many(
        self, user_ids: Sequence[int], parsed: ParsedMessage, size: int
    ) -> dict[int, Outcome]:
        """The outcome for each user who has enabled rules (one query for all of them);
        users without rules are absent: the message goes to their INBOX as it is."""
        if not self._users.any_of(user_ids):
            return {}
        by_user: dict[int, tuple[str, list[RuleSpec]]] = {}
        with self._db.read() as session:
            rows = session.execute(
                select(MailRule, User.address)
                .join(User, User.id == MailRule.user_id)
                .where(MailRule.user_id.in_(user_ids), MailRule.enabled.is_(True))
                .order_by(MailRule.user_id, MailRule.position, MailRule.id)
            ).all()
            for row, address in rows:
                try:
                    spec = _rule(row).spec
                except (AttributeError, KeyError, TypeError, ValueError):
                    log.warning("rule %d of user %d is malformed: skipped", row.id, row.user_id)
                    continue
                by_user.setdefault(row.user_id, (address, []))[1].append(spec)
        facts = _Facts(parsed, size)
        outcomes = {}
        for user_id, (address, specs) in by_user.items():
            try:
                outcomes[user_id] = _outcome(specs, facts, address)
            except (KeyError, TypeError, ValueError):  # a rule stored by hand, say
                log.exception("rules of %s failed: the message goes to INBOX", address)
        return outcomes


# -- evaluating ------------------------------------------------------------------------------


@dataclass
class _Facts:
    """What conditions look at, taken from the parse once per message."""

    parsed: ParsedMessage
    size: int
    _cache: dict[str, list[str]] = field(default_factory=dict)

    def candidates(self, name: str) -> list[str]:
        """The texts a condition on `name` compares with (any one may match)."""
        if name not in self._cache:
            if name == "from":
                found = _address_texts(self.parsed.from_)
            elif name == "to":
                found = _address_texts((*self.parsed.to, *self.parsed.cc))
            elif name == "subject":
                found = [self.parsed.subject]
            else:  # header:<Name>
                found = header_values(self.parsed.headers, name[7:])
            self._cache[name] = found
        return self._cache[name]

    def may_forward(self, user_address: str) -> bool:
        received = header_values(self.parsed.headers, "received")
        delivered = {
            v.strip("<> ").lower() for v in header_values(self.parsed.headers, "delivered-to")
        }
        return len(received) < MAX_HOPS and user_address.lower() not in delivered


def _address_texts(addresses: Iterable[Address]) -> list[str]:
    """For each address: its addr-spec, its display name, and "Name <addr-spec>"."""
    texts: list[str] = []
    for address in addresses:
        if address.mailbox is None or address.host is None:
            continue  # a group marker
        spec = f"{address.mailbox}@{address.host}"
        texts.append(spec)
        if address.name:
            texts += [address.name, f"{address.name} <{spec}>"]
    return texts


def _outcome(specs: list[RuleSpec], facts: _Facts, user_address: str) -> Outcome:
    mailbox, flags, forwards, discard = INBOX, set[str](), list[str](), False
    for spec in specs:
        if not _matches(spec, facts):
            continue
        stop = False
        for action in spec.actions:
            if action.action == "move_to":
                mailbox = action.value
            elif action.action == "mark_read":
                flags.add("\\Seen")
            elif action.action == "flag":
                flags.add("\\Flagged")
            elif action.action == "forward" and action.value not in forwards:
                forwards.append(action.value)
            elif action.action == "discard":
                discard = True
            elif action.action == "stop":
                stop = True
        if stop:
            break
    if forwards and not facts.may_forward(user_address):
        log.warning("forwarding loop suspected for %s: rule forwards withheld", user_address)
        forwards = []
    return Outcome(mailbox, frozenset(flags), tuple(forwards), discard)


def _matches(spec: RuleSpec, facts: _Facts) -> bool:
    if not spec.conditions:
        return True
    results = (_holds(c, facts) for c in spec.conditions)
    return all(results) if spec.match == "all" else any(results)


def _holds(condition: Condition, facts: _Facts) -> bool:
    if condition.field == "size_over":
        return facts.size > int(condition.value)
    if condition.field == "size_under":
        return facts.size < int(condition.value)
    wanted = condition.value.casefold()
    texts = facts.candidates(condition.field)
    if condition.op == "contains":
        return any(wanted in t.casefold() for t in texts)
    if condition.op == "equals":
        return any(wanted == t.strip().casefold() for t in texts)
    pattern = _glob(condition.value)
    return any(pattern.fullmatch(t.strip()) for t in texts)


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A glob with "*" (any run) and "?" (one character); everything else is literal."""
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


# -- rows -----------------------------------------------------------------------------------


def _rows(session: Session, user_id: int) -> Sequence[MailRule]:
    return session.scalars(
        select(MailRule).where(MailRule.user_id == user_id).order_by(MailRule.position, MailRule.id)
    ).all()


def _own(session: Session, user_id: int, rule_id: int) -> MailRule:
    row = session.get(MailRule, rule_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no rule {rule_id}")
    return row


def _renumber(rows: Sequence[MailRule]) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position


def _columns(spec: RuleSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "enabled": spec.enabled,
        "match": spec.match,
        "conditions": [{"field": c.field, "op": c.op, "value": c.value} for c in spec.conditions],
        "actions": [{"action": a.action, "value": a.value} for a in spec.actions],
    }


def _rule(row: MailRule) -> Rule:
    spec = RuleSpec(
        row.name,
        tuple(Condition(str(c["field"]), str(c["op"]), str(c["value"])) for c in row.conditions),
        tuple(Action(str(a["action"]), str(a.get("value", ""))) for a in row.actions),
        row.match,
        row.enabled,
    )
    return Rule(row.id, row.position, spec)


def _audit(session: Session, actor: Principal, action: str, address: str, spec: RuleSpec) -> None:
    # Forwarding rules are how a stolen session keeps reading mail: they are audited.
    forwards = [a.value for a in spec.actions if a.action == "forward"]
    detail = spec.name + (f" (forwards to {', '.join(forwards)})" if forwards else "")
    audit.record(session, actor, action, target=address, domain=domain_of(address), detail=detail)
