"""The identities a user sends from in webmail: their own address, the aliases that lead
to them, and any other address they may send as (services/transport/submission.py says
which), each with the name and signature it carries. An identity is kept only once the
user changes something about it; the others are offered with the account's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from groupware.errors import InvalidInput, NotFound, PermissionDenied
from groupware.model.directory import Alias, AliasTarget, User
from groupware.model.webmail import Identity
from groupware.services.core.access import Principal
from groupware.services.core.addresses import normalize_address
from groupware.services.mail.mailboxes import own_mailboxes
from groupware.services.transport.submission import Submission
from groupware.store import Database

MAX_IDENTITIES = 50
MAX_SIGNATURE = 10_000
MAX_NAME = 200


@dataclass(frozen=True)
class SendingIdentity:
    address: str
    name: str
    signature: str
    is_default: bool


class Identities:
    def __init__(self, database: Database, submission: Submission) -> None:
        self._db = database
        self._submission = submission

    def list_all(self, actor: Principal) -> list[SendingIdentity]:
        """The user's own address, their aliases, then the other addresses they added;
        the default one first."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            account_name = session.scalar(select(User.display_name).where(User.id == user_id))
            aliases = session.scalars(
                select(Alias.address)
                .join(AliasTarget, AliasTarget.alias_id == Alias.id)
                .where(AliasTarget.user_id == user_id, ~Alias.address.startswith("@"))
                .order_by(Alias.address)
            ).all()
            stored = {
                address: SendingIdentity(address, name, signature, default)
                for address, name, signature, default in session.execute(
                    select(
                        Identity.address, Identity.name, Identity.signature, Identity.is_default
                    ).where(Identity.user_id == user_id)
                )
            }
        addresses = list(dict.fromkeys([actor.address, *aliases, *sorted(stored)]))
        default = next(
            (a for a in addresses if a in stored and stored[a].is_default), actor.address
        )
        found = []
        for address in addresses:
            kept = stored.get(address)
            name = kept.name if kept is not None else account_name or ""
            signature = kept.signature if kept is not None else ""
            found.append(SendingIdentity(address, name, signature, address == default))
        found.sort(key=lambda identity: not identity.is_default)
        return found

    def choose(self, actor: Principal, address: str) -> SendingIdentity:
        """The identity to send a message from; PermissionDenied for an address the user
        may not send as."""
        for identity in self.list_all(actor):
            if identity.address == address:
                return identity
        raise PermissionDenied(f"{actor.address} may not send as {address}")

    def save(
        self, actor: Principal, address: str, name: str, signature: str, *, is_default: bool
    ) -> SendingIdentity:
        """Keep `address` as an identity with this name and signature (and as the default
        if asked); PermissionDenied for an address the user may not send as."""
        address = normalize_address(address)
        name, signature = " ".join(name.split()), signature.replace("\r\n", "\n")
        if len(name) > MAX_NAME or len(signature) > MAX_SIGNATURE:
            raise InvalidInput(
                f"a name has up to {MAX_NAME} characters, a signature {MAX_SIGNATURE}"
            )
        if not self._submission.may_send_as(actor, address):
            raise PermissionDenied(f"{actor.address} may not send as {address}")
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            row = session.scalar(
                select(Identity).where(Identity.user_id == user_id, Identity.address == address)
            )
            if row is None:
                count = session.scalar(select(func.count()).where(Identity.user_id == user_id))
                if (count or 0) >= MAX_IDENTITIES:
                    raise InvalidInput(f"at most {MAX_IDENTITIES} identities")
                row = Identity(user_id=user_id, address=address)
                session.add(row)
            if is_default:
                session.execute(
                    update(Identity).where(Identity.user_id == user_id).values(is_default=False)
                )
            row.name, row.signature, row.is_default = name, signature, is_default
        return SendingIdentity(address, name, signature, is_default)

    def remove(self, actor: Principal, address: str) -> None:
        """Forget what was kept about `address` (the account's own address and its aliases
        are still offered, with the account's name and no signature)."""
        address = normalize_address(address)
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            gone = session.execute(
                delete(Identity).where(Identity.user_id == user_id, Identity.address == address)
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"no identity {address}")
