"""A user's mailboxes: the default set, create, rename, delete, subscriptions, status, quota.

Names are Unicode with "/" between levels; "INBOX" is case-insensitive and always
stored so. Each change publishes its event after commit (services.events). Subscriptions
are names, apart from the mailboxes (RFC 3501 §6.3.6): CREATE adds none, DELETE keeps
the mailbox's, RENAME carries them along.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from groupware.errors import AlreadyExists, InvalidInput
from groupware.model.directory import User
from groupware.model.mail import Mailbox, Message, Subscription, Tombstone
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of
from groupware.services.core.events import (
    EventHub,
    Expunged,
    MailboxCreated,
    MailboxDeleted,
    MailboxEvent,
    MailboxRenamed,
    SubscriptionChanged,
)
from groupware.store import Database
from groupware.store.blobs import BlobStore
from groupware.store.mail import (
    add_usage,
    bump_modseq,
    mailbox_by_name,
    new_uidvalidity,
    usage,
)
from groupware.store.prefixes import starts_with

SEPARATOR = "/"
INBOX = "INBOX"
_INBOX_OF = select(Mailbox.id).where(Mailbox.user_id == bindparam("user"), Mailbox.name == INBOX)
DEFAULT_MAILBOXES = (
    (INBOX, None),
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)
SPECIAL_USES = frozenset(
    {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
)
MAX_NAME = 1000


@dataclass(frozen=True)
class MailboxInfo:
    id: int
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool  # its name is on the owner's subscription list
    messages: int
    unseen: int
    size: int


@dataclass(frozen=True)
class Quota:
    used_bytes: int
    limit_bytes: int  # 0: unlimited
    messages: int


def mailbox_info(mailbox: Mailbox, subscribed: bool) -> MailboxInfo:
    return MailboxInfo(
        mailbox.id,
        mailbox.name,
        mailbox.uidvalidity,
        mailbox.uidnext,
        mailbox.highestmodseq,
        mailbox.special_use,
        subscribed,
        mailbox.messages,
        mailbox.unseen,
        mailbox.size,
    )


def normalize_name(name: str) -> str:
    """Check a mailbox name and spell INBOX (and INBOX/…) the one way it is stored."""
    if not name or len(name.encode()) > MAX_NAME:
        raise InvalidInput("a mailbox name needs 1 to 1000 bytes")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidInput("a mailbox name cannot hold control characters")
    parts = name.split(SEPARATOR)
    if any(not part for part in parts):
        raise InvalidInput(f"not a valid mailbox name: {name!r} (empty level)")
    if parts[0].upper() == INBOX:
        parts[0] = INBOX
    return SEPARATOR.join(parts)


def own_mailboxes(actor: Principal) -> int:
    """The actor's user id, once it may use mail at all (its own, as owner)."""
    if actor.user_id is None:
        raise InvalidInput("the system has no mailboxes")
    access.require(
        actor,
        "mail.read",
        Resource("mailbox", actor.address, domain_of(actor.address), actor.user_id),
    )
    return actor.user_id


