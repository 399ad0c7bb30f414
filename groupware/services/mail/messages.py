"""Messages in mailboxes: append and deliver (from a spooled file), flags and keywords,
expunge and delete with tombstones, copy and move, and the index a selected mailbox
starts from.

UIDs and MODSEQs are allocated in the transaction of the row they go on; quota is checked
and usage kept exact in it too; events are published after it commits.
"""

from __future__ import annotations

__all__ = ["Appended", "Destination", "MessageState", "Messages"]

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput
from groupware.mime.parse import ParsedMessage, parse_message
from groupware.model.base import utcnow
from groupware.model.mail import Message, Tombstone
from groupware.services.core.access import Principal
from groupware.services.core.events import (
    EventHub,
    Expunged,
    FlagsChanged,
    MailboxEvent,
    MessageAdded,
)
from groupware.services.mail.mailboxes import normalize_name, own_mailboxes
from groupware.services.mail.rows import (
    Appended,
    Destination,
    MessageState,
    chunked,
    clone_row,
    insert_row,
    message_blob,
    message_states,
    remove_rows,
)
from groupware.store import Database
from groupware.store.blobs import BlobStore
from groupware.store.groupcommit import GroupCommit
from groupware.store.mail import (
    DELETED,
    apply_flags,
    bump_modseq,
    charge,
    check_flags,
    encode_keywords,
    flag_bits,
    flag_names,
    mailbox_by_name,
    unseen_count,
)

MAX_KEYWORDS = 100


