"""Local delivery: which mailboxes an address reaches, and storing a message in them as
each user's rules say. It never sends: the forwards and vacation replies it reports go
out through the router (route.py).

An address resolves, in order, to the original sender behind one of our SRS addresses (a
bad one is refused outright, never passed to the catch-all), a user, a user by
plus-addressing (user+tag@), an alias (local users and external addresses), a group
address (every member), or the domain's catch-all alias. Extend `resolve` for new kinds
of addresses.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, select

from groupware.errors import InvalidInput, NotFound, QuotaExceeded
from groupware.mime.parse import ParsedMessage, parse_message
from groupware.model.directory import Alias, AliasTarget, Domain, Group, GroupMember, User
from groupware.model.mail import Mailbox, MailUsage
from groupware.services.core.addresses import domain_of, normalize_address, normalize_domain
from groupware.services.delivery.rules import Outcome, Rules
from groupware.services.delivery.srs import Srs, SrsRefused, is_srs
from groupware.services.delivery.vacation import AutoReply, Vacation
from groupware.services.mail.mailboxes import INBOX
from groupware.services.mail.messages import Appended, Destination, Messages
from groupware.store import Database

log = logging.getLogger(__name__)

_Found = tuple[tuple[tuple[int, str], ...], tuple[str, ...]]  # (local users, external)


class MailboxDisabled(NotFound):
    """The address is a user whose account is disabled (550 5.2.1, not 5.1.1)."""


@dataclass(frozen=True)
class Resolved:
    """Where one recipient address leads."""

    address: str
    hosted: bool  # False: a domain we do not host (mail to relay)
    local: tuple[tuple[int, str], ...] = ()  # (user id, user address)
    external: tuple[str, ...] = ()  # addresses elsewhere (forwarding)


@dataclass(frozen=True)
class Forward:
    """A copy for the outbound queue: `target`, on behalf of `recipient` (the alias, SRS
    address or user whose rule forwards), whose domain the rewritten sender takes (SRS)."""

    recipient: str
    target: str


@dataclass(frozen=True)
class DeliveryReport:
    delivered: tuple[Appended, ...] = ()
    over_quota: tuple[str, ...] = ()  # user addresses whose quota refused the message
    too_big: tuple[str, ...] = ()  # those of them whose whole quota is smaller than it
    forwards: tuple[Forward, ...] = ()  # for the outbound queue, one per target
    discarded: tuple[str, ...] = ()  # user addresses whose rules dropped the message
    replied: tuple[str, ...] = ()  # user addresses whose vacation answer went (the router's)
    replies: tuple[AutoReply, ...] = ()  # vacation answers written, for the router to send
    stored_for: tuple[str, ...] = ()  # user addresses that now hold the message

    @property
    def accepted(self) -> bool:
        """Some user took the message (stored, or discarded by their own rule)."""
        return bool(self.delivered or self.discarded)


_AS_IS = Outcome()  # no rules: INBOX, no flags


class LocalDelivery:
    def __init__(
        self,
        database: Database,
        messages: Messages,
        *,
        rules: Rules,
        vacation: Vacation,
        srs: Srs,
    ) -> None:
        self._db = database
        self._messages = messages
        self._rules = rules
        self._vacation = vacation
        self._srs = srs

    def hosts(self, domain: str) -> bool:
        with self._db.read() as session:
            return session.scalar(select(Domain.id).where(Domain.name == domain)) is not None

    def resolve(self, address: str) -> Resolved:
        """Resolve a recipient of a hosted domain; NotFound when nothing answers to it.

        A domain we do not host resolves to a remote recipient (is_remote). An SRS address
        of ours with a good hash resolves to the original sender as its external target, so
        bounces of forwarded mail find their way back (the SRS local part may exceed 64
        characters, so it is read before the address is normalised); one with a bad hash or
        too old raises SrsRefused, even with a catch-all, so a guesser always learns "no".
        """
        if is_srs(address):
            found_srs = self._srs_sender(address)
            if found_srs is not None:
                return found_srs
        try:
            address = normalize_address(address)
        except InvalidInput:
            raise NotFound(f"no such recipient: {address}") from None
        domain = domain_of(address)
        # A connection, not an ORM session: every RCPT asks, and each lookup reads one
        # committed state of its own (an edit racing it answers either way).
        with self._db.reading() as connection:
            if connection.scalar(select(Domain.id).where(Domain.name == domain)) is None:
                return Resolved(address, hosted=False)
            found = _resolve(connection, address)
            if found is None:
                local, _, _ = address.partition("@")
                base, plus, _tag = local.partition("+")
                if plus and base:
                    found = _user(connection, f"{base}@{domain}")
            if found is None:
                found = _alias(connection, "@" + domain)  # the catch-all comes last
        if found is None:
            raise NotFound(f"no such recipient: {address}")
        return Resolved(address, True, found[0], found[1])

    def full_mailboxes(self, recipient: Resolved) -> list[str]:
        """The local users of `recipient` already at or over their quota."""
        ids = [user_id for user_id, _ in recipient.local]
        if not ids:
            return []
        with self._db.reading() as connection:
            rows = connection.execute(
                select(User.address)
                .outerjoin(MailUsage, MailUsage.user_id == User.id)
                .where(
                    User.id.in_(ids),
                    User.quota_bytes > 0,
                    func.coalesce(MailUsage.bytes, 0) >= User.quota_bytes,
                )
            )
            return [address for (address,) in rows]

    def deliver(
        self, spool: Path, recipients: list[Resolved], mail_from: str = ""
    ) -> DeliveryReport:
        """Store the message once per local user reached, where that user's rules put it,
        skipping users whose quota it would exceed; report forwards (aliases' and rules')
        and the vacation replies to `mail_from`, the envelope sender ("" for a bounce,
        which is never answered), for the router to send."""
        users: dict[int, str] = {}
        reached: dict[int, set[str]] = {}  # user id → recipient addresses that led there
        forwards: dict[str, Forward] = {}  # by target: one copy each
        for recipient in recipients:
            for user_id, address in recipient.local:
                users.setdefault(user_id, address)
                reached.setdefault(user_id, set()).add(recipient.address)
            for target in recipient.external:
                forwards.setdefault(target, Forward(recipient.address, target))
        if not users:
            return DeliveryReport(forwards=tuple(forwards.values()))
        parsed = parse_message(spool.read_bytes())  # once: rules, store and replies read it
        outcomes = self._rules.evaluate_many(list(users), parsed, parsed.size)
        targets = []
        for user_id in users:
            outcome = outcomes.get(user_id, _AS_IS)
            if not outcome.discard:  # default mailboxes exist from the account's creation
                targets.append(Destination(user_id, outcome.mailbox, outcome.flags))
        delivered, over, too_big = self._store(spool, self._existing(targets), parsed)
        for user_id, outcome in outcomes.items():
            if user_id not in over:  # a refused message is not forwarded either
                for target in outcome.forwards:
                    forwards.setdefault(target, Forward(users[user_id], target))
        discarded = [users[u] for u, o in outcomes.items() if o.discard]
        accepted = {u: reached[u] for u in users if u not in over and users[u] not in discarded}
        replies = self._vacation.replies(mail_from, parsed, accepted)
        return DeliveryReport(
            tuple(delivered),
            tuple(users[u] for u in over),
            tuple(users[u] for u in too_big),
            tuple(forwards.values()),
            tuple(discarded),
            (),
            tuple(replies),
            tuple(users[u] for u in accepted),
        )

    def _store(
        self, spool: Path, targets: list[Destination], parsed: ParsedMessage
    ) -> tuple[list[Appended], list[int], list[int]]:
        """(stored, users over quota, those of them whose quota is smaller than the
        message). One transaction for all when they all have
        room (the common case); otherwise each user alone, so that one full mailbox does
        not refuse the others."""
        if not targets:
            return [], [], []
        try:
            return self._messages.deliver(spool, targets, parsed=parsed), [], []
        except (QuotaExceeded, NotFound):
            pass
        delivered: list[Appended] = []
        over: list[int] = []
        too_big: list[int] = []
        for target in targets:
            try:
                try:
                    delivered += self._messages.deliver(spool, [target], parsed=parsed)
                except NotFound:  # the rule's mailbox went away since `_existing`
                    inbox = dataclasses.replace(target, mailbox=INBOX)
                    delivered += self._messages.deliver(spool, [inbox], parsed=parsed)
            except QuotaExceeded as refused:
                over.append(target.user_id)
                if refused.permanent:
                    too_big.append(target.user_id)
        return delivered, over, too_big

    def _existing(self, targets: list[Destination]) -> list[Destination]:
        """`targets`, with a mailbox that does not exist (any more) replaced by INBOX."""
        elsewhere = [t for t in targets if t.mailbox != INBOX]
        if not elsewhere:
            return targets
        with self._db.read() as session:
            found = set(
                session.execute(
                    select(Mailbox.user_id, Mailbox.name).where(
                        Mailbox.user_id.in_(sorted({t.user_id for t in elsewhere})),
                        Mailbox.name.in_(sorted({t.mailbox for t in elsewhere})),
                    )
                ).tuples()
            )
        result = []
        for target in targets:
            if target.mailbox != INBOX and (target.user_id, target.mailbox) not in found:
                log.warning(
                    "rule mailbox %r of user %d is missing: delivered to INBOX",
                    target.mailbox,
                    target.user_id,
                )
                target = dataclasses.replace(target, mailbox=INBOX)
            result.append(target)
        return result

    def _srs_sender(self, address: str) -> Resolved | None:
        """The original sender behind an SRS address of a hosted domain (None: not one of
        our domains); SrsRefused when it does not check out."""
        try:
            domain = normalize_domain(address.rpartition("@")[2])
        except InvalidInput:
            return None
        if not self.hosts(domain):
            return None
        original = self._srs.reverse(address)
        if original is None:
            log.info("SRS address %s refused: bad hash or too old", address)
            raise SrsRefused(f"no such recipient: {address}")
        return Resolved(address, True, (), (original,))


def _resolve(connection: Connection, address: str) -> _Found | None:
    return _user(connection, address) or _alias(connection, address) or _group(connection, address)


def _user(connection: Connection, address: str) -> _Found | None:
    user = connection.execute(select(User.id, User.active).where(User.address == address)).first()
    if user is None:
        return None
    if not user.active:
        raise MailboxDisabled(f"mailbox disabled: {address}")
    return ((user.id, address),), ()


def _alias(connection: Connection, address: str) -> _Found | None:
    alias_id = connection.scalar(select(Alias.id).where(Alias.address == address))
    if alias_id is None:
        return None
    rows = connection.execute(
        select(User.id, User.address, User.active, AliasTarget.external_address)
        .select_from(AliasTarget)
        .outerjoin(User, User.id == AliasTarget.user_id)
        .where(AliasTarget.alias_id == alias_id)
    ).all()
    local = tuple((r[0], r[1]) for r in rows if r[0] is not None and r[2])
    external = tuple(r[3] for r in rows if r[3] is not None)
    return (local, external) if local or external else None


def _group(connection: Connection, address: str) -> _Found | None:
    group_id = connection.scalar(select(Group.id).where(Group.address == address))
    if group_id is None:
        return None
    members = connection.execute(
        select(User.id, User.address)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id, User.active.is_(True))
    ).all()
    return tuple((m[0], m[1]) for m in members), ()
