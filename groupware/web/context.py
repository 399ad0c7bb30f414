"""What every view needs from the request: the services and the acting principal.

The logged-in user is reloaded from the directory on each request, so a disabled
account, a revoked role or a changed password takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, flash, request
from flask_login import UserMixin, current_user
from werkzeug.wrappers import Response

from groupware.errors import GroupwareError, PermissionDenied
from groupware.services import Services
from groupware.services.access import Principal

SERVICES_KEY = "groupware.services"
T = TypeVar("T")


class WebUser(UserMixin):  # type: ignore[misc]
    """A logged-in principal; its id carries the password's age so a change logs out."""

    def __init__(self, principal: Principal, password_stamp: float) -> None:
        self.principal = principal
        self.id = f"{principal.user_id}:{password_stamp:.6f}"

    @property
    def address(self) -> str:
        return self.principal.address


def services() -> Services:
    found: Services = current_app.extensions[SERVICES_KEY]
    return found


def peer_ip() -> str:
    return request.remote_addr or ""


def load_web_user(user_id: str) -> WebUser | None:
    """flask-login's loader: None when the user is gone, disabled or changed password."""
    ident, _, stamp = user_id.partition(":")
    if not ident.isdigit():
        return None
    auth = services().auth
    changed = auth.password_changed_at(int(ident))
    if changed is None or f"{changed:.6f}" != stamp:
        return None
    principal = auth.principal(int(ident))
    if principal is None:
        return None
    return WebUser(principal.via("web", peer_ip()), changed)


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


def succeeded(action: Callable[[], object], success: str) -> bool:
    """`attempt` for actions that return nothing: True when it went through."""
    return attempt(lambda: (action(), True)[1], success) is not None
