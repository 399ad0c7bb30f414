"""`Messages.delete` (what POP3 UPDATE runs), on SQLite and PostgreSQL: exactly the named
UIDs go, whatever their flags, in one transaction, with tombstones, one Expunged event,
and counters and quota usage kept exact, for thousands of UIDs at once too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from groupware.services import Services
from groupware.services.core.access import SYSTEM
from groupware.services.core.events import Expunged, MailboxEvent
from groupware.services.mail.messages import Destination
from tests.integration.test_mail_store import MESSAGE, check_counters, spool, user


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    return services


def test_delete_removes_exactly_the_named_uids(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    messages = setup.messages
    for flags in ([], ["\\Seen"], ["\\Deleted"], [], ["\\Seen"]):
        messages.append(bob, "INBOX", spool(tmp_path), flags=flags)
    before = setup.mailboxes.get(bob, "INBOX").highestmodseq
    seen: list[MailboxEvent] = []
    unsubscribe = setup.mailboxes.on_change(bob.user_id or 0, seen.append)
    try:
        # 3 is flagged \Deleted but not named: it stays (unlike an EXPUNGE); 9 never was.
        assert messages.delete(bob, "inbox", [4, 1, 2, 9, 1]) == [1, 2, 4]
    finally:
        unsubscribe()

    assert [m.uid for m in messages.index(bob, "INBOX")[1]] == [3, 5]
    inbox = setup.mailboxes.get(bob, "INBOX")
    assert (inbox.messages, inbox.unseen, inbox.size) == (2, 1, 2 * len(MESSAGE))
    quota = setup.mailboxes.quota(bob)
    assert (quota.used_bytes, quota.messages) == (2 * len(MESSAGE), 2)
    check_counters(setup, bob)

    changed, vanished = messages.changes_since(bob, "INBOX", before)
    assert changed == [] and vanished == [1, 2, 4]
    assert inbox.highestmodseq == before + 1  # one transaction, one MODSEQ
    assert seen == [Expunged(bob.user_id or 0, inbox.id, (1, 2, 4), inbox.highestmodseq)]

    assert messages.delete(bob, "INBOX", [1, 2]) == []  # gone already: nothing, no event
    assert setup.mailboxes.get(bob, "INBOX").highestmodseq == before + 1


def test_delete_thousands_of_uids_at_once(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    messages = setup.messages
    # One delivery naming INBOX 3,100 times: one transaction, not 3,100 appends.
    messages.deliver(spool(tmp_path), [Destination(bob.user_id or 0, "INBOX")] * 3100)
    uids = [m.uid for m in messages.index(bob, "INBOX")[1]]
    assert len(uids) == 3100
    before = setup.mailboxes.get(bob, "INBOX").highestmodseq

    doomed = uids[:3000]
    assert messages.delete(bob, "INBOX", doomed) == doomed

    assert [m.uid for m in messages.index(bob, "INBOX")[1]] == uids[3000:]
    assert messages.changes_since(bob, "INBOX", before)[1] == doomed
    inbox = setup.mailboxes.get(bob, "INBOX")
    assert inbox.highestmodseq == before + 1
    assert (inbox.messages, inbox.size) == (100, 100 * len(MESSAGE))
    assert setup.mailboxes.quota(bob).used_bytes == 100 * len(MESSAGE)
    check_counters(setup, bob)
