"""A listener's sessions take the store's events from the hub once per user, not once
per session: the hub's publisher (a delivery's thread) then wakes the event loop once per
event, and the loop hands it to each of the user's sessions. One delivery reaching
10,000 IDLE sessions of a mailbox is one cross-thread call, not 10,000 (bench/imap.py,
push)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from groupware.services.core.events import EventHub, MailboxEvent, Subscriber

log = logging.getLogger(__name__)


class LoopEvents:
    """Subscriptions of one event loop's sessions (subscribe and unsubscribe on it)."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._sessions: dict[int, list[Subscriber]] = {}
        self._unsubscribe: dict[int, Callable[[], None]] = {}

    def subscribe(self, user_id: int, receive: Subscriber) -> Callable[[], None]:
        """Call `receive` on this loop with each of the user's events; returns the
        function that unsubscribes."""
        listeners = self._sessions.get(user_id)
        if listeners is None:
            listeners = self._sessions[user_id] = []
            loop = asyncio.get_running_loop()

            def hand_over(event: MailboxEvent, listeners: list[Subscriber] = listeners) -> None:
                loop.call_soon_threadsafe(_dispatch, listeners, event)

            self._unsubscribe[user_id] = self._hub.subscribe(user_id, hand_over)
        listeners.append(receive)

        def unsubscribe() -> None:
            if receive in listeners:
                listeners.remove(receive)
            if not listeners and self._sessions.get(user_id) is listeners:
                del self._sessions[user_id]
                self._unsubscribe.pop(user_id)()

        return unsubscribe


def _dispatch(listeners: list[Subscriber], event: MailboxEvent) -> None:
    for receive in list(listeners):
        try:
            receive(event)
        except Exception:  # one broken session must not stop the others
            log.exception("session failed on %r", event)