class Messages:
    def __init__(
        self, database: Database, blobs: BlobStore, events: EventHub, commit: GroupCommit
    ) -> None:
        self._db = database
        self._blobs = blobs
        self._events = events
        self._commit = commit

    # -- adding ------------------------------------------------------------------------

    def append(
        self,
        actor: Principal,
        mailbox: str,
        spool: Path,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> Appended:
        """RFC 3501 §6.3.11 APPEND, from a file already spooled to disk."""
        user_id = own_mailboxes(actor)
        [appended] = self.deliver(
            spool,
            [Destination(user_id, normalize_name(mailbox), check_flags(flags))],
            internal_date=internal_date,
        )
        return appended

    def deliver(
        self,
        spool: Path,
        targets: Sequence[Destination],
        internal_date: datetime | None = None,
        parsed: ParsedMessage | None = None,
    ) -> list[Appended]:
        """Store one message in each target mailbox: one blob, one transaction, durable
        (blob fsynced, rows committed) before this returns. Refused whole on any quota."""
        if parsed is None:
            parsed = parse_message(spool.read_bytes())  # parse once, at the door
        when = internal_date or utcnow()
        message = parsed
        stored_parse = parsed.to_json()  # once, however many recipients

        with self._blobs.stored(spool) as blob:

            def store(session: Session) -> list[Appended]:
                blob.record(session)
                # Mailboxes are locked in one order everywhere, so two deliveries to
                # the same users never wait on each other crosswise (deadlock).
                ordered = sorted(
                    range(len(targets)), key=lambda i: (targets[i].user_id, targets[i].mailbox)
                )
                stored = {
                    i: insert_row(session, blob, message, targets[i], when, stored_parse)
                    for i in ordered
                }
                return [stored[i] for i in range(len(targets))]

            # Committed with whatever else is being stored now: one fsync for the batch.
            results = self._commit.run(store)
        self._events.publish(
            *(
                MessageAdded(t.user_id, r.mailbox_id, r.uid, r.modseq)
                for t, r in zip(targets, results, strict=True)
            )
        )
        return results

    def recover(self, spool: Path) -> int:
        """After a crash: empty the spool folder (nothing there was ever answered 250) and
        remove blob files no row names. Returns how many files went."""
        removed = 0
        if spool.is_dir():
            for leftover in spool.iterdir():
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)
                    removed += 1
        return removed + self._blobs.sweep(self._db, older_than=3600)

    def close(self) -> None:
        """Stop the group-commit thread (after the batch in progress)."""
        self._commit.close()

    # -- reading -----------------------------------------------------------------------

    def index(self, actor: Principal, mailbox: str) -> tuple[int, list[MessageState]]:
        """(mailbox id, every message's state in UID order): a selected view's start."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            return box.id, message_states(session, Message.mailbox_id == box.id)

    def read(self, actor: Principal, mailbox: str, uid: int) -> bytes:
        """The raw bytes of one message (callers stream big ones with `open_blob`)."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            with self._blobs.open(session, message_blob(session, box, uid)) as handle:
                return handle.read()

    # -- changing ----------------------------------------------------------------------

    def store_flags(
        self,
        actor: Principal,
        mailbox: str,
        uids: Sequence[int],
        mode: str,
        flags: Iterable[str],
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageState], list[int]]:
        """RFC 3501 §6.4.6 STORE (mode "add", "remove" or "replace"), RFC 7162 §3.1.3
        UNCHANGEDSINCE: returns (changed states, UIDs refused as modified since)."""
        if mode not in {"add", "remove", "replace"}:
            raise InvalidInput(f"unknown flag mode {mode!r}")
        user_id = own_mailboxes(actor)
        wanted = check_flags(flags)
        bits, keywords = flag_bits(wanted)
        wanted_keywords = set(keywords.split())
        changed: list[MessageState] = []
        refused: list[int] = []
        with self._db.write() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox), lock=True)
            rows = session.scalars(
                select(Message)
                .where(Message.mailbox_id == box.id, Message.uid.in_(uids))
                .order_by(Message.uid)
            ).all()
            modseq = None
            for row in rows:
                if unchanged_since is not None and row.modseq > unchanged_since:
                    refused.append(row.uid)
                    continue
                new_bits, new_keywords = apply_flags(
                    mode, row.flags, set(row.keywords.split()), bits, wanted_keywords
                )
                if (new_bits, new_keywords) == (row.flags, set(row.keywords.split())):
                    continue
                if len(new_keywords) > MAX_KEYWORDS:
                    raise InvalidInput(f"at most {MAX_KEYWORDS} keywords per message")
                modseq = modseq or bump_modseq(session, box)
                box.unseen += unseen_count(new_bits) - unseen_count(row.flags)
                row.flags = new_bits
                row.keywords = encode_keywords(new_keywords)
                row.modseq = modseq
                changed.append(
                    MessageState(
                        row.uid,
                        modseq,
                        flag_names(row.flags, row.keywords),
                        row.size,
                        row.internal_date,
                    )
                )
            box_id = box.id
        if changed:
            self._events.publish(
                FlagsChanged(user_id, box_id, tuple((c.uid, c.modseq, c.flags) for c in changed))
            )
        return changed, refused

    def expunge(
        self, actor: Principal, mailbox: str, uids: Sequence[int] | None = None
    ) -> list[int]:
        """RFC 3501 §6.4.3 EXPUNGE (RFC 4315 UID EXPUNGE with `uids`): remove the messages
        flagged \\Deleted, leaving tombstones; returns the UIDs removed."""
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox), lock=True)
            query = select(Message).where(
                Message.mailbox_id == box.id, Message.flags.op("&")(DELETED) != 0
            )
            if uids is not None:
                query = query.where(Message.uid.in_(uids))
            rows = session.scalars(query.order_by(Message.uid)).all()
            gone, blob_ids = remove_rows(session, user_id, box, rows)
            event = Expunged(user_id, box.id, tuple(gone), box.highestmodseq) if gone else None
        self._removed(event, blob_ids)
        return gone

    def delete(self, actor: Principal, mailbox: str, uids: Sequence[int]) -> list[int]:
        """Remove exactly the messages `uids` names, whatever their flags, in one
        transaction (POP3 UPDATE, RFC 1939 §6), leaving tombstones; returns the UIDs
        removed (a UID already gone is skipped)."""
        user_id = own_mailboxes(actor)
        wanted = sorted(set(uids))
        with self._db.write() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox), lock=True)
            rows = [
                row
                for chunk in chunked(wanted)
                for row in session.scalars(
                    select(Message)
                    .where(Message.mailbox_id == box.id, Message.uid.in_(chunk))
                    .order_by(Message.uid)
                )
            ]
            gone, blob_ids = remove_rows(session, user_id, box, rows)
            event = Expunged(user_id, box.id, tuple(gone), box.highestmodseq) if gone else None
        self._removed(event, blob_ids)
        return gone

    def _removed(self, event: Expunged | None, blob_ids: set[str]) -> None:
        """After the commit: tell the listeners, then drop the blobs no row names."""
        if event is not None:
            self._events.publish(event)
            self._blobs.collect(self._db, blob_ids)

    def copy(
        self, actor: Principal, source: str, uids: Sequence[int], target: str, *, move: bool = False
    ) -> tuple[int, list[tuple[int, int]]]:
        """RFC 3501 §6.4.7 COPY and RFC 6851 MOVE: (target UIDVALIDITY, [(old, new UID)])
        for RFC 4315 COPYUID. The copies share the blob; quota counts each copy."""
        user_id = own_mailboxes(actor)
        events: list[MailboxEvent] = []
        with self._db.write() as session:
            # Locked in name order, as deliveries lock theirs: a MOVE from A to B and one
            # from B to A at once would otherwise each wait for the other's lock.
            names = normalize_name(source), normalize_name(target)
            locked = {n: mailbox_by_name(session, user_id, n, lock=True) for n in sorted(names)}
            src, dst = locked[names[0]], locked[names[1]]
            rows = session.scalars(
                select(Message)
                .where(Message.mailbox_id == src.id, Message.uid.in_(uids))
                .order_by(Message.uid)
            ).all()
            if not move:  # a move changes no usage; a copy counts again
                charge(session, user_id, sum(r.size for r in rows), len(rows))
            modseq = bump_modseq(session, dst) if rows else dst.highestmodseq
            pairs = []
            for row in rows:
                new = clone_row(session, row, dst, modseq)
                pairs.append((row.uid, new.uid))
                events.append(MessageAdded(user_id, dst.id, new.uid, modseq))
            if move and rows:
                remove_rows(session, user_id, src, rows, charge=False)
                events.append(
                    Expunged(user_id, src.id, tuple(r.uid for r in rows), src.highestmodseq)
                )
            uidvalidity = dst.uidvalidity
        self._events.publish(*events)
        return uidvalidity, pairs

    def changes_since(
        self, actor: Principal, mailbox: str, modseq: int
    ) -> tuple[list[MessageState], list[int]]:
        """RFC 7162: messages changed after `modseq`, and UIDs expunged after it."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            changed = message_states(
                session, (Message.mailbox_id == box.id) & (Message.modseq > modseq)
            )
            vanished = list(
                session.scalars(
                    select(Tombstone.uid)
                    .where(Tombstone.mailbox_id == box.id, Tombstone.modseq > modseq)
                    .order_by(Tombstone.uid)
                )
            )
        return changed, vanished
