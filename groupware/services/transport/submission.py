"""Authenticated submission: which sender addresses a user may use, in the envelope
(MAIL FROM) and in the message (From:, Sender:, and the latest Resent-From:/Resent-Sender:).

A user sends as their own address (and its +tag forms), as aliases and group addresses
that reach them, and wherever access.can grants mail.send_as (custom roles, admins).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from groupware.errors import InvalidInput, PermissionDenied
from groupware.mime.authors import AuthorError, read_authors, read_resenders
from groupware.model.directory import Alias, AliasTarget, Group, GroupMember
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.store import Database


class AuthorUnreadable(InvalidInput):
    """No From:, several, an address in From:/Sender: that cannot be read, or the same in
    the topmost Resent- block (or no Resent-From: there)."""


class AuthorNotOwned(PermissionDenied):
    """A From:/Sender: (or Resent-From:/Resent-Sender:) address the submitting user may
    not send as."""


@dataclass(frozen=True)
class CheckedAuthors:
    """The normalised From: and Sender: addresses of a submitted message, all owned."""

    from_: tuple[str, ...]
    sender: tuple[str, ...] = ()

    @property
    def domains(self) -> tuple[str, ...]:
        """The From: domains, each once: the ones whose DKIM keys sign the message."""
        return tuple(dict.fromkeys(domain_of(a) for a in self.from_))


class Submission:
    def __init__(self, database: Database) -> None:
        self._db = database

    def may_send_as(self, principal: Principal, address: str) -> bool:
        try:
            address = normalize_address(address)
        except InvalidInput:
            return False
        local, _, domain = address.partition("@")
        base = local.partition("+")[0]
        if address == principal.address or f"{base}@{domain}" == principal.address:
            return True
        owned = Resource("address", address, domain_of(address), self._owner(address, principal))
        return access.can(principal, "mail.send_as", owned)

    def check_authors(self, principal: Principal, message: bytes) -> CheckedAuthors:
        """The From: and Sender: addresses of a message `principal` submits, each one they
        may send as (the envelope sender alone proves nothing to the reader, who sees only
        From:); AuthorUnreadable or AuthorNotOwned otherwise. When the user resends a
        message, the Resent-From: and Resent-Sender: of the block they add (the topmost,
        RFC 5322 §3.6.6) must be theirs too: readers show it as who sent it on. `message`
        may be the header section alone.

        Choice: a message without From: is refused (RFC 5322 §3.6 requires one; among
        what RFC 6409 §8 lets an MSA add, Sender:, Date: and Message-ID:, there is no
        From:) rather than given one made up from the envelope: clients always write it,
        and an author-less message fails DMARC everywhere. Resent-From: is no exception:
        a redirected message whose From: is someone else's is refused too.
        """
        try:
            authors = read_authors(message)
            from_ = tuple(dict.fromkeys(normalize_address(a) for a in authors.from_))
            sender = tuple(dict.fromkeys(normalize_address(a) for a in authors.sender))
            resent = read_resenders(message)
            resenders = tuple(
                dict.fromkeys(normalize_address(a) for a in resent.from_ + resent.sender)
            )
        except (AuthorError, InvalidInput) as error:
            raise AuthorUnreadable(f"unusable author fields ({error})") from None
        for address in dict.fromkeys(from_ + sender + resenders):
            if not self.may_send_as(principal, address):
                raise AuthorNotOwned(f"{principal.address} may not send as {address}")
        return CheckedAuthors(from_, sender)

    def _owner(self, address: str, principal: Principal) -> int | None:
        """The principal's user id when an alias or group address leads to them."""
        if principal.user_id is None:
            return None
        with self._db.read() as session:
            via_alias = session.scalar(
                select(AliasTarget.id)
                .join(Alias, Alias.id == AliasTarget.alias_id)
                .where(Alias.address == address, AliasTarget.user_id == principal.user_id)
            )
            via_group = session.scalar(
                select(GroupMember.user_id)
                .join(Group, Group.id == GroupMember.group_id)
                .where(Group.address == address, GroupMember.user_id == principal.user_id)
            )
        return principal.user_id if via_alias or via_group else None
