"""Set-based queries of the mail store shared by the mailbox and message services:
lookups, UID/MODSEQ allocation, counters and quota usage, each inside the caller's
transaction. Flag bits and keyword encoding live here too, as the rows store them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from groupware.errors import InvalidInput, NotFound, QuotaExceeded
from groupware.model.directory import User
from groupware.model.mail import Counter, Mailbox, MailUsage, Message, MessageText

SYSTEM_FLAGS = {"\\Seen": 1, "\\Answered": 2, "\\Flagged": 4, "\\Deleted": 8, "\\Draft": 16}
SEEN = SYSTEM_FLAGS["\\Seen"]
DELETED = SYSTEM_FLAGS["\\Deleted"]


def flag_bits(flags: frozenset[str]) -> tuple[int, str]:
    """(system flag bits, padded keyword text) for a set of flag names."""
    bits = 0
    keywords = []
    for flag in flags:
        system = _system_flag(flag)
        if system is not None:
            bits |= SYSTEM_FLAGS[system]
        else:
            keywords.append(flag)
    return bits, encode_keywords(keywords)


def flag_names(bits: int, keywords: str) -> frozenset[str]:
    names = {name for name, bit in SYSTEM_FLAGS.items() if bits & bit}
    return frozenset(names | set(keywords.split()))


def encode_keywords(keywords: list[str] | set[str]) -> str:
    """ " a b " — padded so that a keyword search is LIKE '% a %'."""
    return f" {' '.join(sorted(set(keywords)))} " if keywords else ""


def _system_flag(flag: str) -> str | None:
    for name in SYSTEM_FLAGS:
        if flag.lower() == name.lower():
            return name
    return None


def mailbox_by_name(session: Session, user_id: int, name: str, *, lock: bool = False) -> Mailbox:
    query = select(Mailbox).where(Mailbox.user_id == user_id, Mailbox.name == name)
    if lock:
        query = query.with_for_update()
    mailbox = session.scalar(query)
    if mailbox is None:
        raise NotFound(f"no mailbox named {name!r}")
    return mailbox


def next_counter(session: Session, name: str, start: int) -> int:
    """Increment a server-wide counter (created at `start`) and return its new value."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(Counter)
        .values(name=name, value=start)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int(
        session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        ).scalar_one()
    )


def new_uidvalidity(session: Session) -> int:
    """Never the same twice on this server, even for a mailbox deleted and made again.

    Starts near the current time (so a restored database keeps moving forward) and stays
    below 2^32 (RFC 3501 §2.3.1.1: nz-number).
    """
    return next_counter(session, "uidvalidity", int(time.time()) % (2**31))


def bump_modseq(session: Session, mailbox: Mailbox) -> int:
    """The next MODSEQ of the mailbox (RFC 7162: strictly increasing per mailbox)."""
    mailbox.highestmodseq += 1
    session.flush()
    return mailbox.highestmodseq


# Statements of the delivery hot path are built once: SQLAlchemy then computes their
# cache keys once, and they run on the connection, past the ORM's per-statement work.
_usage = cast(Table, MailUsage.__table__)
_ADD_USAGE = (
    update(_usage)
    .where(_usage.c.user_id == bindparam("owner"))
    .values(
        bytes=_usage.c.bytes + bindparam("add_bytes"),
        messages=_usage.c.messages + bindparam("add_messages"),
    )
    .returning(
        _usage.c.bytes,
        select(User.quota_bytes).where(User.id == _usage.c.user_id).scalar_subquery(),
    )
)
_NEW_USAGE = {
    name: dialect_insert(_usage).on_conflict_do_nothing(index_elements=["user_id"])
    for name, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def add_usage(session: Session, user_id: int, size: int, count: int) -> None:
    """Count `size` bytes and `count` messages more (or fewer) for the user."""
    _add_usage(session, user_id, size, count)


def charge(session: Session, user_id: int, size: int, count: int) -> None:
    """Count `size` more bytes and `count` more messages, refused (QuotaExceeded, which
    the caller's rollback undoes) if that passes the user's quota. Exact: the usage row
    stays locked by the update until the transaction ends."""
    used, limit = _add_usage(session, user_id, size, count)
    if size > 0 and limit and used > limit:
        raise QuotaExceeded(f"over quota: {used} of {limit} bytes", size > limit)


def _add_usage(session: Session, user_id: int, size: int, count: int) -> tuple[int, int]:
    """(bytes now used, quota in bytes or 0) after adding."""
    connection = session.connection()
    values = {"owner": user_id, "add_bytes": size, "add_messages": count}
    row = connection.execute(_ADD_USAGE, values).first()
    if row is None:  # the user's first message
        new = _NEW_USAGE[connection.dialect.name]
        connection.execute(new, {"user_id": user_id, "bytes": 0, "messages": 0})
        row = connection.execute(_ADD_USAGE, values).one()
    return int(row[0]), int(row[1] or 0)


def usage(session: Session, user_id: int, *, lock: bool = False) -> tuple[int, int]:
    """(bytes, messages) the user stores now."""
    query = select(MailUsage.bytes, MailUsage.messages).where(MailUsage.user_id == user_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def recount(session: Session, mailbox_id: int) -> tuple[int, int, int]:
    """(messages, unseen, bytes) computed from the rows, to check the kept counters."""
    unseen = case((Message.flags.op("&")(SEEN) == 0, 1), else_=0)
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(unseen), 0),
            func.coalesce(func.sum(Message.size), 0),
        ).where(Message.mailbox_id == mailbox_id)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def check_flags(flags: Iterable[str]) -> frozenset[str]:
    """The flags as a set, once each is a known system flag or a valid keyword
    (RFC 3501 §9 flag-keyword: an atom)."""
    result = frozenset(flags)
    for flag in result:
        if flag.startswith("\\"):
            if flag_bits(frozenset({flag}))[0] == 0:
                raise InvalidInput(f"unknown system flag {flag}")
        elif not flag or any(ch in flag for ch in ' (){%*"\\]') or not flag.isprintable():
            raise InvalidInput(f"not a valid keyword: {flag!r}")
    return result


