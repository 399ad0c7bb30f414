"""Flask's `session` kept on the server (services.websessions): the cookie carries an
opaque random token and nothing else, so nothing in it can be read, and ending a
session on the server ends it for whoever copied the cookie.

`current_session()` is this request's `ServerSession`; `renew` starts a logged-in (or
TOTP-pending) one under a new token, `end` ends it. Add portal state as session keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSession, SessionInterface, SessionMixin
from werkzeug.wrappers import Request, Response

from groupware.services.directory.websessions import (
    TOKEN_BYTES,
    WebSessionInfo,
    WebSessions,
    well_formed,
)

COOKIE = "groupware_session"
# Over TLS the cookie is named with the __Host- prefix: browsers then insist on Secure,
# Path=/ and no Domain, so a sibling host cannot plant one (RFC 6265bis §4.1.3.2).
HOST_PREFIX = "__Host-"
KEPT_ACROSS_RENEWAL = ("_flashes",)


class ServerSession(SecureCookieSession):
    """The portal's small per-browser state, saved to the session's row when changed.

    A visitor who has not logged in has no row: their one piece of state, the CSRF
    secret of the login form, is derived from the token; anything else set on an
    anonymous session lasts for the request only. (SecureCookieSession is the base only
    for its change tracking; nothing here is put in a cookie.)
    """

    def __init__(
        self,
        store: WebSessions,
        token: str,
        record: WebSessionInfo | None,
        data: dict[str, Any],
        *,
        new_token: bool,
    ) -> None:
        super().__init__(data)
        self.store = store
        self.token = token
        self.record = record
        self.new_token = new_token  # the browser must be sent the token
        self.csrf_handed_out = False
        self.ended = False
        self.modified = False

    def __getitem__(self, key: str) -> Any:
        if key == _csrf_field():
            self.csrf_handed_out = True
        return super().__getitem__(key)

    @property
    def user_id(self) -> int | None:
        """The logged-in user (None while anonymous or half-way through a TOTP login)."""
        if self.record is None or self.record.pending:
            return None
        return self.record.user_id

    def renew(
        self,
        user_id: int,
        *,
        pending: bool = False,
        authenticated_at: datetime | None = None,
        carry: dict[str, Any] | None = None,
    ) -> None:
        """Move this browser to a new session of `user_id` under a new token (never the
        one it had before: no fixation), ending the old one; flashes come along."""
        data = {key: self[key] for key in KEPT_ACROSS_RENEWAL if key in self}
        data.update(carry or {})
        token, record = self.store.create(
            user_id,
            _peer(),
            _agent(),
            pending=pending,
            authenticated_at=authenticated_at,
            data=data,
        )
        if self.record is not None:
            self.store.end(self.record.id)
        self._become(token, record, data)

    def end(self) -> None:
        """Log out: the row goes, the browser is told to drop the cookie."""
        if self.record is not None:
            self.store.end(self.record.id)
        self._become("", None, {})
        self.new_token = False
        self.ended = True

    def password_confirmed(self) -> None:
        """The user typed their password again just now (see web/reauth.py)."""
        if self.record is not None:
            now = self.store.reauthenticated(self.record.id)
            self.record = replace(self.record, authenticated_at=now)

    def _become(self, token: str, record: WebSessionInfo | None, data: dict[str, Any]) -> None:
        super().clear()
        super().update(data)
        self.token, self.record, self.new_token = token, record, True
        self.modified = False
        g.pop(_csrf_field(), None)  # Flask-WTF's token of the old session, for this request


class ServerSessionInterface(SessionInterface):
    """Opens and saves `ServerSession`s: one indexed read per request with a cookie
    (none for static files), a write only when the portal's state changed."""

    def __init__(self, store: WebSessions) -> None:
        self.store = store

    def cookie_name(self, request: Request) -> str:
        base = str(current_app.config["SESSION_COOKIE_NAME"])
        return HOST_PREFIX + base if request.is_secure else base

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            return self.make_null_session(app)
        token = request.cookies.get(self.cookie_name(request), "")
        record = self.store.load(token, _peer(), _agent()) if token else None
        if record is not None:
            return ServerSession(self.store, token, record, dict(record.data), new_token=False)
        new_token = not well_formed(token)
        if new_token:
            token = secrets.token_urlsafe(TOKEN_BYTES)
        data = {_csrf_field(): _anonymous_csrf(app, token)}
        return ServerSession(self.store, token, None, data, new_token=new_token)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession):
            return
        name = self.cookie_name(request)
        secure = bool(request.is_secure)
        if session.accessed:
            response.vary.add("Cookie")
        if session.ended:
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
            return
        record = session.record
        if record is None:
            if session.new_token and session.csrf_handed_out:
                response.set_cookie(
                    name, session.token, path="/", secure=secure, httponly=True, samesite="Lax"
                )
            return
        if session.modified:
            self.store.save_data(record.id, dict(session))
        if session.new_token:
            # The cookie lives as long as the session may; the server ends it sooner
            # when it is idle, logged out or revoked.
            response.set_cookie(
                name,
                session.token,
                expires=record.created_at + self.store.lifetime,
                path="/",
                secure=secure,
                httponly=True,
                samesite="Lax",
            )


def current_session() -> ServerSession:
    """This request's server-side session (every view has one)."""
    found = session_or_none()
    if found is None:
        raise RuntimeError("no server-side session in a static file's request")
    return found


def session_or_none() -> ServerSession | None:
    """This request's server-side session, or None (static files have none)."""
    found = session._get_current_object()  # type: ignore[attr-defined]
    return found if isinstance(found, ServerSession) else None


def _csrf_field() -> str:
    return str(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def _anonymous_csrf(app: Flask, token: str) -> str:
    """The login form's CSRF secret: bound to the browser's token and the server's key,
    so no row is stored for visitors who have not logged in."""
    key = str(app.secret_key).encode()
    return hmac.new(key, b"anonymous-csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _peer() -> str:
    return request.remote_addr or ""


def _agent() -> str:
    return request.headers.get("User-Agent", "")
