"""Authenticated submission: which sender addresses a user may use.

A user sends as their own address (and its +tag forms), as aliases and group addresses
that reach them, and wherever access.can grants mail.send_as (custom roles, admins).
"""

from __future__ import annotations

from sqlalchemy import select

from groupware.errors import InvalidInput
from groupware.model.directory import Alias, AliasTarget, Group, GroupMember
from groupware.services import access
from groupware.services.access import Principal, Resource
from groupware.services.addresses import domain_of, normalize_address
from groupware.store import Database


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
