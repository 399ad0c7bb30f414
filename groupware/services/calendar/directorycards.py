"""The global address book's cards: a vCard for every active user and every group with an
address, made from the directory on each read, so it is always current.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from groupware.model.directory import Group, User
from groupware.services.calendar.rows import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    ItemRow,
)


def _card(uid: str, name: str, address: str, group: bool, when: datetime) -> ItemRow:
    kind = "X-ADDRESSBOOKSERVER-KIND:group\r\n" if group else ""  # as Apple clients read
    text = (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{_escape(name)}\r\n"
        f"N:{_escape(name)};;;;\r\n{kind}EMAIL;TYPE=INTERNET:{_escape(address)}\r\n"
        "END:VCARD\r\n"
    )
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    return ItemRow(f"{uid}.vcf", uid, etag, "VCARD", TIMESTAMP_MIN, TIMESTAMP_MAX, text, when)


def _escape(value: str) -> str:
    """RFC 6350 §3.4 text value escaping (and no line breaks)."""
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return value.replace("\r", " ").replace("\n", " ")


def directory_cards(session: Session) -> list[ItemRow]:
    """A vCard for every active user (name, address) and every group with an address."""
    users = session.execute(
        select(User.id, User.address, User.display_name, User.created_at)
        .where(User.active)
        .order_by(User.id)
    ).all()
    groups = session.execute(
        select(Group.id, Group.name, Group.address, Group.created_at)
        .where(Group.address.is_not(None))
        .order_by(Group.id)
    ).all()
    cards = [
        _card(f"user-{i}", name or address, address, False, when)
        for i, address, name, when in users
    ]
    cards += [_card(f"group-{i}", name, address, True, when) for i, name, address, when in groups]
    return cards
