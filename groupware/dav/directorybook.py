"""The global address book in every home, as Radicale sees it: read-only vCards made from
the directory on each request.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from radicale import item as radicale_item

from groupware.dav import properties
from groupware.dav.collection import SYNC_PREFIX, Collection, Store
from groupware.dav.items import http_date
from groupware.services.calendar.calendars import DIRECTORY_PROPS
from groupware.services.calendar.rows import ItemRow


class DirectoryBook(Collection):
    """The global address book in every home ("<home>/directory"): read-only vCards made
    from the directory on each request. Its sync token is a digest of the whole book, so
    an unchanged book reports nothing and a changed one asks the client to start over
    (RFC 6578 §3.2 valid-sync-token), which every client handles."""

    def __init__(self, storage: Store, path: str) -> None:
        super().__init__(storage, path, None)
        self._read: dict[str, ItemRow] | None = None

    @property
    def _cards(self) -> dict[str, ItemRow]:
        """Read on first use: listing a home names the book without reading it."""
        if self._read is None:
            self._read = {c.href: c for c in self._storage.calendars.directory_cards()}
        return self._read

    @property
    def tag(self) -> str:
        return "VADDRESSBOOK"

    @property
    def etag(self) -> str:
        digest = hashlib.sha256("".join(c.etag for c in self._cards.values()).encode())
        return f'"{digest.hexdigest()[:32]}"'

    @property
    def last_modified(self) -> str:
        newest = max((c.modified_at for c in self._cards.values()), default=None)
        return http_date(newest) if newest is not None else super().last_modified

    def get_meta(self, key: str | None = None) -> Any:
        meta = properties.theirs(DIRECTORY_PROPS)
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ValueError("the directory is read-only")

    def get_all(self) -> Iterator[radicale_item.Item]:
        for card in self._cards.values():
            yield self._item(card)

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        for href in dict.fromkeys(hrefs):
            card = self._cards.get(href)
            yield href, self._item(card) if card is not None else None

    def get_filtered(
        self, filters: Iterable[ET.Element]
    ) -> Iterator[tuple[radicale_item.Item, bool]]:
        for item in self.get_all():
            yield item, False

    def has_uid(self, uid: str) -> bool:
        return any(card.uid == uid for card in self._cards.values())

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        raise ValueError("the directory is read-only")

    def delete(self, href: str | None = None) -> None:
        raise ValueError("the directory is read-only")

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        token = f"{SYNC_PREFIX}directory-{self.etag.strip(chr(34))}"
        if old_token and old_token != token:
            raise ValueError("the directory changed: start over")
        return token, [] if old_token else list(self._cards)
