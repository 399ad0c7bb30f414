"""Tables of what a user chooses for webmail: display preferences, the identities they
send as (name and signature per address), the senders whose remote images they trust,
and the messages they sent that are held before they go (undo send, scheduled send).
The webmail services own their meaning (services/mail/preferences.py,
services/delivery/outbox.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class MailPreferences(Base):
    """How a user's webmail shows their mail; no row: the defaults."""

    __tablename__ = "mail_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    page_size: Mapped[int] = mapped_column(Integer, default=50)  # messages in a window
    conversations: Mapped[bool] = mapped_column(Boolean, default=True)  # threads in the list
    undo_seconds: Mapped[int] = mapped_column(Integer, default=5)  # a sent message is held
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Identity(Base):
    """An address a user sends from in webmail, with the name and signature it carries."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("user_id", "address", name="uq_identities_user_address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class TrustedSender(Base):
    """A sender whose messages show their remote images without asking."""

    __tablename__ = "trusted_senders"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(320), primary_key=True)


class HeldMessage(Base):
    """A message sent from webmail that waits until `release_at`: for the user's undo
    window, or until the time they scheduled. `data` is the message as composed; the
    recipients (every To, Cc and Bcc address) are a space-separated list."""

    __tablename__ = "held_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")  # for the user's list
    recipients: Mapped[str] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False)  # chosen, not undo's
    # "held" until released; "sending" from the moment the release claims it (a crash
    # then sends it again at the next start rather than losing it), "undoing" while an
    # undo makes it a draft; gone once sent or a draft.
    state: Mapped[str] = mapped_column(String(8), default="held")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarPreferences(Base):
    """How the portal's calendar shows a user's time: their zone, and the calendars and
    task lists they switched off (collection paths, a JSON list); no row: the defaults."""

    __tablename__ = "calendar_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64), default="")  # "": not chosen yet
    hidden: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