class Mailboxes:
    def __init__(self, database: Database, blobs: BlobStore, events: EventHub) -> None:
        self._db = database
        self._blobs = blobs
        self._events = events

    def ensure_defaults(self, user_id: int) -> None:
        """INBOX, Drafts, Sent, Trash, Junk and Archive, made once (idempotent) and
        subscribed."""
        with self._db.write() as session:
            existing = set(session.scalars(select(Mailbox.name).where(Mailbox.user_id == user_id)))
            missing = [(n, use) for n, use in DEFAULT_MAILBOXES if n not in existing]
            for name, special in missing:
                _create(session, user_id, name, special)
            _add_subscriptions(session, user_id, [name for name, _ in missing])

    def list_all(self, actor: Principal) -> list[MailboxInfo]:
        user_id = own_mailboxes(actor)
        self.ensure_defaults_if_new(user_id)
        with self._db.read() as session:
            subscribed = set(_subscribed_names(session, user_id))
            rows = session.scalars(
                select(Mailbox).where(Mailbox.user_id == user_id).order_by(Mailbox.name)
            )
            return [mailbox_info(m, m.name in subscribed) for m in rows]

    def special_folder(self, actor: Principal, use: str) -> str | None:
        """The name of the user's folder of special use `use` (RFC 6154: "\\Sent",
        "\\Trash", …), the first by name when several have it; None when none has."""
        found = [box.name for box in self.list_all(actor) if box.special_use == use]
        return min(found, default=None)

    def subscriptions(self, actor: Principal) -> list[str]:
        """The names on the subscription list, sorted; a name need not be a mailbox."""
        user_id = own_mailboxes(actor)
        self.ensure_defaults_if_new(user_id)
        with self._db.read() as session:
            return sorted(_subscribed_names(session, user_id))

    def ensure_defaults_if_new(self, user_id: int) -> None:
        """Every login asks: one pre-built query on a plain connection."""
        with self._db.reading() as connection:
            has_inbox = connection.execute(_INBOX_OF, {"user": user_id}).first()
        if has_inbox is None:
            self.ensure_defaults(user_id)

    def get(self, actor: Principal, name: str) -> MailboxInfo:
        user_id = own_mailboxes(actor)
        self.ensure_defaults_if_new(user_id)
        with self._db.read() as session:
            mailbox = mailbox_by_name(session, user_id, normalize_name(name))
            return mailbox_info(mailbox, _is_subscribed(session, user_id, mailbox.name))

    def create(self, actor: Principal, name: str, special_use: str | None = None) -> MailboxInfo:
        user_id = own_mailboxes(actor)
        name = normalize_name(name)
        if special_use is not None and special_use not in SPECIAL_USES:
            raise InvalidInput(f"unknown special use {special_use!r}")
        with self._db.write() as session:
            mailbox = _create(session, user_id, name, special_use)
            info = mailbox_info(mailbox, _is_subscribed(session, user_id, name))
        self._events.publish(MailboxCreated(user_id, info.id, name))
        return info

    def rename(self, actor: Principal, old: str, new: str) -> None:
        """RFC 3501 §6.3.5: children move along; renaming INBOX moves its messages into a
        new mailbox and leaves INBOX, empty, in place. The renamed mailboxes' subscriptions
        go with them (as in Cyrus, James); INBOX keeps its own."""
        user_id = own_mailboxes(actor)
        old, new = normalize_name(old), normalize_name(new)
        events: list[MailboxEvent] = []
        with self._db.write() as session:
            source = mailbox_by_name(session, user_id, old, lock=True)
            if _exists(session, user_id, new):
                raise AlreadyExists(f"a mailbox named {new!r} exists already")
            if new == old or new.startswith(old + SEPARATOR):
                raise InvalidInput("a mailbox cannot be renamed into itself")
            if old == INBOX:
                target = _create(session, user_id, new, None)
                moved, modseq = _move_all(session, source, target)
                events.append(MailboxCreated(user_id, target.id, new))
                if moved:  # sessions with INBOX open are told, as of any expunge
                    events.append(Expunged(user_id, source.id, tuple(moved), modseq))
            else:
                children = session.scalars(
                    select(Mailbox).where(
                        Mailbox.user_id == user_id, starts_with(Mailbox.name, old + SEPARATOR)
                    )
                ).all()
                renames = {m.name: new + m.name[len(old) :] for m in (source, *children)}
                for mailbox in (source, *children):
                    renamed = renames[mailbox.name]
                    events.append(MailboxRenamed(user_id, mailbox.id, mailbox.name, renamed))
                    mailbox.name = renamed
                _move_subscriptions(session, user_id, renames)
        self._events.publish(*events)

    def delete(self, actor: Principal, name: str) -> None:
        """Delete one mailbox and its messages (its children stay, RFC 3501 §6.3.4). Its
        subscription stays: a server "MUST NOT unilaterally remove" one (§6.3.6)."""
        user_id = own_mailboxes(actor)
        name = normalize_name(name)
        if name == INBOX:
            raise InvalidInput("INBOX cannot be deleted")
        with self._db.write() as session:
            mailbox = mailbox_by_name(session, user_id, name, lock=True)
            blob_ids = set(
                session.scalars(select(Message.blob_id).where(Message.mailbox_id == mailbox.id))
            )
            add_usage(session, user_id, -mailbox.size, -mailbox.messages)
            mailbox_id = mailbox.id
            session.delete(mailbox)  # messages, texts and tombstones go by cascade
        self._events.publish(MailboxDeleted(user_id, mailbox_id, name))
        self._blobs.collect(self._db, blob_ids)

    def subscribe(self, actor: Principal, name: str, subscribed: bool) -> None:
        """RFC 3501 §6.3.6 SUBSCRIBE, §6.3.7 UNSUBSCRIBE: any valid name, existing as a
        mailbox or not; both are idempotent."""
        user_id = own_mailboxes(actor)
        name = normalize_name(name)
        with self._db.write() as session:
            if subscribed:
                _add_subscriptions(session, user_id, [name])
            else:
                session.execute(
                    delete(Subscription).where(
                        Subscription.user_id == user_id, Subscription.name == name
                    )
                )
        self._events.publish(SubscriptionChanged(user_id, 0, name, subscribed))

    def quota(self, actor: Principal) -> Quota:
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            used, messages = usage(session, user_id)
            limit = session.scalar(select(User.quota_bytes).where(User.id == user_id)) or 0
        return Quota(used, limit, messages)

    def on_change(
        self, user_id: int, subscriber: Callable[[MailboxEvent], None]
    ) -> Callable[[], None]:
        return self._events.subscribe(user_id, subscriber)


