"""Radicale built from a configuration made here (no config file) on our auth, rights and
storage, and `mount`, which puts it at /dav beside the web portal in one WSGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import client as http_client
from typing import Any

from radicale import config as radicale_config
from radicale import httputils
from radicale import types as radicale_types
from radicale.app import Application

from groupware.config import Config
from groupware.dav import patches, scheduling
from groupware.dav import recurrence as dav_recurrence
from groupware.dav.auth import Auth, Principals
from groupware.dav.rights import Rights
from groupware.dav.sharing import Sharing
from groupware.dav.storage import Storage
from groupware.mime import recurrence
from groupware.services import Services
from groupware.services.calendar.rows import CALENDAR

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PREFIX = "/dav"
WELL_KNOWN = ("/.well-known/caldav", "/.well-known/carddav")
# RFC 6638 §2: this server sends the invitations, replies and cancellations of the
# calendars it stores, so a client seeing this (Thunderbird) does not mail them again.
AUTO_SCHEDULE = "calendar-auto-schedule"
# What a client's password prompt names (Radicale's said "Radicale - Password Required").
REALM = "groupware"
# Headers through which a client could pick its own identity or base path in Radicale.
UNTRUSTED = ("HTTP_X_SCRIPT_NAME", "HTTP_X_REMOTE_USER", "REMOTE_USER", "HTTP_X_REMOTE_ADDR")


class Radicale(Application):
    """Radicale's application, answering a PUT over the recurrence limit as CalDAV says,
    and RFC 6638 scheduling's discovery, boxes and free-busy queries (dav/scheduling.py),
    which Radicale has none of."""

    services: Services  # set by `build`

    def do_PROPFIND(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        box = scheduling.box_of(path)
        if box is not None:
            if box[0] != user:
                return httputils.NOT_ALLOWED
            return scheduling.box_propfind(base_prefix, *box)
        answer = super().do_PROPFIND(environ, base_prefix, path, user, user_groups, request_info)
        status, headers, body, request = answer
        if status != http_client.MULTI_STATUS or not isinstance(body, bytes):
            return answer
        home = scheduling.principal_of(path)
        if home == user or b"RADICALE:version" in body:
            own = home == user
            body = scheduling.with_principal_properties(
                body,
                base_prefix,
                user,
                self.services.calendars.addresses_of(user) if own else [],
                f"/{user}/{CALENDAR}/",
            )
        return status, headers, body, request

    def do_REPORT(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        box = scheduling.box_of(path)
        if box is None:
            return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)
        if box[0] != user:
            return httputils.NOT_ALLOWED
        return scheduling.box_report(base_prefix, *box)

    def do_POST(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        """A free-busy query on one's own outbox (RFC 6638 §5); nothing else is POSTed."""
        box = scheduling.box_of(path)
        if box is None or box[1] != "outbox":
            return super().do_POST(environ, base_prefix, path, user, user_groups, request_info)
        if box[0] != user:
            return httputils.NOT_ALLOWED
        try:
            body = httputils.read_raw_request_body(self.configuration, environ)
        except RuntimeError:
            return httputils.BAD_REQUEST
        calendars = self.services.calendars
        return scheduling.freebusy_query(
            body, calendars.addresses_of(user), calendars.is_known, self.services.freebusy
        )

    def do_PUT(
        self,
        environ: radicale_types.WSGIEnviron,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> radicale_types.WSGIResponse:
        """RFC 4791 §5.3.2.1: an object over the recurrence limit is refused with 403 and
        CALDAV:max-instances (Radicale itself says 400 to every object it refuses)."""
        with dav_recurrence.refusals() as refused:
            answer = super().do_PUT(environ, base_prefix, path, user, user_groups, request_info)
        if refused and answer[0] == http_client.BAD_REQUEST:
            request_info["status"] = http_client.FORBIDDEN
            return self._webdav_error_response(
                http_client.FORBIDDEN, "C:max-instances", request_info
            )
        return answer


def build(services: Services) -> Application:
    """Radicale on services.auth, services.calendars.rights and our database."""
    patches.install()
    principals = Principals()
    configuration = radicale_config.load()
    configuration.update(
        {
            "auth": {
                "type": lambda conf: Auth(conf, services, principals),
                "delay": "0",  # our throttle delays and locks out, as for IMAP and SMTP
                "realm": REALM,
            },
            "rights": {
                "type": lambda conf: Rights(conf, services.calendars, principals, services.events),
                # Replacing a whole collection (PUT of a calendar on its URL) needs "O",
                # which owners hold on their own collections and shares never carry.
                "permit_overwrite_collection": "False",
            },
            "storage": {"type": lambda conf: Storage(conf, services.calendars)},
            "sharing": {
                "type": lambda conf: Sharing(conf, services.sharing, services.events),
                "collection_by_map": "True",
                "collection_by_token": "False",
                "permit_create_map": "False",  # shares are made with our CLI and web
                "permit_create_token": "False",
            },
            # One recurrence limit (mime/recurrence.py), which a PUT meets before these.
            "server": {"max_vevent_rrule_occurrence": str(recurrence.MAX_INSTANCES)},
            "reporting": {
                "max_expand_occurrence": str(recurrence.MAX_INSTANCES),
                "max_freebusy_occurrence": str(recurrence.MAX_INSTANCES),
            },
            "web": {"type": "none"},
            "hook": {"type": "none"},
            "logging": {"mask_passwords": "True"},
        },
        "groupware",
        privileged=True,
    )
    radicale = Radicale(configuration)
    radicale.services = services
    return radicale


def mount(web: WSGIApp, dav: WSGIApp, config: Config, services: Services) -> WSGIApp:
    """One WSGI app: /dav/… to Radicale (headers it must not trust removed, body size
    limited, no password in clear off loopback), /.well-known/caldav and carddav
    redirected there for every method (RFC 6764 §5), as is a PROPFIND of "/";
    everything else to the portal."""
    limit = config.dav.max_body_bytes

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        # A DAV client given only the server's address asks the root (the portal's page).
        to_dav = path == "/" and environ.get("REQUEST_METHOD") == "PROPFIND"
        if path.rstrip("/") in WELL_KNOWN or to_dav:
            target = environ.get("SCRIPT_NAME", "") + PREFIX + "/"
            return _answer(start_response, "301 Moved Permanently", b"", [("Location", target)])
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return web(environ, start_response)
        for name in UNTRUSTED:
            environ.pop(name, None)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
        environ["PATH_INFO"] = path[len(PREFIX) :] or "/"
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > limit:
            return _answer(start_response, "413 Content Too Large", b"Request body too large\n")
        secure = environ.get("wsgi.url_scheme") == "https"
        peer = environ.get("REMOTE_ADDR", "")
        if environ.get("HTTP_AUTHORIZATION") and not services.auth.plaintext_allowed(peer, secure):
            return _answer(start_response, "403 Forbidden", b"Use HTTPS to log in\n")
        return _answered_by(dav, environ, start_response)

    return app


def _answered_by(
    dav: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """Radicale's answer with calendar-auto-schedule added to its DAV header, and with a
    Content-Length where it gives none (a PUT's 201, OPTIONS): without one the answer
    is chunked and the connection closed, so a client saving events one after another
    connected again for each. Radicale's answers are whole bytes, so this costs nothing."""
    said: list[Any] = []

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        said[:] = [status, headers, exc_info]

    body = b"".join(dav(environ, start))
    status, headers, exc_info = said
    headers = [
        (name, f"{value}, {AUTO_SCHEDULE}") if name.lower() == "dav" else (name, value)
        for name, value in headers
    ]
    sized = any(name.lower() == "content-length" for name, _ in headers)
    bodiless = environ.get("REQUEST_METHOD") == "HEAD" or status[:3] in ("204", "304")
    if not sized and not bodiless:
        headers.append(("Content-Length", str(len(body))))
    start_response(status, headers, exc_info)
    return [body]


def _answer(
    start_response: Callable[..., Any],
    status: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        + (headers or []),
    )
    return [body]
