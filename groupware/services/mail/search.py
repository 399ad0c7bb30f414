"""Searching one mailbox: SEARCH (RFC 9051 §6.4.4), SORT and THREAD=REFERENCES (RFC 5256,
RFC 5957 DISPLAYFROM/DISPLAYTO), and the \\Recent bookkeeping of RFC 3501 §2.3.2.

A new criterion is a Key in searchkeys.py, a condition in store/search.py and a branch
in `_condition`; a new sort order is an entry in `SORT_KEYS`. Each call is one unit of
work on the actor's own mailbox, as in services/mail/messages.py, and returns plain data.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput
from groupware.mime.parse import ParsedMessage
from groupware.mime.structure import Address
from groupware.mime.subject import base_subject
from groupware.mime.threads import (
    ThreadMessage,
    ThreadNode,
    thread_ordered_subject,
    thread_references,
)
from groupware.model.mail import Mailbox, Message
from groupware.services.core.access import Principal
from groupware.services.mail import searchkeys as k
from groupware.services.mail.mailboxes import normalize_name, own_mailboxes
from groupware.store import Database
from groupware.store.mail import SYSTEM_FLAGS, mailbox_by_name
from groupware.store.search import Conditions, matching, prepare

MAX_DEPTH = 200  # criteria nest no deeper (the IMAP grammar stops at 64)


class MailSearch:
    def __init__(self, database: Database) -> None:
        self._db = database

    def search(self, actor: Principal, mailbox: str, key: k.Key) -> list[int]:
        """The UIDs of the messages matching `key`, ascending; one SQL statement."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            query = _query(session, box.id, key, [Message.uid])
            return list(session.scalars(query.order_by(Message.uid)))

    def newest(self, actor: Principal, key: k.Key, columns: Sequence[Any], limit: int) -> list[Any]:
        """`columns` of the `limit` newest (by arrival) messages matching `key` in all
        of the user's folders, with each one's folder name first: one SQL statement,
        however many folders there are."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            folders: dict[int, str] = {
                box_id: name
                for box_id, name in session.execute(
                    select(Mailbox.id, Mailbox.name).where(Mailbox.user_id == user_id)
                )
            }
            if not folders:
                return []
            query = _query(session, list(folders), key, [Message.mailbox_id, *columns])
            rows = session.execute(query.order_by(Message.id.desc()).limit(limit)).all()
        return [(folders[row[0]], *row[1:]) for row in rows]

    def sort(
        self,
        actor: Principal,
        mailbox: str,
        criteria: Sequence[tuple[str, bool]],
        key: k.Key,
    ) -> list[int]:
        """RFC 5256 §3 SORT: UIDs of the matches ordered by (name, reverse) criteria, the
        first deciding most; REVERSE turns one criterion only; ties go by UID."""
        wanted = [(name.upper(), reverse) for name, reverse in criteria]
        if not wanted:
            raise InvalidInput("SORT needs at least one criterion")
        for name, _ in wanted:
            if name not in SORT_KEYS:
                raise InvalidInput(f"unknown sort criterion {name}")
        columns: list[Any] = [
            Message.uid,
            Message.internal_date,
            Message.sent_date,
            Message.size,
            Message.subject,
        ]
        if any(name in _NEEDS_ADDRESSES for name, _ in wanted):
            columns.append(Message.parsed)
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            rows = [_Row(*row) for row in session.execute(_query(session, box.id, key, columns))]
        rows.sort(key=lambda row: row.uid)
        for name, reverse in reversed(wanted):  # stable sorts, least significant first
            rows.sort(key=SORT_KEYS[name], reverse=reverse)
        return [row.uid for row in rows]

    def thread_references(
        self, actor: Principal, mailbox: str, key: k.Key, algorithm: str = "REFERENCES"
    ) -> list[ThreadNode]:
        """RFC 5256 §4 THREAD=REFERENCES (or ORDEREDSUBJECT) over the matches: trees of
        (UID, children), a dummy root (UID None) grouping threads whose first message is
        not among them."""
        user_id = own_mailboxes(actor)
        columns = [
            Message.uid,
            Message.internal_date,
            Message.sent_date,
            Message.size,
            Message.subject,
            Message.parsed,
            Message.message_id,
        ]
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            found = session.execute(_query(session, box.id, key, columns)).all()
        messages = []
        for *fields, message_id in found:
            row = _Row(*fields)
            parsed = row.message
            messages.append(
                ThreadMessage(
                    uid=row.uid,
                    message_id=message_id,
                    references=parsed.references,
                    in_reply_to=parsed.in_reply_to,
                    subject=row.subject,
                    date=row.sent_date or row.internal_date,
                )
            )
        if algorithm == "ORDEREDSUBJECT":
            return thread_ordered_subject(messages)
        return thread_references(messages)

    # -- \Recent (RFC 3501 §2.3.2) ------------------------------------------------------

    def claim_recent_upto(self, actor: Principal, mailbox: str, uid: int) -> bool:
        """For a selected session told of new mail up to `uid`: True when it is the first
        to claim them (then they are recent to it), False when another session was."""
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox), lock=True)
            if not 0 < uid < box.uidnext:
                raise InvalidInput(f"no message with UID {uid} yet")
            if box.first_recent_uid > uid:
                return False
            box.first_recent_uid = uid + 1
            return True

    def recent_count(self, actor: Principal, mailbox: str) -> int:
        """Messages no session has claimed as recent yet (STATUS RECENT, EXAMINE)."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            recent = (Message.mailbox_id == box.id) & (Message.uid >= box.first_recent_uid)
            return int(session.scalar(select(func.count()).where(recent)) or 0)


