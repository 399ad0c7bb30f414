"""Row-level work of the message service: inserting, cloning and removing message rows
with the mailbox counters and quota usage kept exact, and the plain records the service
returns. Functions here run inside the caller's transaction; a new row operation is one
more function here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from groupware.errors import NotFound
from groupware.mime.parse import ParsedMessage
from groupware.mime.structure import Address
from groupware.mime.threads import conversation_key
from groupware.model.mail import Mailbox, Message, MessageText, Tombstone
from groupware.store.blobs import StoredBlob
from groupware.store.mail import (
    add_usage,
    allocate,
    bump_modseq,
    charge,
    flag_bits,
    flag_names,
    insert_message,
    unseen_count,
)

IN_CHUNK = 500  # values per IN list: under every backend's bound-parameter limit


@dataclass(frozen=True)
class Appended:
    mailbox_id: int
    uidvalidity: int
    uid: int
    modseq: int


@dataclass(frozen=True)
class MessageState:
    """What a selected mailbox keeps per message: enough for SELECT, FETCH FLAGS, SEARCH."""

    uid: int
    modseq: int
    flags: frozenset[str]
    size: int
    internal_date: datetime


@dataclass(frozen=True)
class Destination:
    """One recipient mailbox of a delivery, and the flags the message gets there."""

    user_id: int
    mailbox: str
    flags: frozenset[str] = frozenset()


def message_blob(session: Session, box: Mailbox, uid: int) -> str:
    """The blob of message `uid` in `box`; NotFound when there is none."""
    blob_id = session.scalar(
        select(Message.blob_id).where(Message.mailbox_id == box.id, Message.uid == uid)
    )
    if blob_id is None:
        raise NotFound(f"no message with UID {uid}")
    return blob_id


# What a message's state is read from: UID, modseq, flag bits, keywords, size, date.
STATE_COLUMNS = (
    Message.uid,
    Message.modseq,
    Message.flags,
    Message.keywords,
    Message.size,
    Message.internal_date,
)


def message_states(session: Session, condition: ColumnElement[bool]) -> list[MessageState]:
    """The states of the messages matching `condition`, in UID order."""
    rows = session.execute(select(*STATE_COLUMNS).where(condition).order_by(Message.uid))
    return [MessageState(u, m, flag_names(b, k), s, d) for u, m, b, k, s, d in rows]


def insert_row(
    session: Session,
    blob: StoredBlob,
    parsed: ParsedMessage,
    target: Destination,
    when: datetime,
    stored_parse: str,
) -> Appended:
    """One message row in `target`, in plain SQL statements (this is the delivery hot path:
    no ORM objects). The mailbox row is updated first, which locks it, and hands back the
    UID and MODSEQ it allocated."""
    bits, keywords = flag_bits(target.flags)
    charge(session, target.user_id, blob.size, 1)
    box_id, uidvalidity, uid, modseq = allocate(
        session, target.user_id, target.mailbox, blob.size, bits
    )
    row = {
        "mailbox_id": box_id,
        "uid": uid,
        "modseq": modseq,
        "flags": bits,
        "keywords": keywords,
        "internal_date": when,
        "size": blob.size,
        "blob_id": blob.id,
        "sent_date": parsed.sent_date,
        "sent_day": None if parsed.sent_date is None else parsed.sent_date.date(),
        "subject": parsed.subject[:2000],
        "from_addr": address_text(parsed.from_),
        "to_addr": address_text(parsed.to),
        "cc_addr": address_text(parsed.cc),
        "bcc_addr": address_text(parsed.bcc),
        "message_id": parsed.message_id,
        "thread": conversation_key(parsed.message_id, parsed.references, parsed.in_reply_to),
        "parsed": stored_parse,
    }
    insert_message(session, row, parsed.headers, parsed.text)
    return Appended(box_id, uidvalidity, uid, modseq)


def clone_row(session: Session, row: Message, dst: Mailbox, modseq: int) -> Message:
    text = session.get(MessageText, row.id)
    new = Message(
        mailbox_id=dst.id,
        uid=dst.uidnext,
        modseq=modseq,
        flags=row.flags,
        keywords=row.keywords,
        internal_date=row.internal_date,
        size=row.size,
        blob_id=row.blob_id,
        sent_date=row.sent_date,
        sent_day=row.sent_day,
        subject=row.subject,
        from_=row.from_,
        to=row.to,
        cc=row.cc,
        bcc=row.bcc,
        message_id=row.message_id,
        thread=row.thread,
        parsed=row.parsed,
    )
    dst.uidnext += 1
    session.add(new)
    session.flush()
    if text is not None:
        session.add(MessageText(message_id=new.id, headers=text.headers, body=text.body))
    count_in(dst, row.size, row.flags)
    return new


def count_in(box: Mailbox, size: int, bits: int) -> None:
    box.messages += 1
    box.size += size
    box.unseen += unseen_count(bits)


def remove_rows(
    session: Session, user_id: int, box: Mailbox, rows: Sequence[Message], charge: bool = True
) -> tuple[list[int], set[str]]:
    """Delete rows, leave tombstones at one new MODSEQ, keep counters and usage exact."""
    if not rows:
        return [], set()
    modseq = bump_modseq(session, box)
    uids = [r.uid for r in rows]
    size = sum(r.size for r in rows)
    box.messages -= len(rows)
    box.size -= size
    box.unseen -= sum(unseen_count(r.flags) for r in rows)
    session.add_all(Tombstone(mailbox_id=box.id, uid=uid, modseq=modseq) for uid in uids)
    for chunk in chunked([r.id for r in rows]):
        session.execute(delete(Message).where(Message.id.in_(chunk)))
    if charge:
        add_usage(session, user_id, -size, -len(rows))
    return uids, {r.blob_id for r in rows}


def chunked(values: list[int]) -> Iterator[list[int]]:
    """`values` in slices short enough for one IN list (bound parameters stay few)."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def address_text(addresses: Iterable[Address]) -> str:
    """ "Name <mailbox@host>, …" for substring search (RFC 3501 §6.4.4 FROM, TO, CC, BCC),
    a group written as in RFC 5322 §3.4, "name: member, …;", so that its name is found."""
    parts: list[str] = []
    group: list[str] | None = None  # the open group's name, then its members
    for address in addresses:
        if not address.is_group_marker:
            spec = f"{address.mailbox}@{address.host}"
            text = f"{address.name} <{spec}>" if address.name else spec
            (parts if group is None else group).append(text)
            continue
        if group is not None:  # an end marker, or a start closing an unended group
            parts.append(_group(group))
        group = None if address.mailbox is None else [address.mailbox]
    if group is not None:
        parts.append(_group(group))
    return ", ".join(parts)


def _group(group: list[str]) -> str:
    return f"{group[0]}: {', '.join(group[1:])};" if group[1:] else f"{group[0]}:;"
