"""Addresses to offer as a user types a recipient in webmail: the people and groups of
the directory (the company's address list) and the contacts of the user's own address
books, those whose name or address holds what was typed, each address once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from groupware.model.directory import Group, User
from groupware.services.calendar.calendars import Calendars
from groupware.services.core.access import Principal
from groupware.services.mail.mailboxes import own_mailboxes
from groupware.store import Database

MIN_TYPED, MAX_TYPED = 2, 100
MAX_SUGGESTIONS = 10
_FN = re.compile(r"^FN(?:;[^:\r\n]*)?:(.*)$", re.MULTILINE | re.IGNORECASE)
_EMAIL = re.compile(r"^(?:[\w-]+\.)?EMAIL(?:;[^:\r\n]*)?:(.*)$", re.MULTILINE | re.IGNORECASE)
_UNFOLD = re.compile(r"\r?\n[ \t]")


@dataclass(frozen=True)
class Suggestion:
    name: str
    address: str

    @property
    def text(self) -> str:
        """As it goes into a recipient field."""
        if not self.name:
            return self.address
        name = self.name.replace("\\", "").replace('"', "")
        return (
            f'"{name}" <{self.address}>'
            if re.search(r"[,;<>@()\[\]:]", name)
            else f"{name} <{self.address}>"
        )


class AddressSuggestions:
    def __init__(self, database: Database, calendars: Calendars) -> None:
        self._db = database
        self._calendars = calendars

    def suggest(self, actor: Principal, typed: str) -> list[Suggestion]:
        """Up to MAX_SUGGESTIONS people, groups and contacts matching `typed` (at least
        MIN_TYPED characters), those whose name or address starts with it first."""
        own_mailboxes(actor)  # a user of mail, writing a message
        typed = " ".join(typed.replace("\x00", "").split()).lower()[:MAX_TYPED]
        if len(typed) < MIN_TYPED:
            return []
        found = self._contacts(actor, typed) + self._directory(typed)
        unique = list({s.address.lower(): s for s in reversed(found)}.values())[::-1]
        unique.sort(key=lambda s: not _starts(s, typed))
        return unique[:MAX_SUGGESTIONS]

    def _directory(self, typed: str) -> list[Suggestion]:
        with self._db.read() as session:
            users = session.execute(
                select(User.display_name, User.address)
                .where(
                    User.active,
                    func.lower(User.address).contains(typed, autoescape=True)
                    | func.lower(User.display_name).contains(typed, autoescape=True),
                )
                .order_by(User.address)
                .limit(MAX_SUGGESTIONS)
            ).all()
            groups = session.execute(
                select(Group.name, Group.address)
                .where(
                    Group.address.is_not(None),
                    func.lower(Group.address).contains(typed, autoescape=True)
                    | func.lower(Group.name).contains(typed, autoescape=True),
                )
                .order_by(Group.address)
                .limit(MAX_SUGGESTIONS)
            ).all()
        found = [Suggestion(name or "", address) for name, address in users]
        return found + [Suggestion(name or "", address or "") for name, address in groups]

    def _contacts(self, actor: Principal, typed: str) -> list[Suggestion]:
        found = []
        for book in self._calendars.children(actor.address):
            if book.tag != "VADDRESSBOOK":
                continue
            for card in self._calendars.texts(book.id).values():
                card = _UNFOLD.sub("", card)
                names = _FN.findall(card)
                name = _unescape(names[0]) if names else ""
                for address in _EMAIL.findall(card):
                    suggestion = Suggestion(name, _unescape(address).strip())
                    if (
                        "@" in suggestion.address
                        and typed in f"{name} {suggestion.address}".lower()
                    ):
                        found.append(suggestion)
        return found


def _starts(suggestion: Suggestion, typed: str) -> bool:
    return any(
        word.startswith(typed) for word in f"{suggestion.name} {suggestion.address}".lower().split()
    )


def _unescape(value: str) -> str:
    """An RFC 6350 §3.4 text value as it reads."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value).strip()
