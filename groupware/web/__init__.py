"""The web portal's app factory: `create_app(config, services, secret_key)`.

Blueprints hold the views (auth, reauth, account, mail, admin); add one per area and register
it below. Security headers, CSRF and the server-side sessions are set up here, once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from flask import Flask, g, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from groupware.config import Config
from groupware.services import Services
from groupware.web import (
    account,
    admin,
    auth,
    calendar,
    contacts,
    devices,
    discovery,
    errors,
    mail,
    reauth,
    settings,
    tasks,
)
from groupware.web import compose as _compose  # noqa: F401  (its views join the mail blueprint)
from groupware.web.context import SERVICES_KEY, WebUser, load_web_user
from groupware.web.sessions import COOKIE, ServerSessionInterface
from groupware.web.useragents import browser_name

access_log = logging.getLogger("groupware.web.access")
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


STATIC_MAX_AGE = 365 * 24 * 3600


def static_version(folder: Path) -> str:
    """A short hash of every static file's content: it changes when any of them does."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def create_app(config: Config, services: Services, secret_key: str) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(FRONTEND / "templates"),
        static_folder=str(FRONTEND / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=secret_key,  # signs CSRF tokens (sessions are server-side)
        SESSION_COOKIE_NAME=COOKIE,
        MAX_CONTENT_LENGTH=config.web.max_body_bytes,
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session that keeps them
        GROUPWARE_HOSTNAME=config.hostname,
        GROUPWARE_BACKOFF_MAX=config.auth.backoff_max,
        GROUPWARE_REAUTH_MINUTES=config.web.reauth_minutes,
        # Static files are named with their content's hash (?v=, below): cached for a
        # year, never asked for again until they change (each page load made three
        # revalidations of style.css, app.js and mail.js).
        SEND_FILE_MAX_AGE_DEFAULT=STATIC_MAX_AGE,
        # The compose form's text fields (its files are counted apart): a message of
        # up to ComposeForm's 1,000,000 characters, in UTF-8.
        MAX_FORM_MEMORY_SIZE=4 * 1024 * 1024,
    )
    version = static_version(FRONTEND / "static")

    @app.url_defaults
    def versioned_static(endpoint: str, values: dict[str, object]) -> None:
        if endpoint == "static":
            values.setdefault("v", version)

    app.session_interface = ServerSessionInterface(services.websessions)
    app.extensions[SERVICES_KEY] = services
    app.add_template_filter(browser_name)
    app.add_template_filter(mail.folder_label)
    app.add_template_filter(mail.short_date)
    app.add_template_filter(mail.full_date)
    app.add_template_filter(mail.sender_name)
    app.add_template_filter(mail.file_size)
    app.add_template_filter(mail.folder_depth)
    app.add_template_filter(mail.folder_leaf)
    csrf = CSRFProtect(app)
    # Outlook's Autodiscover POST comes from an app, not from a page of ours; it reads
    # nothing of a session and changes nothing.
    csrf.exempt(discovery.outlook)

    login_manager = LoginManager(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    # The session itself is on the server and ends on logout, password change, expiry:
    # flask-login only turns it into current_user (no user id, no "_fresh" in it).
    login_manager.session_protection = None
    login_manager.request_loader(load_web_user)

    blueprints = (
        auth.blueprint,
        reauth.blueprint,
        account.blueprint,
        mail.blueprint,
        calendar.blueprint,
        tasks.blueprint,
        contacts.blueprint,
        settings.blueprint,
        devices.blueprint,
        discovery.blueprint,
        admin.blueprint,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    errors.register(app)

    @app.get("/")
    def index() -> Response:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        user: WebUser = current_user
        if user.principal.grants:
            return redirect(url_for("admin.home"))
        return redirect(url_for("mail.folder", mailbox="INBOX"))  # one hop, not two

    @app.before_request
    def start_clock() -> None:
        g.started = time.monotonic()

    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.endpoint != "static":
            elapsed = (time.monotonic() - g.get("started", time.monotonic())) * 1000
            who = current_user.address if current_user.is_authenticated else "-"
            access_log.info(
                "%s %s %s %s %s %.1fms",
                request.remote_addr,
                who,
                request.method,
                discovery.HIDDEN_PATH
                if request.endpoint in discovery.HIDDEN_ENDPOINTS
                else request.path,
                response.status_code,
                elapsed,
            )
        # A view may set a stricter policy of its own (webmail's HTML frame).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