# -- criteria -----------------------------------------------------------------------------


def _query(
    session: Session, mailbox_id: int | Sequence[int], key: k.Key, columns: Sequence[Any]
) -> Select[Any]:
    conditions = Conditions(prepare(session))
    condition = _condition(key, conditions, 0)
    return matching(mailbox_id, condition, columns, conditions.with_text)


def _condition(key: k.Key, c: Conditions, depth: int) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        raise InvalidInput("search criteria nested too deeply")
    deeper = depth + 1
    if isinstance(key, k.All):
        return c.all_of([])
    if isinstance(key, k.And):
        return c.all_of([_condition(part, c, deeper) for part in key.keys])
    if isinstance(key, k.Or):
        return c.any_of([_condition(key.left, c, deeper), _condition(key.right, c, deeper)])
    if isinstance(key, k.Not):
        return c.negated(_condition(key.key, c, deeper))
    if isinstance(key, k.Flag):
        return _flag(key, c)
    if isinstance(key, k.Header):
        return c.header(key.field, key.value)
    if isinstance(key, k.Text):
        return c.text(key.value, key.where)
    if isinstance(key, k.Date):
        if key.field == "sent":
            return c.sent_day(key.op, key.day)
        return c.day(Message.internal_date, key.op, key.day)
    if isinstance(key, k.Size):
        return c.size(key.larger, key.size)
    if isinstance(key, k.Words):
        return c.words(key.value)
    if isinstance(key, k.HasAttachments):
        return c.has_attachments()
    if isinstance(key, k.Uids):
        return c.uids(key.ranges)
    if isinstance(key, k.ModSeq):
        return c.modseq_at_least(key.value)
    if isinstance(key, k.Within):
        return c.within(key.older, key.seconds)
    raise InvalidInput(f"unknown search criterion {type(key).__name__}")


def _flag(key: k.Flag, c: Conditions) -> ColumnElement[bool]:
    if key.name.startswith("\\"):
        for name, bit in SYSTEM_FLAGS.items():
            if name.lower() == key.name.lower():
                return c.system_flag(bit, key.present)
        # \Recent belongs to a session: its front door turns it into UIDs.
        raise InvalidInput(f"no stored system flag {key.name}")
    return c.keyword(key.name, key.present)


# -- sorting ------------------------------------------------------------------------------


@dataclass
class _Row:
    uid: int
    internal_date: datetime
    sent_date: datetime | None
    size: int
    subject: str
    parsed: str | None = None

    @cached_property
    def message(self) -> ParsedMessage:
        """The stored parse (decoded addresses, references), read when a key needs it."""
        return ParsedMessage.from_json(self.parsed or "")


def _first(addresses: tuple[Address, ...]) -> Address | None:
    """The first address as the ENVELOPE gives it: a group's start marker counts, with
    the group's name as its addr-mailbox (RFC 3501 §7.4.2), as in Dovecot."""
    return addresses[0] if addresses else None


def _mailbox(addresses: tuple[Address, ...]) -> str:
    """RFC 5256 §3 FROM/TO/CC: the addr-mailbox of the first address, "" if none."""
    first = _first(addresses)
    return _collated(first.mailbox or "") if first else ""


def _display(addresses: tuple[Address, ...]) -> str:
    """RFC 5957 §3: the first address's decoded display name, else mailbox@host, else
    mailbox (for a group, its name); "" if none."""
    first = _first(addresses)
    if first is None:
        return ""
    if first.name and first.name.strip():
        return _collated(first.name.strip())
    if first.mailbox and first.host:
        return _collated(f"{first.mailbox}@{first.host}")
    return _collated(first.mailbox or "")


def _collated(text: str) -> str:
    """The comparison form of a sort key. RFC 5256 §3 compares with i;ascii-casemap,
    which upper-cases (RFC 4790 §9.2), so "[" and "_" sort after the letters. Beyond
    ASCII, as Dovecot, i;unicode-casemap (RFC 5051: titlecase, then NFKD; upper case
    differs from titlecase only for a few digraphs)."""
    if text.isascii():
        return text.upper()
    return unicodedata.normalize("NFKD", text.upper())


# Strings compare collated (RFC 5256 §3: i;ascii-casemap, here extended to Unicode).
SORT_KEYS: dict[str, Callable[[_Row], Any]] = {
    "ARRIVAL": lambda row: row.internal_date,
    "CC": lambda row: _mailbox(row.message.cc),
    "DATE": lambda row: row.sent_date or row.internal_date,  # RFC 5256 §2.2
    "FROM": lambda row: _mailbox(row.message.from_),
    "SIZE": lambda row: row.size,
    "SUBJECT": lambda row: _collated(base_subject(row.subject)[0]),
    "TO": lambda row: _mailbox(row.message.to),
    "DISPLAYFROM": lambda row: _display(row.message.from_),
    "DISPLAYTO": lambda row: _display(row.message.to),
}
_NEEDS_ADDRESSES = frozenset({"CC", "FROM", "TO", "DISPLAYFROM", "DISPLAYTO"})
