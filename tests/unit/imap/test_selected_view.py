"""A selected mailbox's view when events come late: events from other processes and
nodes (services/core/relay.py) can come after later local ones."""

from __future__ import annotations

import pytest

from groupware.protocols.imap.selected import SelectedView
from groupware.services.core.events import Expunged, FlagsChanged, MessageAdded


@pytest.fixture
def view() -> SelectedView:
    return SelectedView(1, "INBOX", False, [1, 2], flags={1: frozenset(), 2: frozenset()})


def test_a_message_expunged_before_its_arrival_is_heard_stays_gone(view: SelectedView) -> None:
    view.receive(Expunged(9, 1, (3,), 20))
    assert view.updates(expunges=True, condstore=False, qresync=False) == []
    view.receive(MessageAdded(9, 1, 3, 10))  # from another node, after its expunge
    assert view.arrived() == []
    assert view.updates(expunges=True, condstore=False, qresync=False) == []
    assert view.uids == [1, 2]


def test_flags_older_than_those_known_are_not_told(view: SelectedView) -> None:
    view.receive(FlagsChanged(9, 1, ((1, 30, frozenset({"\\Seen"})),)))
    view.receive(FlagsChanged(9, 1, ((1, 20, frozenset({"\\Flagged"})),)))  # came late
    lines = view.updates(expunges=True, condstore=True, qresync=False)
    assert lines == [b"* 1 FETCH (FLAGS (\\Seen) MODSEQ (30))\r\n"]
    assert view.flags[1] == frozenset({"\\Seen"})


def test_what_the_opening_snapshot_holds_is_not_told_again() -> None:
    """Opened at UIDNEXT 5 and HIGHESTMODSEQ 40: an event of another process about a UID
    below 5 (stored, perhaps expunged, before the snapshot) or a change up to modseq 40
    is already in what the client was told at SELECT."""
    view = SelectedView(
        1,
        "INBOX",
        False,
        [1, 4],
        flags={1: frozenset(), 4: frozenset()},
        uidnext=5,
        highestmodseq=40,
    )
    view.receive(MessageAdded(9, 1, 3, 30))  # 3 was expunged before the SELECT
    view.receive(FlagsChanged(9, 1, ((1, 35, frozenset({"\\Seen"})),)))
    assert view.arrived() == []
    assert view.updates(expunges=True, condstore=True, qresync=False) == []
    view.receive(MessageAdded(9, 1, 5, 41))
    assert view.arrived() == [5]
    lines = view.updates(expunges=True, condstore=True, qresync=False)
    assert lines == [b"* 3 EXISTS\r\n", b"* 0 RECENT\r\n"]