def apply_flags(
    mode: str, bits: int, keywords: set[str], add_bits: int, add_keywords: set[str]
) -> tuple[int, set[str]]:
    if mode == "add":
        return bits | add_bits, keywords | add_keywords
    if mode == "remove":
        return bits & ~add_bits, keywords - add_keywords
    return add_bits, set(add_keywords)


def unseen_count(bits: int) -> int:
    return 0 if bits & SEEN else 1


_boxes = cast(Table, Mailbox.__table__)
_ALLOCATE = (
    update(_boxes)
    .where(_boxes.c.user_id == bindparam("owner"), _boxes.c.name == bindparam("box"))
    .values(
        uidnext=_boxes.c.uidnext + 1,
        highestmodseq=_boxes.c.highestmodseq + 1,
        messages=_boxes.c.messages + 1,
        size=_boxes.c.size + bindparam("add_bytes"),
        unseen=_boxes.c.unseen + bindparam("add_unseen"),
    )
    .returning(_boxes.c.id, _boxes.c.uidvalidity, _boxes.c.uidnext, _boxes.c.highestmodseq)
)
_messages = cast(Table, Message.__table__)
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_INSERT_TEXT = insert(cast(Table, MessageText.__table__))


def allocate(
    session: Session, user_id: int, mailbox: str, size: int, bits: int
) -> tuple[int, int, int, int]:
    """(mailbox id, UIDVALIDITY, UID, MODSEQ) for one new message of `size` bytes with
    flag `bits`, counted in the mailbox. The update locks the mailbox row, so UIDs and
    MODSEQs are handed out in commit order."""
    row = (
        session.connection()
        .execute(
            _ALLOCATE,
            {"owner": user_id, "box": mailbox, "add_bytes": size, "add_unseen": unseen_count(bits)},
        )
        .first()
    )
    if row is None:
        raise NotFound(f"no mailbox named {mailbox!r}")
    box_id, uidvalidity, uidnext, modseq = row
    return box_id, uidvalidity, uidnext - 1, modseq


def insert_message(session: Session, row: dict[str, object], headers: str, body: str) -> int:
    """Insert a message row (columns by name) and its searchable text; returns its id."""
    connection = session.connection()
    message_id: int = connection.execute(_INSERT_MESSAGE, row).scalar_one()
    connection.execute(_INSERT_TEXT, {"message_id": message_id, "headers": headers, "body": body})
    return message_id


_FLAGS = "SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid"
_FLAGS_SINCE = (
    "SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"
)
_EXPUNGED_SINCE = "SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"


def message_flags(
    session: Session, mailbox_id: int, since: int | None = None
) -> list[tuple[int, int, str]]:
    """(UID, flag bits, keywords) of every message in a mailbox (or of those changed
    after MODSEQ `since`), in UID order, read straight from the driver: SELECT of a big
    mailbox reads thousands of rows, and SQLAlchemy's per-row result processing would
    cost several times the query."""
    if since is None:
        return _raw_rows(session, _FLAGS, (mailbox_id,))
    return _raw_rows(session, _FLAGS_SINCE, (mailbox_id, since))


def expunged_since(session: Session, mailbox_id: int, since: int) -> list[int]:
    """The UIDs expunged from a mailbox after MODSEQ `since`, ascending (its tombstones)."""
    return [uid for (uid,) in _raw_rows(session, _EXPUNGED_SINCE, (mailbox_id, since))]


def _raw_rows(session: Session, query: str, parameters: tuple[int, ...]) -> list[Any]:
    """The rows of a qmark-style `query`, through the session's own driver connection."""
    connection = session.connection()
    if connection.dialect.paramstyle != "qmark":
        query = query.replace("?", "%s")
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(query, parameters)
        rows: list[Any] = cursor.fetchall()  # the driver's ints and strs
        return rows
    finally:
        cursor.close()
