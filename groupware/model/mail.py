"""Tables of the mail store: mailboxes, subscriptions, messages, expunge tombstones, blobs,
quota usage.

A message row carries everything parsed once at delivery (envelope and body structure as
JSON, search fields, extracted text); the raw bytes live in a blob shared by every copy.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class Counter(Base):
    """Server-wide counters that must never repeat (UIDVALIDITY)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Mailbox(Base):
    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_mailboxes_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(1000))  # Unicode, "/" separates levels
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int] = mapped_column(BigInteger, default=1)
    highestmodseq: Mapped[int] = mapped_column(BigInteger, default=1)
    # RFC 3501 §2.3.2 \Recent: UIDs at or above this are recent to the next session that
    # claims them (services/mail/search.py); a read-write SELECT moves it to uidnext.
    first_recent_uid: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    special_use: Mapped[str | None] = mapped_column(String(16), nullable=True)  # \Sent, …
    messages: Mapped[int] = mapped_column(Integer, default=0)  # kept exact, for STATUS
    unseen: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """A name on a user's subscription list (RFC 3501 §6.3.6): kept by name, not by
    mailbox, because it may name a mailbox that does not exist (or no longer does)."""

    __tablename__ = "subscriptions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(1000), primary_key=True)  # as Mailbox.name


class Blob(Base):
    """A message's raw bytes, stored once however many messages refer to it.

    The references are the message rows themselves (messages.blob_id, indexed): a blob
    goes when the last of them does, also when a cascade removed them. `data` is used by
    the database backend; the file backend keeps it NULL and the bytes in a file named by
    the SHA-256.
    """

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256, hex
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "uid", name="uq_messages_mailbox_uid"),
        Index("ix_messages_mailbox_modseq", "mailbox_id", "modseq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    uid: Mapped[int] = mapped_column(BigInteger)
    modseq: Mapped[int] = mapped_column(BigInteger)
    flags: Mapped[int] = mapped_column(Integer, default=0)  # system flags, a bit each
    keywords: Mapped[str] = mapped_column(Text, default="")  # " kw1 kw2 " (padded, sorted)
    internal_date: Mapped[datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column(BigInteger)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"), index=True)
    # Parsed once at delivery (groupware.mime): what FETCH, SEARCH and the web read.
    sent_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The Date: field's day in its own zone, for SENTBEFORE/SENTON/SENTSINCE (RFC 3501
    # §6.4.4 compares dates "disregarding time and timezone"); sent_date is in UTC.
    sent_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_: Mapped[str] = mapped_column("from_addr", Text, default="")
    to: Mapped[str] = mapped_column("to_addr", Text, default="")
    cc: Mapped[str] = mapped_column("cc_addr", Text, default="")
    bcc: Mapped[str] = mapped_column("bcc_addr", Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    # The conversation it belongs to (mime/threads.py conversation_key): the same for a
    # message and every reply to it, in any of the user's folders.
    thread: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    parsed: Mapped[str] = mapped_column(Text)  # envelope + body structure, as JSON


class MessageText(Base):
    """Searchable text of a message (headers and decoded bodies), apart from the hot row.

    Its full-text index (SQLite FTS5 table kept by triggers, PostgreSQL GIN expression
    index) lives outside this metadata: see groupware/store/fulltext.py.
    """

    __tablename__ = "message_texts"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    headers: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")


class Tombstone(Base):
    """An expunged message's UID and the MODSEQ of its expunge (CONDSTORE/QRESYNC)."""

    __tablename__ = "tombstones"
    __table_args__ = (Index("ix_tombstones_mailbox_modseq", "mailbox_id", "modseq"),)

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    modseq: Mapped[int] = mapped_column(BigInteger)


class MailUsage(Base):
    """Bytes and messages a user stores, kept exact in the transaction of every change."""

    __tablename__ = "mail_usage"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
