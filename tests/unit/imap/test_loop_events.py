"""A listener's sessions share one hub subscription per user (protocols/imap/
loopevents.py): an event published in another thread wakes the loop once and reaches
every session of the user; the last one gone ends the subscription."""

from __future__ import annotations

import asyncio
import threading

from groupware.protocols.imap.loopevents import LoopEvents
from groupware.services.core.events import EventHub, MailboxEvent, MessageAdded


def test_one_subscription_per_user_reaches_each_session() -> None:
    hub = EventHub()
    events = LoopEvents(hub)

    async def scenario() -> dict[str, list[MailboxEvent]]:
        heard: dict[str, list[MailboxEvent]] = {"a": [], "b": [], "other": []}
        gone_a = events.subscribe(7, heard["a"].append)
        gone_b = events.subscribe(7, heard["b"].append)
        gone_other = events.subscribe(8, heard["other"].append)
        assert hub.listeners() == 2  # users 7 and 8, not three sessions
        publisher = threading.Thread(target=hub.publish, args=(MessageAdded(7, 1, 5, 9),))
        publisher.start()
        publisher.join()
        for _ in range(10):
            await asyncio.sleep(0)
        gone_a()
        assert hub.listeners() == 2  # b still listens
        gone_b()
        gone_other()
        assert hub.listeners() == 0
        return heard

    heard = asyncio.run(scenario())
    assert heard["a"] == heard["b"] == [MessageAdded(7, 1, 5, 9)] and heard["other"] == []
