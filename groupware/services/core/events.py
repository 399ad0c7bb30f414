"""Change events, published by services after their transaction commits.

Front doors subscribe (IMAP selected views, IDLE, POP3, the web) and must not block:
a subscriber runs in the publishing thread, so it only hands the event on (an asyncio
front door uses loop.call_soon_threadsafe). Add an event as a frozen dataclass here,
and to EVENT_TYPES: other processes and nodes get it in the form `to_wire` gives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailboxEvent:
    user_id: int
    mailbox_id: int


@dataclass(frozen=True)
class MessageAdded(MailboxEvent):
    uid: int
    modseq: int


@dataclass(frozen=True)
class FlagsChanged(MailboxEvent):
    changes: tuple[tuple[int, int, frozenset[str]], ...]  # (uid, modseq, flags)


@dataclass(frozen=True)
class Expunged(MailboxEvent):
    uids: tuple[int, ...]
    modseq: int


@dataclass(frozen=True)
class MailboxCreated(MailboxEvent):
    name: str


@dataclass(frozen=True)
class MailboxRenamed(MailboxEvent):
    old_name: str
    new_name: str


@dataclass(frozen=True)
class MailboxDeleted(MailboxEvent):
    name: str


@dataclass(frozen=True)
class SubscriptionChanged(MailboxEvent):
    """A name joined or left the subscription list (mailbox_id 0: a subscription is a
    name, which need not be a mailbox)."""

    name: str
    subscribed: bool


EVERYONE = 0  # the user id of events that concern every user: subscribe to it for them


@dataclass(frozen=True)
class AccessChanged(MailboxEvent):
    """Shares, groups or their members, roles or grants changed (committed): what any
    process remembers of who may reach what is stale (dav/rights.py, dav/sharing.py).
    For EVERYONE, mailbox_id 0: few such changes are made, and each may touch many."""

    @classmethod
    def now(cls) -> AccessChanged:
        return cls(EVERYONE, 0)


Subscriber = Callable[[MailboxEvent], None]
Relay = Callable[[Sequence[MailboxEvent]], None]

EVENT_TYPES: dict[str, type[MailboxEvent]] = {
    kind.__name__: kind
    for kind in (
        MessageAdded,
        FlagsChanged,
        Expunged,
        MailboxCreated,
        MailboxRenamed,
        MailboxDeleted,
        SubscriptionChanged,
        AccessChanged,
    )
}


def to_wire(event: MailboxEvent) -> list[Any]:
    """The event as JSON values: its type's name, then its fields in order (tuples as
    lists, a set of flags as a sorted list)."""
    return [type(event).__name__, *(_plain(value) for value in astuple(event))]


def from_wire(item: object) -> MailboxEvent | None:
    """The event `to_wire` gave, or None for anything else (another version's event, or
    bytes that are not one): a relay must not fail on what it cannot read."""
    if not (isinstance(item, list) and item and isinstance(item[0], str)):
        return None
    if item[0] not in EVENT_TYPES:
        return None
    kind = EVENT_TYPES[item[0]]
    try:
        values: list[Any] = [_tupled(value) for value in item[1:]]
        if kind is FlagsChanged:
            changes = values[2]
            if not isinstance(changes, tuple) or not all(
                isinstance(c, tuple) and len(c) == 3 and isinstance(c[2], tuple) for c in changes
            ):
                return None
            values[2] = tuple((uid, modseq, frozenset(flags)) for uid, modseq, flags in values[2])
        event = kind(*values)
        return event if _well_typed(event) else None
    except (TypeError, ValueError, IndexError, RecursionError):
        return None


def split(event: MailboxEvent, parts: int) -> list[MailboxEvent]:
    """The event as up to `parts` events of the same kind (a relay's message has a size
    limit): flag changes and expunged UIDs shared out; others are one event."""
    if isinstance(event, FlagsChanged) and len(event.changes) > 1:
        size = -(-len(event.changes) // parts)
        return [
            FlagsChanged(event.user_id, event.mailbox_id, event.changes[i : i + size])
            for i in range(0, len(event.changes), size)
        ]
    if isinstance(event, Expunged) and len(event.uids) > 1:
        size = -(-len(event.uids) // parts)
        return [
            Expunged(event.user_id, event.mailbox_id, event.uids[i : i + size], event.modseq)
            for i in range(0, len(event.uids), size)
        ]
    return [event]


def _plain(value: object) -> object:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _tupled(value: object) -> object:
    return tuple(_tupled(item) for item in value) if isinstance(value, list) else value


def _well_typed(event: MailboxEvent) -> bool:
    """Numbers where numbers belong and text where text does (JSON could say anything)."""

    def number(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    fields = astuple(event)
    if not (number(fields[0]) and number(fields[1])):
        return False
    match event:
        case MessageAdded():
            return number(event.uid) and number(event.modseq)
        case FlagsChanged():
            return all(
                number(uid) and number(modseq) and all(isinstance(f, str) for f in flags)
                for uid, modseq, flags in event.changes
            )
        case Expunged():
            return number(event.modseq) and all(number(uid) for uid in event.uids)
        case SubscriptionChanged():
            return isinstance(event.name, str) and isinstance(event.subscribed, bool)
        case MailboxRenamed():
            return isinstance(event.old_name, str) and isinstance(event.new_name, str)
        case MailboxCreated() | MailboxDeleted():
            return isinstance(event.name, str)
        case AccessChanged():
            return True
    return False


class EventHub:
    """In-process publish/subscribe keyed by user (every event concerns one user's mail)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, list[Subscriber]] = {}
        self._relay: Relay | None = None

    def relay_to(self, relay: Relay | None) -> None:
        """Hand what is published here to other processes and nodes too (None: stop)."""
        self._relay = relay

    def subscribe(self, user_id: int, subscriber: Subscriber) -> Callable[[], None]:
        """Register; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.setdefault(user_id, []).append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._subscribers.get(user_id, [])
                if subscriber in listeners:
                    listeners.remove(subscriber)
                if not listeners:
                    self._subscribers.pop(user_id, None)

        return unsubscribe

    def listeners(self) -> int:
        """How many subscriptions of users are open (open IMAP views, IDLEs, live web
        pages; not the server's own to EVERYONE)."""
        with self._lock:
            return sum(len(listeners) for user, listeners in self._subscribers.items() if user)

    def publish(self, *events: MailboxEvent) -> None:
        """Tell this process's subscribers, then the relay (if any) for the others."""
        self.deliver(*events)
        relay = self._relay
        if relay is not None and events:
            try:
                relay(events)
            except Exception:  # what was published is committed: its caller must not fail
                log.exception("events not relayed to other processes: %r", events[:3])

    def deliver(self, *events: MailboxEvent) -> None:
        """Tell this process's subscribers only (what a relay brings from elsewhere)."""
        for event in events:
            with self._lock:
                listeners = list(self._subscribers.get(event.user_id, ()))
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("event subscriber failed on %r", event)
