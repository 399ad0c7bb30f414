"""What every view needs from the request: the services and the acting principal.

The logged-in user is the user of this browser's server-side session (web/sessions.py),
reloaded from the directory on each request, so a disabled account or a revoked role
takes effect at once; a changed password ends the sessions themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, flash, request
from flask_login import UserMixin, current_user
from werkzeug.wrappers import Request, Response

from groupware.errors import GroupwareError, InvalidInput, PermissionDenied
from groupware.services import Services
from groupware.services.auth.login import WEB
from groupware.services.core.access import Principal
from groupware.web.sessions import session_or_none

SERVICES_KEY = "groupware.services"
T = TypeVar("T")


class WebUser(UserMixin):  # type: ignore[misc]
    """A logged-in principal, as flask-login's `current_user`."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.id = str(principal.user_id)

    @property
    def address(self) -> str:
        return self.principal.address


def services() -> Services:
    found: Services = current_app.extensions[SERVICES_KEY]
    return found


def peer_ip() -> str:
    return request.remote_addr or ""


def load_web_user(_request: Request) -> WebUser | None:
    """flask-login's request loader: the session's user, while active."""
    found = session_or_none()
    user_id = found.user_id if found is not None else None
    if user_id is None:
        return None
    principal = services().auth.principal(user_id)
    if principal is None:
        return None
    return WebUser(principal.via(WEB, peer_ip()))


def login_gate() -> Response | None:
    """For before_request hooks: send anonymous visitors to the login page."""
    if current_user.is_authenticated:
        return None
    response: Response = current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return response


def principal() -> Principal:
    user: WebUser = current_user
    return user.principal


def attempt(action: Callable[[], T], success: str) -> T | None:
    """Run a service call for a form: flash its outcome; refusals become a 403 page."""
    try:
        result = action()
    except PermissionDenied:
        raise
    except GroupwareError as exc:
        flash(str(exc), "error")
        return None
    flash(success, "ok")
    return result


def uploaded_text(field: str, limit: int, what: str) -> str:
    """The form's file `field` as UTF-8 text (an .ics or .vcf import); InvalidInput says
    what is wrong: no file, over `limit` bytes, not UTF-8 `what`."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise InvalidInput(f"Choose a file of {what} to import.")
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"The file is over {limit // 1_000_000} MB.")
    try:
        return str(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"That file is not UTF-8 {what}.") from None


def download(text: str | bytes, mimetype: str, title: str, suffix: str) -> Response:
    """`text` as a file named after `title`, never shown as one of our pages."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-") or "export"
    return Response(
        text,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}{suffix}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


def succeeded(action: Callable[[], object], success: str) -> bool:
    """`attempt` for actions that return nothing: True when it went through."""
    return attempt(lambda: (action(), True)[1], success) is not None
