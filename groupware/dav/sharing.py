"""Radicale's map sharing on services.sharing: each collection shared with a user (or
their group, or owned by their group) is a "map" entry from a path in the user's home to
the collection, with the share's permission letters. Shares are made with our CLI and web,
not through Radicale's POST API (switched off in app.py)."""

from __future__ import annotations

import time
from typing import Any

from radicale import config
from radicale import sharing as radicale_sharing

from groupware.cache import TimedCache
from groupware.dav.rights import forget_on_access_change
from groupware.services.calendar.sharing import Sharing as SharingService
from groupware.services.calendar.sharing import Visible
from groupware.services.core.events import EventHub

REMEMBER = 2.0  # seconds: Radicale asks on every request (changes drop them at once)


class Sharing(radicale_sharing.BaseSharing):
    def __init__(
        self, configuration: config.Configuration, sharing: SharingService, events: EventHub
    ) -> None:
        self._service = sharing
        self._seen: TimedCache[str, list[Visible]] = TimedCache(10_000, REMEMBER)
        forget_on_access_change(events, self._seen)
        super().__init__(configuration)

    def database_init(self) -> bool:
        return True

    def database_get_info(self) -> dict[str, Any]:
        return {"type": "groupware", "entries": "dav_shares"}

    def database_verify(self) -> bool:
        return True

    def database_list_sharing(
        self,
        OwnerOrUser: str | None = None,
        ShareType: str | None = None,
        PathOrToken: str | None = None,
        PathMapped: str | None = None,
        User: str | None = None,
        EnabledByOwner: bool | None = None,  # ours are all enabled and shown
        EnabledByUser: bool | None = None,
        HiddenByOwner: bool | None = None,
        HiddenByUser: bool | None = None,
        Conversion: str | None = None,
    ) -> list[dict[Any, Any]]:
        """The map entries of one user (Radicale's `User` may carry ":group,…", which we
        need not: our directory knows the groups). Asked for the sharers of a collection
        (PathMapped alone, before a DELETE), we answer none: deleting a shared collection
        ends its shares with it."""
        if ShareType not in (None, "map") or not User or EnabledByOwner is False:
            return []
        if HiddenByOwner is True or Conversion not in (None, "none"):
            return []
        entries = [_entry(v, _address(User)) for v in self._visible(_address(User))]
        if PathOrToken is not None:
            entries = [e for e in entries if e["PathOrToken"] == PathOrToken]
        if PathMapped is not None:
            entries = [e for e in entries if e["PathMapped"] == PathMapped]
        return entries

    def database_get_sharing(
        self,
        ShareType: str,
        PathOrToken: str,
        OnlyEnabled: bool = True,
        User: str | None = None,
    ) -> dict[str, Any] | None:
        if ShareType != "map" or not User:
            return None
        found = self.database_list_sharing(ShareType="map", PathOrToken=PathOrToken, User=User)
        return found[0] if found else None

    def _visible(self, address: str) -> list[Visible]:
        seen = self._seen.get(address)
        if seen is not None:
            return seen
        generation = self._seen.generation  # before the read: a change meanwhile wins
        visible = self._service.visible_to(address)
        self._seen.put(address, visible, generation)
        return visible


def _address(user: str) -> str:
    return user.split(radicale_sharing.SHARING_SEPARATOR_GROUP, 1)[0]


def _entry(visible: Visible, user: str) -> dict[str, Any]:
    stamp = int(time.time())
    return {
        "ShareType": "map",
        "PathOrToken": f"/{visible.path}/",
        "PathMapped": f"/{visible.collection}/",
        "Owner": visible.owner,
        "User": user,
        "Permissions": visible.permissions,
        "EnabledByOwner": True,
        "EnabledByUser": True,
        "HiddenByOwner": False,
        "HiddenByUser": False,
        "TimestampCreated": stamp,
        "TimestampUpdated": stamp,
        "Properties": {"D:displayname": visible.display_name},
        "Conversion": "none",
        "Actions": {},
    }
