"""Radicale's login on services.auth: passwords and app passwords, with the throttle and
audit every protocol shares, remembered for a while (Basic auth comes with every request).
A successful login also makes sure the user's home and default collections exist."""

from __future__ import annotations

import logging
import threading

from radicale import auth as radicale_auth
from radicale import config

from groupware.errors import AuthFailed, GroupwareError, TryLater
from groupware.services import Services
from groupware.services.auth.login import DAV
from groupware.services.core.access import Principal

log = logging.getLogger(__name__)


class Principals:
    """Who each logged-in address is (for rights.py), as the last login found them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_address: dict[str, Principal] = {}

    def remember(self, principal: Principal) -> None:
        with self._lock:
            self._by_address[principal.address] = principal

    def get(self, address: str) -> Principal | None:
        with self._lock:
            return self._by_address.get(address)


class Auth(radicale_auth.BaseAuth):
    def __init__(
        self, configuration: config.Configuration, services: Services, principals: Principals
    ) -> None:
        super().__init__(configuration)
        self._services = services
        self._principals = principals
        self._homes: set[str] = set()  # homes known to exist (made at most once each)

    def _login_ext(self, login: str, password: str, context: radicale_auth.AuthContext) -> str:
        peer = context.remote_addr or ""
        try:
            result = self._services.auth.authenticate_remembered(login, password, DAV, peer)
        except (AuthFailed, TryLater):
            return ""
        principal = result.principal
        self._principals.remember(principal)
        if principal.address not in self._homes:
            try:
                self._services.calendars.ensure_home(principal.address)
            except GroupwareError:
                log.exception("could not make the DAV home of %s", principal.address)
                return ""
            self._homes.add(principal.address)
        return principal.address
