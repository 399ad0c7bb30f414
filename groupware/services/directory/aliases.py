"""Aliases: an address (or a domain's catch-all "@domain") delivered to local users
and/or external addresses. Delivery (services/delivery/local.py) resolves them; this
owns their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from groupware.errors import AlreadyExists, InvalidInput
from groupware.model.directory import Alias, AliasTarget, Domain, User
from groupware.services.core import access, audit
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import (
    domain_of,
    normalize_address,
    normalize_alias,
    normalize_domain,
)
from groupware.store import Database
from groupware.store.directory import address_taken, alias_by_address, domain_by_name

MAX_TARGETS = 1000


@dataclass(frozen=True)
class AliasInfo:
    address: str
    domain: str
    local_targets: tuple[str, ...]
    external_targets: tuple[str, ...]

    @property
    def is_catch_all(self) -> bool:
        return self.address.startswith("@")


def alias_resource(address: str) -> Resource:
    return Resource("alias", address, domain_of(address))


class Aliases:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, actor: Principal, address: str, targets: list[str]) -> AliasInfo:
        """Create an alias; each target that is a local user is kept as that user."""
        address = normalize_alias(address)
        access.require(actor, "directory.aliases.manage", alias_resource(address))
        wanted = sorted({normalize_address(t) for t in targets})
        if not wanted:
            raise InvalidInput("an alias needs at least one target")
        if len(wanted) > MAX_TARGETS:
            raise InvalidInput(f"an alias has at most {MAX_TARGETS} targets")
        if address in wanted:
            raise InvalidInput("an alias cannot point to itself")
        with self._db.write() as session:
            domain = domain_by_name(session, domain_of(address))
            taken = address_taken(session, address)
            if taken:
                raise AlreadyExists(f"{address} is already {taken}")
            alias = Alias(domain_id=domain.id, address=address)
            session.add(alias)
            session.flush()
            local = {
                u.address: u.id
                for u in session.scalars(select(User).where(User.address.in_(wanted)))
            }
            hosted = set(
                session.scalars(
                    select(Domain.name).where(Domain.name.in_({domain_of(t) for t in wanted}))
                )
            )
            for target in wanted:
                if target in local:
                    session.add(AliasTarget(alias_id=alias.id, user_id=local[target]))
                elif domain_of(target) in hosted:
                    raise InvalidInput(f"no such local user: {target}")
                else:
                    session.add(AliasTarget(alias_id=alias.id, external_address=target))
            audit.record(
                session,
                actor,
                "alias.add",
                target=address,
                domain=domain.name,
                detail=" ".join(wanted),
            )
            return AliasInfo(
                address,
                domain.name,
                tuple(t for t in wanted if t in local),
                tuple(t for t in wanted if t not in local),
            )

    def list_all(self, actor: Principal, domain: str | None = None) -> list[AliasInfo]:
        visible = access.domains_with(actor, "directory.aliases.manage")
        query = (
            select(Alias.address, Domain.name, User.address, AliasTarget.external_address)
            .join(Domain, Domain.id == Alias.domain_id)
            .join(AliasTarget, AliasTarget.alias_id == Alias.id)
            .outerjoin(User, User.id == AliasTarget.user_id)
            .order_by(Alias.address)
        )
        if visible is not None:
            query = query.where(Domain.name.in_(visible))
        if domain:
            query = query.where(Domain.name == normalize_domain(domain))
        grouped: dict[str, tuple[str, list[str], list[str]]] = {}
        with self._db.read() as session:
            for address, domain_name, local, external in session.execute(query):
                entry = grouped.setdefault(address, (domain_name, [], []))
                if local:
                    entry[1].append(local)
                if external:
                    entry[2].append(external)
        return [
            AliasInfo(a, d, tuple(sorted(lo)), tuple(sorted(ex)))
            for a, (d, lo, ex) in grouped.items()
        ]

    def remove(self, actor: Principal, address: str) -> None:
        address = normalize_alias(address)
        access.require(actor, "directory.aliases.manage", alias_resource(address))
        with self._db.write() as session:
            session.delete(alias_by_address(session, address))
            audit.record(session, actor, "alias.remove", target=address, domain=domain_of(address))
