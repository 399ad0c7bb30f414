"""Radicale's rights on services.calendars.rights (which asks services.access): the
permission letters of a logged-in address for a collection path. Answers are kept for a
moment, as one PROPFIND asks once per item."""

from __future__ import annotations

import threading
import time

from radicale import config
from radicale import rights as radicale_rights

from groupware.dav.auth import Principals
from groupware.services.calendars import Calendars
from groupware.services.sharing import GROUP_HOME

REMEMBER = 2.0  # seconds


class Rights(radicale_rights.BaseRights):
    def __init__(
        self, configuration: config.Configuration, calendars: Calendars, principals: Principals
    ) -> None:
        super().__init__(configuration)
        self._calendars = calendars
        self._principals = principals
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], tuple[float, str]] = {}

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""  # anonymous
        sane = path.strip("/")  # Radicale hands over sanitized paths (its strip re-checks)
        if sane.count("/") > 1:
            return ""  # an item: Radicale goes by its collection's letters (none remembered)
        if user.startswith(GROUP_HOME):  # a share of a group calendar, mapped by Radicale
            return self._calendars.group_rights(user, sane)
        now = time.monotonic()
        answer = self._answers.get((user, sane))  # a dict read needs no lock
        if answer is not None and answer[0] > now:
            return answer[1]
        # Serving a share, Radicale asks as the collection's owner, who may be logged out.
        principal = self._principals.get(user) or self._calendars.principal_of(user)
        letters = self._calendars.rights(principal, sane) if principal is not None else ""
        with self._lock:
            if len(self._answers) > 50_000:
                self._answers.clear()
            self._answers[(user, sane)] = (now + REMEMBER, letters)
        return letters
