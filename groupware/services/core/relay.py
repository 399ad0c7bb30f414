"""Events between processes and nodes: what this process's hub publishes goes out on a
channel (PostgreSQL NOTIFY), and what the others publish comes into the hub for this
process's subscribers, so an IDLE here hears a delivery made by another node.

A message on the channel is JSON: {"from": this relay's random name, "events": [...]}
in `events.to_wire` form, as many events as fit the channel's limit; an event too big
for one is shared out (`events.split`). A relay ignores its own messages (its hub told
its subscribers already) and whatever it cannot read.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Protocol

from groupware.services.core.events import EventHub, MailboxEvent, from_wire, split, to_wire

log = logging.getLogger(__name__)


class Channel(Protocol):
    limit: int  # bytes of one message

    def start(self, heard: Callable[[str], None] | None) -> None: ...  # None: send only
    def send(self, payload: str) -> None: ...
    def stop(self) -> None: ...


class EventRelay:
    def __init__(self, hub: EventHub, channel: Channel) -> None:
        self.hub = hub
        self.channel = channel
        self.node = secrets.token_hex(8)

    def start(self, listen: bool = True) -> None:
        """Relay what is published here; and, if `listen`, deliver what others publish
        (a command that only changes things, as the CLI's, need not)."""
        self.channel.start(self.heard if listen else None)
        self.hub.relay_to(self.send)

    def stop(self) -> None:
        self.hub.relay_to(None)
        self.channel.stop()

    def send(self, events: Sequence[MailboxEvent]) -> None:
        for payload in self.payloads(events):
            self.channel.send(payload)

    def payloads(self, events: Sequence[MailboxEvent]) -> list[str]:
        head = '{"from": ' + json.dumps(self.node) + ', "events": ['
        room = self.channel.limit - len(head) - 2
        encoded: list[str] = []
        for event in events:
            encoded.extend(self._fitting(event, room))
        payloads: list[str] = []
        batch: list[str] = []
        size = 0
        for item in encoded:
            if batch and size + len(item) + 1 > room:
                payloads.append(head + ",".join(batch) + "]}")
                batch, size = [], 0
            batch.append(item)
            size += len(item) + 1
        if batch:
            payloads.append(head + ",".join(batch) + "]}")
        return payloads

    def _fitting(self, event: MailboxEvent, room: int) -> list[str]:
        """The event's JSON, shared out over several events until each fits `room`."""
        text = json.dumps(to_wire(event))  # ASCII: its length is its size in bytes
        if len(text) <= room:
            return [text]
        parts = split(event, 2)
        if len(parts) == 1:  # one message's flags longer than a channel message
            log.warning("event too big for other processes, not sent: %r", event)
            return []
        return [text for part in parts for text in self._fitting(part, room)]

    def heard(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except (ValueError, RecursionError):
            log.warning("event relay ignored a message that is not JSON")
            return
        if not isinstance(message, dict) or message.get("from") == self.node:
            return
        items = message.get("events")
        if not isinstance(items, list):
            return
        events = [event for item in items if (event := from_wire(item)) is not None]
        if events:
            self.hub.deliver(*events)
