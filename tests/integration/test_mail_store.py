"""The mail store through its services, on SQLite and PostgreSQL: default mailboxes,
append from a spooled file, flags and keywords with MODSEQs, expunge with tombstones,
copy and move, quota kept exact, blobs shared and collected, renames, events.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import StoreConfig
from groupware.errors import AlreadyExists, InvalidInput, NotFound, QuotaExceeded
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.core.events import Expunged, FlagsChanged, MailboxEvent, MessageAdded
from groupware.services.mail.messages import Destination
from groupware.store.mail import recount
from tests.conftest import make_config

MESSAGE = (
    b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
    b"Subject: Lunch plans\r\nDate: Fri, 27 Nov 2026 09:00:00 +0100\r\n"
    b"Message-ID: <lunch@example.test>\r\n\r\nShall we meet at noon?\r\n"
)


def spool(tmp_path: Path, data: bytes = MESSAGE, name: str = "msg") -> Path:
    path = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.eml"
    path.write_bytes(data)
    return path


def user(services: Services, address: str, quota: int = 0) -> Principal:
    info = services.directory.add_user(SYSTEM, address, "Passw0rd-long", quota_bytes=quota)
    principal = services.auth.principal(info.id)
    assert principal is not None
    return principal


@pytest.fixture
def setup(services: Services) -> Services:
    services.directory.add_domain(SYSTEM, "example.test")
    return services


def check_counters(services: Services, actor: Principal) -> None:
    """The kept counters agree with the rows (messages, unseen, bytes) and with usage."""
    database = services.messages._db  # the test reads the rows the counters summarise
    total = 0
    for box in services.mailboxes.list_all(actor):
        with database.read() as session:
            assert recount(session, box.id) == (box.messages, box.unseen, box.size), box.name
        total += box.size
    assert services.mailboxes.quota(actor).used_bytes == total


def test_default_mailboxes_with_special_use(setup: Services) -> None:
    carol = user(setup, "carol@example.test")
    boxes = {b.name: b for b in setup.mailboxes.list_all(carol)}
    assert set(boxes) == {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"}
    assert boxes["Sent"].special_use == "\\Sent" and boxes["INBOX"].special_use is None
    assert all(b.highestmodseq >= 1 and b.uidnext == 1 for b in boxes.values())
    assert len({b.uidvalidity for b in boxes.values()}) == 6


def test_append_read_flags_and_expunge(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    messages = setup.messages
    first = messages.append(bob, "inbox", spool(tmp_path), flags=["\\Seen", "$Important"])
    second = messages.append(bob, "INBOX", spool(tmp_path))
    assert (first.uid, second.uid) == (1, 2) and second.modseq > first.modseq
    assert messages.read(bob, "INBOX", 1) == MESSAGE
    _, index = messages.index(bob, "INBOX")
    assert [(m.uid, m.flags, m.size) for m in index] == [
        (1, frozenset({"\\Seen", "$Important"}), len(MESSAGE)),
        (2, frozenset(), len(MESSAGE)),
    ]
    inbox = setup.mailboxes.get(bob, "INBOX")
    assert (inbox.messages, inbox.unseen, inbox.uidnext) == (2, 1, 3)

    changed, refused = messages.store_flags(bob, "INBOX", [1, 2], "add", ["\\Deleted"])
    assert [c.uid for c in changed] == [1, 2] and refused == []
    modseq = changed[0].modseq
    changed, refused = messages.store_flags(
        bob, "INBOX", [1, 2], "remove", ["\\Deleted"], unchanged_since=modseq - 1
    )
    assert changed == [] and refused == [1, 2]  # RFC 7162: modified since
    changed, _ = messages.store_flags(bob, "INBOX", [2], "replace", ["\\Flagged", "todo"])
    assert changed[0].flags == {"\\Flagged", "todo"}
    assert messages.store_flags(bob, "INBOX", [2], "add", ["todo"]) == ([], [])  # no change

    assert messages.expunge(bob, "INBOX") == [1]
    changes, vanished = messages.changes_since(bob, "INBOX", modseq)
    assert [c.uid for c in changes] == [2] and vanished == [1]
    check_counters(setup, bob)

    with pytest.raises(InvalidInput):
        messages.store_flags(bob, "INBOX", [2], "add", ["\\Bogus"])
    with pytest.raises(InvalidInput):
        messages.store_flags(bob, "INBOX", [2], "add", ["bad keyword"])
    with pytest.raises(NotFound):
        messages.append(bob, "Nowhere", spool(tmp_path))


def test_copy_move_share_blobs_and_keep_usage_exact(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    messages = setup.messages
    for _ in range(3):
        messages.append(bob, "INBOX", spool(tmp_path))
    uidvalidity, pairs = messages.copy(bob, "INBOX", [1, 3], "Archive")
    assert uidvalidity == setup.mailboxes.get(bob, "Archive").uidvalidity
    assert pairs == [(1, 1), (3, 2)]
    assert setup.mailboxes.quota(bob).used_bytes == 5 * len(MESSAGE)
    _, pairs = messages.copy(bob, "INBOX", [2], "Trash", move=True)
    assert pairs == [(2, 1)]
    assert [m.uid for m in messages.index(bob, "INBOX")[1]] == [1, 3]
    assert messages.changes_since(bob, "INBOX", 1)[1] == [2]
    check_counters(setup, bob)
    blobs = tmp_path / "var" / "blobs"
    files = [p for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".")]
    if setup_uses_files(setup):
        assert len(files) == 1  # five copies, one blob


def setup_uses_files(services: Services) -> bool:
    return type(services.messages._blobs).__name__ == "FileBlobStore"


def test_quota_refuses_whole_and_changes_nothing(setup: Services, tmp_path: Path) -> None:
    small = user(setup, "small@example.test", quota=len(MESSAGE) * 2)
    messages = setup.messages
    messages.append(small, "INBOX", spool(tmp_path))
    messages.append(small, "INBOX", spool(tmp_path))
    with pytest.raises(QuotaExceeded):
        messages.append(small, "INBOX", spool(tmp_path))
    with pytest.raises(QuotaExceeded):
        messages.copy(small, "INBOX", [1], "Archive")
    messages.copy(small, "INBOX", [1], "Archive", move=True)  # a move needs no room
    assert setup.mailboxes.quota(small).used_bytes == 2 * len(MESSAGE)
    check_counters(setup, small)


def test_delivery_to_many_is_one_blob_and_one_transaction(setup: Services, tmp_path: Path) -> None:
    bob, eve = user(setup, "bob@example.test"), user(setup, "eve@example.test", quota=10)
    for who in (bob, eve):
        setup.mailboxes.ensure_defaults(who.user_id or 0)
    targets = [Destination(bob.user_id or 0, "INBOX"), Destination(eve.user_id or 0, "INBOX")]
    with pytest.raises(QuotaExceeded):
        setup.messages.deliver(spool(tmp_path), targets)
    assert setup.mailboxes.get(bob, "INBOX").messages == 0  # refused whole
    results = setup.messages.deliver(spool(tmp_path), targets[:1])
    assert results[0].uid == 1


def test_blob_goes_with_its_last_message(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    messages = setup.messages
    messages.append(bob, "INBOX", spool(tmp_path), flags=["\\Deleted"])
    messages.copy(bob, "INBOX", [1], "Trash")
    blobs = tmp_path / "var" / "blobs"

    def stored() -> int:
        return len([p for p in blobs.rglob("*") if p.is_file() and not p.name.startswith(".")])

    if setup_uses_files(setup):
        assert stored() == 1
    messages.expunge(bob, "INBOX")
    if setup_uses_files(setup):
        assert stored() == 1  # Trash still refers to it
    setup.mailboxes.delete(bob, "Trash")
    if setup_uses_files(setup):
        assert stored() == 0
    check_counters(setup, bob)


def test_rename_delete_and_uidvalidity_never_reused(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    boxes = setup.mailboxes
    boxes.create(bob, "Projects")
    boxes.create(bob, "Projects/2026")
    first = boxes.get(bob, "Projects").uidvalidity
    with pytest.raises(AlreadyExists):
        boxes.create(bob, "Projects")
    with pytest.raises(InvalidInput):
        boxes.create(bob, "bad//name")
    with pytest.raises(InvalidInput):
        boxes.rename(bob, "Projects", "Projects/inside")
    boxes.rename(bob, "Projects", "Work")
    names = {b.name for b in boxes.list_all(bob)}
    assert {"Work", "Work/2026"} <= names and "Projects" not in names
    assert boxes.get(bob, "Work").uidvalidity == first  # a rename keeps it
    boxes.delete(bob, "Work")
    boxes.create(bob, "Work")
    assert boxes.get(bob, "Work").uidvalidity != first

    setup.messages.append(bob, "INBOX", spool(tmp_path))
    boxes.rename(bob, "INBOX", "Old")  # RFC 3501: INBOX stays, empty
    assert boxes.get(bob, "INBOX").messages == 0
    assert boxes.get(bob, "Old").messages == 1
    assert setup.messages.read(bob, "Old", 1) == MESSAGE
    assert setup.messages.append(bob, "INBOX", spool(tmp_path)).uid == 2  # UIDs not reused
    with pytest.raises(InvalidInput):
        boxes.delete(bob, "INBOX")
    check_counters(setup, bob)


def test_events_follow_commits(setup: Services, tmp_path: Path) -> None:
    bob = user(setup, "bob@example.test")
    seen: list[MailboxEvent] = []
    unsubscribe = setup.mailboxes.on_change(bob.user_id or 0, seen.append)
    setup.messages.append(bob, "INBOX", spool(tmp_path))
    setup.messages.store_flags(bob, "INBOX", [1], "add", ["\\Deleted"])
    setup.messages.expunge(bob, "INBOX")
    unsubscribe()
    setup.messages.append(bob, "INBOX", spool(tmp_path))
    assert [type(e) for e in seen] == [MessageAdded, FlagsChanged, Expunged]
    assert isinstance(seen[2], Expunged) and seen[2].uids == (1,)


def test_database_blob_backend(tmp_path: Path, database_url: str) -> None:
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(config, store=StoreConfig(blobs="database"))
    runtime_module.upgrade_database(config)
    built = runtime_module.build(config)
    try:
        services = built.services
        services.directory.add_domain(SYSTEM, "example.test")
        bob = user(services, "bob@example.test")
        services.messages.append(bob, "INBOX", spool(tmp_path))
        services.messages.copy(bob, "INBOX", [1], "Archive")
        assert services.messages.read(bob, "Archive", 1) == MESSAGE
        assert not (tmp_path / "var" / "blobs").exists()
        services.mailboxes.delete(bob, "Archive")
        assert services.messages.read(bob, "INBOX", 1) == MESSAGE
    finally:
        built.close()
