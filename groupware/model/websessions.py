"""The table of web portal sessions: one row per signed-in browser (or half-way login).

The cookie holds a random token; only its SHA-256 is kept here, so a copy of this table
yields no live cookie. Deleting a row ends that browser's session at once.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Password checked, TOTP code still owed: not a login yet, and never listed as one.
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # When the password was last typed in this session (at login, or to confirm a change).
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    peer_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")
    # Small JSON state of the portal (CSRF secret, flashes, a TOTP enrolment in progress).
    data: Mapped[str] = mapped_column(Text, default="{}")
