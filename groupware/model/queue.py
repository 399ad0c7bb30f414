"""Tables of the outbound queue and of DKIM keys.

A queued message keeps its bytes in a blob (so the blob outlives its mailbox copies) and
one row per recipient with that recipient's state, attempts and last reply.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"), index=True)
    mail_from: Mapped[str] = mapped_column(String(320))  # "" for a bounce
    envid: Mapped[str | None] = mapped_column(String(100), nullable=True)  # RFC 3461 ENVID
    ret_headers_only: Mapped[bool] = mapped_column(Boolean, default=False)  # RET=HDRS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboundRecipient(Base):
    __tablename__ = "outbound_recipients"
    __table_args__ = (Index("ix_outbound_recipients_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253))
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_reply: Mapped[str] = mapped_column(Text, default="")
    remote_host: Mapped[str] = mapped_column(String(255), default="")
    notify: Mapped[str] = mapped_column(String(40), default="")  # RFC 3461 NOTIFY
    reported: Mapped[bool] = mapped_column(Boolean, default=False)  # DSN sent


class DkimKey(Base):
    """A domain's DKIM signing key; the newest active one signs (rotation adds a new one)."""

    __tablename__ = "dkim_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    private_pem: Mapped[str] = mapped_column(Text)
    public_txt: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
