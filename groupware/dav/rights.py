"""Radicale's rights on services/calendar/calendars.py's (which asks services.access):
the permission letters of a logged-in address for a collection path. Answers are kept for
a moment, as one PROPFIND asks once per item, and dropped at once when shares, groups or
roles change in any process (AccessChanged)."""

from __future__ import annotations

from typing import Any

from radicale import config
from radicale import rights as radicale_rights

from groupware.cache import TimedCache
from groupware.dav.auth import Principals
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rights import READ, REPLACE, WRITE, group_rights
from groupware.services.calendar.sharing import GROUP_HOME
from groupware.services.core.events import EVERYONE, AccessChanged, EventHub, MailboxEvent

REMEMBER = 2.0  # seconds (what else changes rights: a user disabled, a collection deleted)


class Rights(radicale_rights.BaseRights):
    def __init__(
        self,
        configuration: config.Configuration,
        calendars: Calendars,
        principals: Principals,
        events: EventHub,
    ) -> None:
        super().__init__(configuration)
        self._calendars = calendars
        self._principals = principals
        self._answers: TimedCache[tuple[str, str], str] = TimedCache(50_000, REMEMBER)
        forget_on_access_change(events, self._answers)

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""  # anonymous
        sane = path.strip("/")  # Radicale hands over sanitized paths (its strip re-checks)
        if sane.count("/") > 1:
            return ""  # an item: Radicale goes by its collection's letters (none remembered)
        if user.startswith(GROUP_HOME):  # a share of a group calendar, mapped by Radicale
            return letters(sane, group_rights(user, sane))
        answer = self._answers.get((user, sane))
        if answer is not None:
            return answer
        generation = self._answers.generation  # before the read: a change meanwhile wins
        # Serving a share, Radicale asks as the collection's owner, who may be logged out.
        principal = self._principals.get(user) or self._calendars.principal_of(user)
        granted = self._calendars.rights(principal, sane) if principal is not None else frozenset()
        answer = letters(sane, granted)
        self._answers.put((user, sane), answer, generation)
        return answer


def letters(path: str, granted: frozenset[str]) -> str:
    """Radicale's letters for what is `granted` at `path`: R and W at the root and in a
    home (its "principal collections"), r, w and O (replace the whole collection) in a
    collection."""
    if "/" not in path:
        return ("R" if READ in granted else "") + ("W" if WRITE in granted else "")
    return (
        ("r" if READ in granted else "")
        + ("w" if WRITE in granted else "")
        + ("O" if REPLACE in granted else "")
    )


def forget_on_access_change(events: EventHub, cache: TimedCache[Any, Any]) -> None:
    """Empty `cache` whenever shares, groups or roles change, here or in another process
    or node (the event hub's relay brings theirs)."""

    def forget(event: MailboxEvent) -> None:
        if isinstance(event, AccessChanged):
            cache.clear()

    events.subscribe(EVERYONE, forget)
