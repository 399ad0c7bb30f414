"""What a user chooses about how webmail shows their mail: the window size, whether the
list groups conversations, how long a sent message can be taken back, and the senders
whose remote images are shown without asking. Each user edits only their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from groupware.errors import InvalidInput
from groupware.model.base import utcnow
from groupware.model.webmail import MailPreferences, TrustedSender
from groupware.services.core.access import Principal
from groupware.services.core.addresses import normalize_address
from groupware.services.mail.mailboxes import own_mailboxes
from groupware.store import Database

PAGE_SIZES = (25, 50, 100, 200)
MAX_UNDO = 30  # seconds a sent message may be held for undo
MAX_TRUSTED = 1000


@dataclass(frozen=True)
class MailSettings:
    page_size: int = 50
    conversations: bool = True
    undo_seconds: int = 5  # as Gmail's default


class Preferences:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, actor: Principal) -> MailSettings:
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            row = session.get(MailPreferences, user_id)
            if row is None:
                return MailSettings()
            return MailSettings(row.page_size, row.conversations, row.undo_seconds)

    def set(self, actor: Principal, settings: MailSettings) -> MailSettings:
        """Store `settings`; InvalidInput for a window size not offered or an undo time
        outside 0 to MAX_UNDO seconds."""
        if settings.page_size not in PAGE_SIZES:
            raise InvalidInput(f"a page shows {', '.join(map(str, PAGE_SIZES))} messages")
        if not 0 <= settings.undo_seconds <= MAX_UNDO:
            raise InvalidInput(f"undo is possible for 0 to {MAX_UNDO} seconds")
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            row = session.get(MailPreferences, user_id)
            if row is None:
                row = MailPreferences(user_id=user_id)
                session.add(row)
            row.page_size = settings.page_size
            row.conversations = settings.conversations
            row.undo_seconds = settings.undo_seconds
            row.updated_at = utcnow()
        return settings

    # -- the senders whose remote images are shown -------------------------------------

    def trusted(self, actor: Principal) -> list[str]:
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            rows = session.scalars(
                select(TrustedSender.address)
                .where(TrustedSender.user_id == user_id)
                .order_by(TrustedSender.address)
            )
            return list(rows)

    def trusts(self, actor: Principal, sender: str) -> bool:
        """Whether the user shows `sender`'s remote images without asking."""
        try:
            sender = normalize_address(sender)
        except InvalidInput:
            return False
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            return session.get(TrustedSender, (user_id, sender)) is not None

    def trust(self, actor: Principal, sender: str, *, on: bool) -> str:
        """Add `sender` to the trusted list, or take it off; returns the address."""
        sender = normalize_address(sender)
        user_id = own_mailboxes(actor)
        with self._db.write() as session:
            found = session.get(TrustedSender, (user_id, sender))
            if on and found is None:
                count = session.scalar(select(func.count()).where(TrustedSender.user_id == user_id))
                if (count or 0) >= MAX_TRUSTED:
                    raise InvalidInput(f"at most {MAX_TRUSTED} trusted senders")
                session.add(TrustedSender(user_id=user_id, address=sender))
            elif not on:
                session.execute(
                    delete(TrustedSender).where(
                        TrustedSender.user_id == user_id, TrustedSender.address == sender
                    )
                )
        return sender
