"""Fresh login for sensitive changes: `fresh_login_required`, `fresh_login_for_changes`
and their Confirm page.

A view so marked (how one signs in: TOTP, app passwords; where mail goes: forwarding),
and every POST of a blueprint so marked (the admin console), runs only if the password
was typed in this session within web.reauth_minutes; else the browser goes to "Confirm
your password", whose check counts like a login (throttled, audited), and then back to
the page the change is made on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.web.auth import check_password
from groupware.web.context import login_gate, principal
from groupware.web.forms import ConfirmPasswordForm
from groupware.web.redirects import safe_next
from groupware.web.sessions import current_session

blueprint = Blueprint("reauth", __name__)
View = TypeVar("View", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # RFC 9110 §9.2.1: they change nothing


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
            return _confirm_first(
                url_for(back_to, **{k: v for k, v in kwargs.items() if k in wanted})
            )

        return fresh_only  # type: ignore[return-value]

    return decorate


def fresh_login_for_changes(guarded: Blueprint) -> None:
    """Every request of `guarded` but GET, HEAD and OPTIONS wants a fresh login, so that
    no view added later can forget it. The browser comes back to the page whose form it
    posted (see _form_page). Register it after the blueprint's login gate."""

    @guarded.before_request
    def _fresh_for_changes() -> Response | None:
        if request.method in SAFE_METHODS or password_is_fresh():
            return None
        return _confirm_first(_form_page())


def _confirm_first(page: str) -> Response:
    return redirect(url_for("reauth.confirm", next=page))


def _form_page() -> str:
    """The page a posted form was on: the Referer when it is a page of ours (browsers
    send it for same-origin posts: our Referrer-Policy is same-origin), else the posted
    path or the nearest page up it that a GET opens ("/admin/users/x/password" →
    "/admin/users/x")."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        page = safe_next(urlunsplit(("", "", referrer.path, referrer.query, "")))
        if page is not None:
            return page
    path = request.script_root + quote(request.path, safe="/@:!$&'()*+,;=~")
    while path.count("/") > 1 and safe_next(path) is None:
        path = path.rsplit("/", 1)[0]
    return path if safe_next(path) is not None else url_for("index")


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
