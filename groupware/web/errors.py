"""Maps service errors and HTTP errors to pages: the web's one error-to-wire module.

A refusal from access.require becomes 403 with its message, a throttled step 429;
anything unexpected is logged with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import logging
import math

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from groupware.errors import InvalidInput, NotFound, PermissionDenied, TryLater

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    def page(status: int, title: str, message: str) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message), status

    @app.errorhandler(PermissionDenied)
    def denied(exc: PermissionDenied) -> tuple[str, int]:
        return page(403, "Not allowed", str(exc))

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> tuple[str, int]:
        return page(404, "Not found", str(exc))

    @app.errorhandler(InvalidInput)
    def invalid(exc: InvalidInput) -> tuple[str, int]:
        return page(400, "Invalid input", str(exc))

    @app.errorhandler(TryLater)
    def try_later(exc: TryLater) -> tuple[str, int, dict[str, str]]:
        # RFC 6585 §4: 429 with Retry-After (a login step throttled, e.g. TOTP codes).
        body, status = page(429, "Try again later", str(exc))
        return body, status, {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}

    @app.errorhandler(CSRFError)
    def csrf(exc: CSRFError) -> tuple[str, int]:
        return page(400, "Form expired", "The form was stale or forged; reload and try again.")

    @app.errorhandler(HTTPException)
    def http(exc: HTTPException) -> tuple[str, int]:
        return page(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        log.exception("unexpected error in a web request")
        return page(500, "Server error", "Something went wrong; it has been logged.")
