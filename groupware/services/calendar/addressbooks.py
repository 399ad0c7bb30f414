"""The portal's contacts page: the address books a user sees (their own, those shared with
them, the read-only company directory), their cards listed and searched as one types,
and the contact and group forms, on the rows CardDAV clients use. Collections are
reached through Agenda.reach (the one check) and written through Agenda.store.

A list of thousands of cards must answer each keystroke at once: the brief facts of a
book's cards (mime/vcardform.py, read without parsing) are kept per book and its
sync_seq, which every change to the book bumps, so a kept list is never stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from groupware.errors import InvalidInput, NotFound, PermissionDenied
from groupware.mime import vcardform
from groupware.services.calendar.agenda import CONTACTS, READABLE, Agenda, Shown
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rows import DIRECTORY, ItemRow
from groupware.services.core.access import Principal

DIRECTORY_TITLE = "Company directory"
MAX_LISTED = 200  # cards one page lists (typing narrows the rest)
KEPT_BOOKS = 64  # books whose cards' facts are kept in memory


@dataclass(frozen=True)
class Card:
    book: Shown
    href: str
    brief: vcardform.Brief


class AddressBooks:
    def __init__(self, agenda: Agenda, calendars: Calendars) -> None:
        self._agenda = agenda
        self._calendars = calendars
        # collection id → (its sync_seq and generation then, its cards' facts)
        self._kept: OrderedDict[int, tuple[tuple[int, str], list[tuple[str, vcardform.Brief]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def books(self, actor: Principal) -> list[Shown]:
        """The user's address books, those shared with them, then the directory."""
        found = self._agenda.collections(actor, CONTACTS)
        directory = Shown(
            f"{actor.address}/{DIRECTORY}", DIRECTORY_TITLE, CONTACTS, "", READABLE, ""
        )
        return [*found, directory]

    def cards(
        self, actor: Principal, books: list[Shown], query: str = ""
    ) -> tuple[list[Card], int]:
        """The cards of `books` with a word beginning with each word of `query` (in
        their name, organisation, addresses or numbers), groups first, then by name; at
        most MAX_LISTED; and how many there are in all."""
        typed = " ".join(query.split()[:10])
        found: list[Card] = []
        for book in books:
            for href, brief in self._briefs(actor, book):
                if brief.matches(typed):
                    found.append(Card(book, href, brief))
        found.sort(key=lambda c: (not c.brief.group, c.brief.name.lower(), c.href))
        return found[:MAX_LISTED], len(found)

    def card(self, actor: Principal, path: str, href: str) -> tuple[Shown, ItemRow]:
        book = self._reach(actor, path)
        if book.path.endswith("/" + DIRECTORY):
            for row in self._calendars.directory_cards():
                if row.href == href:
                    return book, row
            raise NotFound(f"no contact {href}")
        return book, self._agenda.item_at(path, href)

    def create(self, actor: Principal, path: str, fields: vcardform.ContactFields) -> str:
        book = self._reach(actor, path, write=True)
        return self._agenda.store(actor, book, None, _formed(lambda: vcardform.new_contact(fields)))

    def edit(self, actor: Principal, path: str, href: str, fields: vcardform.ContactFields) -> None:
        book = self._reach(actor, path, write=True)
        item = self._agenda.item_at(path, href)
        text = _formed(lambda: vcardform.edit_contact(item.text, fields))
        self._agenda.store(actor, book, href, text, expected=item.etag)

    def delete(self, actor: Principal, path: str, href: str) -> None:
        book = self._reach(actor, path, write=True)
        self._agenda.item_at(path, href)
        collection = self._calendars.collection(book.path)
        if collection is None:
            raise NotFound(f"no address book {path}")
        self._calendars.delete_item(collection.id, href, by=actor.address)

    def create_group(self, actor: Principal, path: str, name: str) -> str:
        book = self._reach(actor, path, write=True)
        return self._agenda.store(actor, book, None, _formed(lambda: vcardform.new_group(name)))

    def set_groups(self, actor: Principal, path: str, uid: str, groups: set[str]) -> None:
        """Put the contact `uid` in exactly the groups (hrefs of group cards) named, of
        its own address book."""
        book = self._reach(actor, path, write=True)
        for href, brief in self._briefs(actor, book):
            if not brief.group or (uid in brief.members) == (href in groups):
                continue
            item = self._agenda.item_at(path, href)
            text = _formed(partial(vcardform.with_member, item.text, uid, href in groups))
            self._agenda.store(actor, book, href, text, expected=item.etag)

    def export(self, actor: Principal, path: str) -> tuple[Shown, str]:
        """The address book as one .vcf file."""
        book = self._reach(actor, path)
        if book.path.endswith("/" + DIRECTORY) and book.owner == "":
            texts = [row.text for row in self._calendars.directory_cards()]
        else:
            collection = self._calendars.collection(book.path)
            texts = list(self._calendars.texts(collection.id).values()) if collection else []
        return book, "".join(t if t.endswith("\r\n") else t + "\r\n" for t in texts)

    def import_vcf(self, actor: Principal, path: str, text: str) -> int:
        """The cards of a .vcf file put into the address book: a card whose UID is there
        already replaces it. How many were stored."""
        book = self._reach(actor, path, write=True)
        cards = _formed_list(lambda: vcardform.split_cards(text))
        known = {brief.uid: href for href, brief in self._briefs(actor, book) if brief.uid}
        with self._agenda.importing(actor):
            for uid, card in cards:
                self._agenda.store(actor, book, known.get(uid), card)
        return len(cards)

    def _reach(self, actor: Principal, path: str, *, write: bool = False) -> Shown:
        if path == f"{actor.address}/{DIRECTORY}":
            if write:
                raise PermissionDenied("the company directory is read-only")
            return self.books(actor)[-1]
        return self._agenda.reach(actor, path, CONTACTS, write=write)

    def _briefs(self, actor: Principal, book: Shown) -> list[tuple[str, vcardform.Brief]]:
        if book.path.endswith("/" + DIRECTORY) and book.owner == "":
            return [
                (row.href, vcardform.brief(row.text)) for row in self._calendars.directory_cards()
            ]
        collection = self._calendars.collection(book.path)
        if collection is None:
            return []
        version = (collection.sync_seq, collection.generation)
        with self._lock:
            kept = self._kept.get(collection.id)
            if kept is not None and kept[0] == version:
                self._kept.move_to_end(collection.id)
                return kept[1]
        texts = self._calendars.texts(collection.id)
        briefs = [(href, vcardform.brief(text)) for href, text in texts.items()]
        with self._lock:
            self._kept[collection.id] = (version, briefs)
            self._kept.move_to_end(collection.id)
            while len(self._kept) > KEPT_BOOKS:
                self._kept.popitem(last=False)
        return briefs


def _formed_list(make: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    try:
        return make()
    except vcardform.FormError as error:
        raise InvalidInput(str(error)) from None


def _formed(make: Callable[[], str]) -> str:
    try:
        return make()
    except vcardform.FormError as error:
        raise InvalidInput(str(error)) from None
