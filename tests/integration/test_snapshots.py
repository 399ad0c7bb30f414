"""services/mail/snapshots.py on SQLite and PostgreSQL: a mailbox opened again is brought
up to date from what changed since (flags, new mail, expunges, copies and moves in and
out) and equals a full read every time; a mailbox made again under the same id is read
afresh; the kept messages stay within their bound."""

from __future__ import annotations

import random
from pathlib import Path

from groupware.model.mail import Mailbox
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.mail.snapshots import Snapshot, Snapshots
from groupware.store.mail import mailbox_by_name


class Counting(Snapshots):
    """Snapshots that count their full reads."""

    full_reads = 0

    def _read(self, session: object, box: Mailbox) -> Snapshot:  # type: ignore[override]
        self.full_reads += 1
        return super()._read(session, box)  # type: ignore[arg-type]


def bob(services: Services) -> Principal:
    services.directory.add_domain(SYSTEM, "example.test")
    info = services.directory.add_user(SYSTEM, "bob@example.test", "Passw0rd-long")
    principal = services.auth.principal(info.id)
    assert principal is not None
    services.mailboxes.ensure_defaults_if_new(info.id)
    return principal


def append(services: Services, actor: Principal, tmp_path: Path, box: str, n: int) -> int:
    path = tmp_path / "m.eml"
    path.write_bytes(f"Subject: {n}\r\nFrom: a@example.test\r\n\r\nBody {n}\r\n".encode())
    return services.messages.append(actor, box, path, (), None).uid


def snapshot(services: Services, kept: Snapshots, actor: Principal, name: str) -> Snapshot:
    assert actor.user_id is not None
    with services.fetch._db.read() as session:
        return kept.current(session, mailbox_by_name(session, actor.user_id, name))


def as_read_afresh(services: Services, actor: Principal, name: str) -> list[tuple[int, frozenset]]:
    fresh = snapshot(services, Snapshots(), actor, name)
    return list(zip(fresh.uids, fresh.flags, strict=True))


def test_a_mailbox_opened_again_reads_only_what_changed(services: Services, tmp_path: Path) -> None:
    actor = bob(services)
    messages = services.messages
    for n in range(300):
        append(services, actor, tmp_path, "INBOX", n)
    kept = Counting()
    first = snapshot(services, kept, actor, "INBOX")
    assert list(first.uids) == list(range(1, 301)) and kept.full_reads == 1
    assert snapshot(services, kept, actor, "INBOX") is first  # nothing changed: no read
    rng = random.Random(7162)
    for step in range(12):
        uids = list(snapshot(services, Snapshots(), actor, "INBOX").uids)
        picked = rng.sample(uids, 3)
        kind = step % 6
        if kind == 0:
            messages.store_flags(actor, "INBOX", picked, "add", ["\\Seen", "$Work"])
        elif kind == 1:
            messages.store_flags(actor, "INBOX", picked[:1], "replace", ["\\Flagged"])
        elif kind == 2:
            append(services, actor, tmp_path, "INBOX", 1000 + step)
        elif kind == 3:
            messages.store_flags(actor, "INBOX", picked, "add", ["\\Deleted"])
            messages.expunge(actor, "INBOX")
        elif kind == 4:
            messages.copy(actor, "INBOX", picked[:2], "Archive", move=True)
        else:
            archived = list(snapshot(services, Snapshots(), actor, "Archive").uids)
            messages.copy(actor, "Archive", archived[:1], "INBOX")
        now = snapshot(services, kept, actor, "INBOX")
        assert list(zip(now.uids, now.flags, strict=True)) == as_read_afresh(
            services, actor, "INBOX"
        ), step
    assert kept.full_reads == 1  # every change since came from the changed rows


def test_a_mailbox_made_again_is_read_afresh(services: Services, tmp_path: Path) -> None:
    actor = bob(services)
    services.mailboxes.create(actor, "Projects")
    for n in range(5):
        append(services, actor, tmp_path, "Projects", n)
    kept = Counting()
    before = snapshot(services, kept, actor, "Projects")
    services.mailboxes.delete(actor, "Projects")
    services.mailboxes.create(actor, "Projects")
    append(services, actor, tmp_path, "Projects", 99)
    after = snapshot(services, kept, actor, "Projects")
    assert after.uidvalidity != before.uidvalidity and list(after.uids) == [1]
    assert kept.full_reads == 2


def test_kept_messages_stay_within_the_bound(services: Services, tmp_path: Path) -> None:
    actor = bob(services)
    for name in ("A", "B", "C"):
        services.mailboxes.create(actor, name)
        for n in range(4):
            append(services, actor, tmp_path, name, n)
    kept = Counting(kept_messages=8)
    for name in ("A", "B", "C"):
        snapshot(services, kept, actor, name)
    snapshot(services, kept, actor, "C")  # still kept
    assert kept.full_reads == 3
    snapshot(services, kept, actor, "A")  # A made way for C
    assert kept.full_reads == 4


def test_inbox_renamed_keeps_its_messages_below_the_new_highestmodseq(
    services: Services, tmp_path: Path
) -> None:
    """RENAME INBOX moves the messages with their MODSEQs: the new mailbox's HIGHESTMODSEQ
    must be above them (RFC 7162), or every later open would read them all again."""
    actor = bob(services)
    for n in range(3):
        append(services, actor, tmp_path, "INBOX", n)
    services.messages.store_flags(actor, "INBOX", [2], "add", ["\\Seen"])
    services.mailboxes.rename(actor, "INBOX", "Old")
    highest = services.mailboxes.get(actor, "Old").highestmodseq
    changed, _ = services.messages.changes_since(actor, "Old", 0)
    assert len(changed) == 3 and max(state.modseq for state in changed) <= highest
    kept = Counting()
    snapshot(services, kept, actor, "Old")
    services.messages.store_flags(actor, "Old", [1], "add", ["\\Flagged"])
    assert list(snapshot(services, kept, actor, "Old").uids) == [1, 2, 3]
    assert kept.full_reads == 1