def _exists(session: Session, user_id: int, name: str) -> bool:
    query = select(Mailbox.id).where(Mailbox.user_id == user_id, Mailbox.name == name)
    return session.scalar(query) is not None


def _create(session: Session, user_id: int, name: str, special_use: str | None) -> Mailbox:
    if _exists(session, user_id, name):
        raise AlreadyExists(f"a mailbox named {name!r} exists already")
    mailbox = Mailbox(
        user_id=user_id,
        name=name,
        uidvalidity=new_uidvalidity(session),
        uidnext=1,
        highestmodseq=1,
        special_use=special_use,
        messages=0,
        unseen=0,
        size=0,
    )
    session.add(mailbox)
    session.flush()
    return mailbox


def _move_all(session: Session, source: Mailbox, target: Mailbox) -> tuple[list[int], int]:
    """Every message of `source` into the new `target`, UIDs kept; tombstones left behind.
    Returns the UIDs moved and the MODSEQ of their tombstones."""
    modseq = bump_modseq(session, source)
    uids = list(session.scalars(select(Message.uid).where(Message.mailbox_id == source.id)))
    session.add_all(Tombstone(mailbox_id=source.id, uid=uid, modseq=modseq) for uid in uids)
    session.execute(
        update(Message).where(Message.mailbox_id == source.id).values(mailbox_id=target.id)
    )
    target.uidnext = source.uidnext
    target.highestmodseq = modseq  # above every moved row's (RFC 7162: MODSEQs only grow)
    target.messages, target.unseen, target.size = source.messages, source.unseen, source.size
    source.messages = source.unseen = source.size = 0
    return uids, modseq


def _subscribed_names(session: Session, user_id: int) -> Iterable[str]:
    return session.scalars(select(Subscription.name).where(Subscription.user_id == user_id))


def _is_subscribed(session: Session, user_id: int, name: str) -> bool:
    query = select(Subscription.name).where(
        Subscription.user_id == user_id, Subscription.name == name
    )
    return session.scalar(query) is not None


def _add_subscriptions(session: Session, user_id: int, names: Iterable[str]) -> None:
    """Subscribe the names; one already subscribed (even by a concurrent transaction)
    stays as it is."""
    rows = [{"user_id": user_id, "name": name} for name in names]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Subscription).values(rows).on_conflict_do_nothing())


def _move_subscriptions(session: Session, user_id: int, renames: dict[str, str]) -> None:
    """The subscriptions of renamed mailboxes, now under their new names."""
    names = list(renames)
    moved = [
        renames[name]
        for name in session.scalars(
            select(Subscription.name).where(
                Subscription.user_id == user_id, Subscription.name.in_(names)
            )
        )
    ]
    session.execute(
        delete(Subscription).where(Subscription.user_id == user_id, Subscription.name.in_(names))
    )
    _add_subscriptions(session, user_id, moved)
