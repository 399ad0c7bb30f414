"""Tables of calendars, task lists and address books (served by Radicale over CalDAV and
CardDAV through dav/storage.py).

A collection is addressed by its Radicale path ("alice@example.test/calendar"; a user's
home is just the address). Each item keeps its text as uploaded plus what Radicale would
otherwise recompute by parsing it: UID, etag, component and the enclosing time range
(for time-range prefilters). Every change bumps the collection's sync_seq and stamps the
item (or leaves a tombstone) with it, which is all a sync-collection REPORT needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from groupware.model.base import Base, UTCDateTime, utcnow


class DavCollection(Base):
    __tablename__ = "dav_collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)  # no leading/trailing "/"
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )
    tag: Mapped[str] = mapped_column(String(16), default="")  # VCALENDAR, VADDRESSBOOK or ""
    props: Mapped[str] = mapped_column(Text, default="{}")  # JSON, services/calendar names
    sync_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Random per creation: a sync token of a deleted and re-created collection is refused.
    generation: Mapped[str] = mapped_column(String(32))
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DavItem(Base):
    __tablename__ = "dav_items"
    __table_args__ = (
        UniqueConstraint("collection_id", "href", name="uq_dav_items_collection_href"),
        Index("ix_dav_items_collection_uid", "collection_id", "uid"),
        Index("ix_dav_items_collection_seq", "collection_id", "seq"),
        Index("ix_dav_items_collection_range", "collection_id", "component", "start_ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collections.id", ondelete="CASCADE"))
    href: Mapped[str] = mapped_column(String(1000))
    uid: Mapped[str] = mapped_column(String(1000))
    etag: Mapped[str] = mapped_column(String(100))  # quoted, as sent
    component: Mapped[str] = mapped_column(String(16))  # VEVENT, VTODO, VJOURNAL, VCARD
    start_ts: Mapped[int] = mapped_column(BigInteger)  # enclosing time range, Unix seconds
    end_ts: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger)  # the collection's sync_seq when last changed
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DavTombstone(Base):
    """An item deleted at `seq` (sync-collection reports it as gone to older tokens)."""

    __tablename__ = "dav_tombstones"
    __table_args__ = (Index("ix_dav_tombstones_collection_seq", "collection_id", "seq"),)

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), primary_key=True
    )
    href: Mapped[str] = mapped_column(String(1000), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class DavShare(Base):
    """A collection shared with a user or with a group (exactly one of the two): `access`
    is read, write or freebusy. The sharee finds it in their home as shared-<id>."""

    __tablename__ = "dav_shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), index=True, nullable=True
    )
    access: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
