"""Lookups of directory rows by their natural keys, shared by the directory services.

They raise NotFound with a message fit for a user, so callers need no None checks.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from groupware.errors import NotFound
from groupware.model.directory import Alias, Domain, Group, Role, User


def domain_by_name(session: Session, name: str) -> Domain:
    domain = session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        raise NotFound(f"unknown domain: {name}")
    return domain


def user_by_address(session: Session, address: str) -> User:
    user = session.scalar(select(User).where(User.address == address))
    if user is None:
        raise NotFound(f"unknown user: {address}")
    return user


def group_by_name(session: Session, name: str, domain: str | None) -> Group:
    """A group by "name" (unique across domains) or by "name" in one domain."""
    query = select(Group).join(Domain, Domain.id == Group.domain_id).where(Group.name == name)
    if domain is not None:
        query = query.where(Domain.name == domain)
    groups = session.scalars(query).all()
    if not groups:
        raise NotFound(f"unknown group: {name}")
    if len(groups) > 1:
        raise NotFound(f"group name {name!r} exists in several domains: say which (name@domain)")
    return groups[0]


def role_by_name(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.name == name.strip().lower()))
    if role is None:
        raise NotFound(f"unknown role: {name}")
    return role


def alias_by_address(session: Session, address: str) -> Alias:
    alias = session.scalar(select(Alias).where(Alias.address == address))
    if alias is None:
        raise NotFound(f"unknown alias: {address}")
    return alias


def address_taken(session: Session, address: str) -> str | None:
    """What already uses an address (user, alias, group), or None."""
    if session.scalar(select(func.count()).where(User.address == address)):
        return "a user"
    if session.scalar(select(func.count()).where(Alias.address == address)):
        return "an alias"
    if session.scalar(select(func.count()).where(Group.address == address)):
        return "a group"
    return None
