"""Tables of the audit log, of login throttling state and of the addresses each account
has logged in from (which the account-wide slow-down spares).

Throttle rows are keyed by kind and subject (services/auth/throttle.py builds and parses the
keys) so every node shares them.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
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
    # On an account-wide row: the last attempt let through from an unknown address too
    # (a failure, or the slot an attempt took), from which the next slot is counted.
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginOrigin(Base):
    """A client network (as throttle.network gives it: IPv6 per /64) that an account fully
    logged in from; it keeps working however many failures come from elsewhere."""

    __tablename__ = "login_origins"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    network: Mapped[str] = mapped_column(String(72), primary_key=True)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime)
