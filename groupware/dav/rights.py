"""Radicale's rights on services.calendars.rights (which asks services.access): the
permission letters of a logged-in address for a collection path. Answers are kept for a
moment, as one PROPFIND asks once per item."""

from __future__ import annotations

from radicale import config
from radicale import rights as radicale_rights

from groupware.cache import TimedCache
from groupware.dav.auth import Principals
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.sharing import GROUP_HOME

REMEMBER = 2.0  # seconds


class Rights(radicale_rights.BaseRights):
    def __init__(
        self, configuration: config.Configuration, calendars: Calendars, principals: Principals
    ) -> None:
        super().__init__(configuration)
        self._calendars = calendars
        self._principals = principals
        self._answers: TimedCache[tuple[str, str], str] = TimedCache(50_000, REMEMBER)

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""  # anonymous
        sane = path.strip("/")  # Radicale hands over sanitized paths (its strip re-checks)
        if sane.count("/") > 1:
            return ""  # an item: Radicale goes by its collection's letters (none remembered)
        if user.startswith(GROUP_HOME):  # a share of a group calendar, mapped by Radicale
            return self._calendars.group_rights(user, sane)
        answer = self._answers.get((user, sane))
        if answer is not None:
            return answer
        # Serving a share, Radicale asks as the collection's owner, who may be logged out.
        principal = self._principals.get(user) or self._calendars.principal_of(user)
        letters = self._calendars.rights(principal, sane) if principal is not None else ""
        self._answers.put((user, sane), letters)
        return letters
