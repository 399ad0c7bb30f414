"""Local delivery: which mailboxes an address reaches, and storing a message in them.

An address resolves, in order, to a user, a user by plus-addressing (user+tag@), an
alias (local users and external addresses), a group address (every member), or the
domain's catch-all alias. Extend `resolve` for new kinds of addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput, NotFound, QuotaExceeded
from groupware.model.directory import Alias, AliasTarget, Domain, Group, GroupMember, User
from groupware.model.mail import MailUsage
from groupware.services.addresses import domain_of, normalize_address
from groupware.services.mail import Appended, Delivery, Messages
from groupware.services.mailboxes import INBOX, Mailboxes
from groupware.store import Database

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
class DeliveryReport:
    delivered: tuple[Appended, ...] = ()
    over_quota: tuple[str, ...] = ()  # user addresses whose quota refused the message
    forwards: tuple[str, ...] = field(default=())  # external targets, for the outbound queue


class LocalDelivery:
    def __init__(self, database: Database, mailboxes: Mailboxes, messages: Messages) -> None:
        self._db = database
        self._mailboxes = mailboxes
        self._messages = messages

    def hosts(self, domain: str) -> bool:
        with self._db.read() as session:
            return session.scalar(select(Domain.id).where(Domain.name == domain)) is not None

    def resolve(self, address: str) -> Resolved:
        """Resolve a recipient of a hosted domain; NotFound when nothing answers to it.

        A domain we do not host resolves to a remote recipient (is_remote).
        """
        try:
            address = normalize_address(address)
        except InvalidInput:
            raise NotFound(f"no such recipient: {address}") from None
        domain = domain_of(address)
        with self._db.read() as session:
            if session.scalar(select(Domain.id).where(Domain.name == domain)) is None:
                return Resolved(address, hosted=False)
            found = _resolve(session, address)
            if found is None:
                local, _, _ = address.partition("@")
                base, plus, _tag = local.partition("+")
                if plus and base:
                    found = _user(session, f"{base}@{domain}")
            if found is None:
                found = _alias(session, "@" + domain)  # the catch-all comes last
        if found is None:
            raise NotFound(f"no such recipient: {address}")
        return Resolved(address, True, found[0], found[1])

    def full_mailboxes(self, recipient: Resolved) -> list[str]:
        """The local users of `recipient` already at or over their quota."""
        ids = [user_id for user_id, _ in recipient.local]
        if not ids:
            return []
        with self._db.read() as session:
            rows = session.execute(
                select(User.address)
                .outerjoin(MailUsage, MailUsage.user_id == User.id)
                .where(
                    User.id.in_(ids),
                    User.quota_bytes > 0,
                    func.coalesce(MailUsage.bytes, 0) >= User.quota_bytes,
                )
            )
            return [address for (address,) in rows]

    def deliver(self, spool: Path, recipients: list[Resolved]) -> DeliveryReport:
        """Store the message in the INBOX of every local user reached (once per user),
        skipping users whose quota it would exceed; external targets are reported back."""
        users: dict[int, str] = {}
        for recipient in recipients:
            users.update(dict(recipient.local))
        forwards = tuple(sorted({a for r in recipients for a in r.external}))
        delivered: list[Appended] = []
        over: list[str] = []
        for user_id in users:
            self._mailboxes.ensure_defaults_if_new(user_id)
        # One transaction for all when they all have room (the common case); otherwise
        # each user alone, so that one full mailbox does not refuse the others.
        targets = [Delivery(user_id, INBOX) for user_id in users]
        try:
            if targets:
                delivered = self._messages.deliver(spool, targets)
        except QuotaExceeded:
            for target in targets:
                try:
                    delivered += self._messages.deliver(spool, [target])
                except QuotaExceeded:
                    over.append(users[target.user_id])
        return DeliveryReport(tuple(delivered), tuple(over), forwards)


def _resolve(session: Session, address: str) -> _Found | None:
    return _user(session, address) or _alias(session, address) or _group(session, address)


def _user(session: Session, address: str) -> _Found | None:
    user = session.execute(select(User.id, User.active).where(User.address == address)).first()
    if user is None:
        return None
    if not user.active:
        raise MailboxDisabled(f"mailbox disabled: {address}")
    return ((user.id, address),), ()


def _alias(session: Session, address: str) -> _Found | None:
    alias_id = session.scalar(select(Alias.id).where(Alias.address == address))
    if alias_id is None:
        return None
    rows = session.execute(
        select(User.id, User.address, User.active, AliasTarget.external_address)
        .select_from(AliasTarget)
        .outerjoin(User, User.id == AliasTarget.user_id)
        .where(AliasTarget.alias_id == alias_id)
    ).all()
    local = tuple((r[0], r[1]) for r in rows if r[0] is not None and r[2])
    external = tuple(r[3] for r in rows if r[3] is not None)
    return (local, external) if local or external else None


def _group(session: Session, address: str) -> _Found | None:
    group_id = session.scalar(select(Group.id).where(Group.address == address))
    if group_id is None:
        return None
    members = session.execute(
        select(User.id, User.address)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id, User.active.is_(True))
    ).all()
    return tuple((m[0], m[1]) for m in members), ()
