"""Events in the form other processes get them (events.to_wire / from_wire), and the
relay's messages: each within the channel's limit, big events shared out, nothing of its
own taken twice, and whatever is not an event ignored."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from groupware.services.core.events import (
    AccessChanged,
    EventHub,
    Expunged,
    FlagsChanged,
    MailboxCreated,
    MailboxDeleted,
    MailboxEvent,
    MailboxRenamed,
    MessageAdded,
    SubscriptionChanged,
    from_wire,
    to_wire,
)
from groupware.services.core.relay import EventRelay

ids = st.integers(min_value=0, max_value=2**63 - 1)
names = st.text(max_size=40)
flags = st.frozensets(st.text(min_size=1, max_size=30), max_size=6)
events = st.one_of(
    st.builds(MessageAdded, ids, ids, ids, ids),
    st.builds(FlagsChanged, ids, ids, st.lists(st.tuples(ids, ids, flags), max_size=30).map(tuple)),
    st.builds(Expunged, ids, ids, st.lists(ids, max_size=50).map(tuple), ids),
    st.builds(MailboxCreated, ids, ids, names),
    st.builds(MailboxRenamed, ids, ids, names, names),
    st.builds(MailboxDeleted, ids, ids, names),
    st.builds(SubscriptionChanged, ids, ids, names, st.booleans()),
    st.builds(AccessChanged, ids, ids),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


class Wire:
    """Channels joined like PostgreSQL's: every message to every started channel."""

    def __init__(self) -> None:
        self.ears: list[Callable[[str], None]] = []
        self.sent: list[str] = []


class MemoryChannel:
    limit = 600

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    def start(self, heard: Callable[[str], None]) -> None:
        self.wire.ears.append(heard)

    def send(self, payload: str) -> None:
        assert len(payload.encode()) <= self.limit
        self.wire.sent.append(payload)
        for ear in self.wire.ears:
            ear(payload)

    def stop(self) -> None:
        self.wire.ears.clear()


def joined() -> tuple[Wire, EventHub, EventHub]:
    """Two processes' hubs, each with a started relay on one wire."""
    wire, here, there = Wire(), EventHub(), EventHub()
    EventRelay(here, MemoryChannel(wire)).start()
    EventRelay(there, MemoryChannel(wire)).start()
    return wire, here, there


def heard_by(hub: EventHub, user_id: int) -> list[MailboxEvent]:
    got: list[MailboxEvent] = []
    hub.subscribe(user_id, got.append)
    return got


@given(events)
def test_every_event_comes_back_the_same_through_json(event: MailboxEvent) -> None:
    assert from_wire(json.loads(json.dumps(to_wire(event)))) == event


@given(json_values)
def test_anything_else_is_no_event(value: object) -> None:
    event = from_wire(value)
    assert event is None or from_wire(json.loads(json.dumps(to_wire(event)))) == event


def test_wrong_types_are_no_event() -> None:
    for item in (
        ["MessageAdded", 1, 2, "3", 4],
        ["MessageAdded", True, 2, 3, 4],
        ["MessageAdded", 1, 2, 3],
        ["FlagsChanged", 1, 2, [[1, 2, [3]]]],
        ["FlagsChanged", 1, 2, [[1, 2]]],
        ["FlagsChanged", 1, 2, [[1, 2, "ab"]]],
        ["FlagsChanged", 1, 2, 3],
        ["FlagsChanged", 1, 2, [[]]],
        ["FlagsChanged", 1],
        ["Expunged", 1, 2, ["x"], 3],
        ["SubscriptionChanged", 1, 0, "a", 1],
        ["MailboxRenamed", 1, 2, "a", None],
        ["Unknown", 1, 2],
        [],
        "MessageAdded",
    ):
        assert from_wire(item) is None, item


def test_others_hear_each_event_once_and_the_publisher_its_own_once() -> None:
    wire = Wire()
    here, there = EventHub(), EventHub()
    relays = [EventRelay(here, MemoryChannel(wire)), EventRelay(there, MemoryChannel(wire))]
    for relay in relays:
        relay.start()
    mine, theirs = heard_by(here, 7), heard_by(there, 7)
    added = MessageAdded(7, 1, 10, 100)
    here.publish(added)
    assert mine == [added] and theirs == [added]
    for relay in relays:
        relay.stop()
    here.publish(MessageAdded(7, 1, 11, 101))
    assert theirs == [added]  # stopped: nothing goes out


def test_big_events_are_shared_out_within_the_limit() -> None:
    wire, here, there = joined()
    theirs = heard_by(there, 3)
    keywords = frozenset(f"$keyword{n}" for n in range(8))
    changes = tuple((uid, 1000 + uid, keywords) for uid in range(1, 400))
    gone = tuple(range(1, 3000))
    names = [MailboxCreated(3, n, "Projekt/Ärger " + "x" * 200) for n in range(1, 6)]
    here.publish(FlagsChanged(3, 1, changes), Expunged(3, 1, gone, 5000), *names)
    assert len(wire.sent) > 10
    got_changes = [c for e in theirs if isinstance(e, FlagsChanged) for c in e.changes]
    got_gone = [u for e in theirs if isinstance(e, Expunged) for u in e.uids]
    assert got_changes == list(changes)
    assert got_gone == list(gone)
    assert [e for e in theirs if isinstance(e, MailboxCreated)] == names


def test_one_message_too_big_for_a_message_is_left_out_not_fatal() -> None:
    _, here, there = joined()
    theirs = heard_by(there, 3)
    huge = FlagsChanged(3, 1, ((1, 2, frozenset({"k" * 1000})),))
    added = MessageAdded(3, 1, 2, 3)
    here.publish(huge, added)
    assert theirs == [added]


def test_what_is_not_a_relay_message_is_ignored() -> None:
    hub = EventHub()
    relay = EventRelay(hub, MemoryChannel(Wire()))
    got = heard_by(hub, 1)
    for payload in (
        "not json",
        "[]",
        '{"from": "x"}',
        '{"from": "x", "events": {"a": 1}}',
        '{"from": "x", "events": [["MessageAdded", 1, 2, "3", 4], 5, null]}',
        "{" * 10_000,
    ):
        relay.heard(payload)
    relay.heard(json.dumps({"from": relay.node, "events": [to_wire(MessageAdded(1, 1, 1, 1))]}))
    assert got == []  # its own message: its hub told its subscribers when it published
    relay.heard(json.dumps({"from": "other", "events": [to_wire(MessageAdded(1, 1, 1, 1))]}))
    assert got == [MessageAdded(1, 1, 1, 1)]
