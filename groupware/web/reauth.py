"""Fresh login for sensitive changes: `fresh_login_required` and its Confirm page.

A view so marked (how one signs in: TOTP, app passwords; where mail goes: forwarding)
runs only if the password was typed in this session within web.reauth_minutes; else
the browser goes to "Confirm your password", whose check counts like a login
(throttled, audited), and then back to the page the change is made on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.web.auth import check_password
from groupware.web.context import login_gate, principal
from groupware.web.forms import ConfirmPasswordForm
from groupware.web.redirects import safe_next
from groupware.web.sessions import current_session

blueprint = Blueprint("reauth", __name__)
View = TypeVar("View", bound=Callable[..., Any])


def password_is_fresh() -> bool:
    """Was the password typed in this session within web.reauth_minutes?"""
    record = current_session().record
    if record is None:
        return False
    window = timedelta(minutes=current_app.config["GROUPWARE_REAUTH_MINUTES"])
    return datetime.now(UTC) - record.authenticated_at < window


def fresh_login_required(back_to: str) -> Callable[[View], View]:
    """Mark a view that changes sign-in or delivery settings. `back_to` is the endpoint
    of the page holding its form, where the user returns to repeat the change (given
    the view's URL arguments it takes, e.g. an admin's user page)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def fresh_only(*args: Any, **kwargs: Any) -> Any:
            if password_is_fresh():
                return view(*args, **kwargs)
            wanted = _arguments(back_to)
            page = url_for(back_to, **{k: v for k, v in kwargs.items() if k in wanted})
            return redirect(url_for("reauth.confirm", next=page))

        return fresh_only  # type: ignore[return-value]

    return decorate


@blueprint.before_request
def _logged_in() -> Response | None:
    return login_gate()


@blueprint.route("/confirm-password", methods=["GET", "POST"])
def confirm() -> str | Response | tuple[str, int]:
    target = safe_next(request.args.get("next")) or url_for("account.overview")
    form = ConfirmPasswordForm()
    if not form.validate_on_submit():
        return _page(form, target)
    found, status = check_password(
        principal().address, form.password.data, wrong="That password is not right."
    )
    if found is None:
        return _page(form, target, status)
    current_session().password_confirmed()
    return redirect(target)


def _page(form: ConfirmPasswordForm, target: str, status: int = 200) -> tuple[str, int]:
    minutes = current_app.config["GROUPWARE_REAUTH_MINUTES"]
    page = render_template("confirm.html", form=form, target=target, minutes=minutes)
    return page, status


def _arguments(endpoint: str) -> set[str]:
    return {arg for rule in current_app.url_map.iter_rules(endpoint) for arg in rule.arguments}
