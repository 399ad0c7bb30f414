"""Tables of what local delivery consults per user: delivery rules, the vacation auto-reply
and whom it answered when, and the server's secrets (the SRS key). Add columns here and a
migration; the rule and vacation services own their meaning.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class MailRule(Base):
    """One of a user's rules, applied in `position` order to each message delivered.

    `conditions` is a JSON list of {"field", "op", "value"}; `actions` a JSON list of
    {"action", "value"} (services.rules checks both, and documents the vocabulary).
    """

    __tablename__ = "mail_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    match: Mapped[str] = mapped_column(String(3), default="all")  # all, any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vacation(Base):
    """A user's auto-reply (RFC 3834), on while enabled and within the optional dates."""

    __tablename__ = "vacations"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(200), default="")  # "": "Auto: <subject>"
    body: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # UTC dates,
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # both inclusive
    days: Mapped[int] = mapped_column(Integer, default=7)  # between replies to one sender
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VacationReply(Base):
    """When a user's auto-reply last went to a sender: once per sender per `days`."""

    __tablename__ = "vacation_replies"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sender: Mapped[str] = mapped_column(String(320), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServerSecret(Base):
    """A server-wide random key kept in the database, so every node shares it (SRS)."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
