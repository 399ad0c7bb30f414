"""Tables of the audit log and of login throttling state.

Throttle rows are keyed "account:<address>" or "ip:<address>" so every node shares them.
"""

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))  # an address, or "system"
    action: Mapped[str] = mapped_column(String(64))  # "login", "user.create", …
    outcome: Mapped[str] = mapped_column(String(16))  # ok, failed, throttled, denied
    target: Mapped[str] = mapped_column(String(320), default="")
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True, index=True)
    service: Mapped[str] = mapped_column(String(16), default="")  # web, imap, smtp, cli, …
    peer_ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
