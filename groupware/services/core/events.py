"""Change events, published by services after their transaction commits.

Front doors subscribe (IMAP selected views, IDLE, POP3, the web) and must not block:
a subscriber runs in the publishing thread, so it only hands the event on (an asyncio
front door uses loop.call_soon_threadsafe). Add an event as a frozen dataclass here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

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


Subscriber = Callable[[MailboxEvent], None]


class EventHub:
    """In-process publish/subscribe keyed by user (every event concerns one user's mail)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, list[Subscriber]] = {}

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
        """How many subscriptions are open (open IMAP views, IDLEs, live web pages)."""
        with self._lock:
            return sum(len(listeners) for listeners in self._subscribers.values())

    def publish(self, *events: MailboxEvent) -> None:
        for event in events:
            with self._lock:
                listeners = list(self._subscribers.get(event.user_id, ()))
            for listener in listeners:
                try:
                    listener(event)
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("event subscriber failed on %r", event)
