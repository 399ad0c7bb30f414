"""Reading messages for clients that fetch many at once (IMAP FETCH, POP3, the web
list): states, the stored parse and the bytes, for a set of UIDs in few queries; or one
message as a file to stream (POP3 RETR)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import BinaryIO, cast

from sqlalchemy import Table, bindparam, select, update

from groupware.mime.parse import ParsedMessage
from groupware.model.mail import Mailbox, Message
from groupware.services.core.access import Principal
from groupware.services.mail.mailboxes import (
    MailboxInfo,
    mailbox_info,
    normalize_name,
    own_mailboxes,
)
from groupware.services.mail.rows import STATE_COLUMNS, message_blob
from groupware.services.mail.snapshots import Snapshots
from groupware.store import Database
from groupware.store.blobs import BlobStore
from groupware.store.mail import flag_names, mailbox_by_name

BATCH = 500  # UIDs per query (keeps bound parameters well under every database's limit)
_messages = cast(Table, Message.__table__)
_boxes = cast(Table, Mailbox.__table__)
_CLAIM = (
    update(_boxes)
    .where(_boxes.c.id == bindparam("box"), _boxes.c.first_recent_uid == bindparam("old"))
    .values(first_recent_uid=bindparam("new"))
)


@dataclass(frozen=True)
class Summary:
    uid: int
    modseq: int
    flags: frozenset[str]
    size: int
    internal_date: datetime
    stored: str | None = None  # the stored parse (JSON), when asked for
    content: bytes | None = None  # when asked for

    @cached_property
    def parsed(self) -> ParsedMessage | None:
        """The stored parse, decoded when first used: an IMAP FETCH whose ENVELOPE its
        listener has already rendered needs none of it."""
        return None if self.stored is None else ParsedMessage.from_json(self.stored)


@dataclass(frozen=True)
class Opened:
    """A mailbox as a client opens it: its counters, the UIDs with their flags, and the
    first UID that is \\Recent to this opener (RFC 3501 §2.3.2)."""

    mailbox: MailboxInfo
    first_recent: int
    uids: list[int]
    flags: list[frozenset[str]]  # parallel to uids; shared with other openers: read only


class MessageFetch:
    def __init__(self, database: Database, blobs: BlobStore) -> None:
        self._db = database
        self._blobs = blobs
        self._snapshots = Snapshots()

    def open_mailbox(self, actor: Principal, mailbox: str, *, claim: bool) -> Opened:
        """What SELECT (claim=True: this session takes the \\Recent messages) and EXAMINE
        need, in one read; the claim is a conditional update only when there is new mail."""
        user_id = own_mailboxes(actor)
        name = normalize_name(mailbox)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, name)
            info = mailbox_info(box, subscribed=False)
            first_recent = box.first_recent_uid
            snapshot = self._snapshots.current(session, box)
        if claim and first_recent < info.uidnext:
            with self._db.write() as session:
                claimed = session.connection().execute(
                    _CLAIM, {"box": info.id, "old": first_recent, "new": info.uidnext}
                )
                if claimed.rowcount != 1:  # another session took them first
                    first_recent = info.uidnext
        return Opened(info, first_recent, snapshot.uids.tolist(), snapshot.flags)

    def summaries(
        self,
        actor: Principal,
        mailbox: str,
        uids: Sequence[int],
        *,
        parse: bool = False,
        content: bool = False,
    ) -> list[Summary]:
        """The messages among `uids` that exist, in UID order; the stored parse and the
        raw bytes only when asked (a flags-only FETCH reads neither)."""
        user_id = own_mailboxes(actor)
        found: list[Summary] = []
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            columns = [*STATE_COLUMNS, Message.parsed if parse else Message.uid, Message.blob_id]
            for chunk in _chunks(sorted(uids)):
                query = select(*columns).where(Message.mailbox_id == box.id)
                if chunk[-1] - chunk[0] + 1 == len(chunk):  # a run: one range, no list
                    query = query.where(Message.uid.between(chunk[0], chunk[-1]))
                else:
                    query = query.where(Message.uid.in_(chunk))
                for uid, modseq, bits, keywords, size, when, stored, blob_id in session.execute(
                    query.order_by(Message.uid)
                ):
                    data = None
                    if content:
                        with self._blobs.open(session, blob_id) as handle:
                            data = handle.read()
                    found.append(
                        Summary(
                            uid,
                            modseq,
                            flag_names(bits, keywords),
                            size,
                            when,
                            stored if parse else None,
                            data,
                        )
                    )
        return found

    def open_message(self, actor: Principal, mailbox: str, uid: int) -> BinaryIO:
        """The raw bytes of one message as a file the caller reads and closes, after the
        read transaction: the blob file itself in the file store, so nothing holds a
        transaction (or the whole message in memory) while a client is sent it."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            # An open file stays readable even if an expunge collects the blob meanwhile.
            return self._blobs.open(session, message_blob(session, box, uid))


def _chunks(uids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(uids), BATCH):
        yield uids[start : start + BATCH]
