"""Login (password, then TOTP when enrolled) and logout for the web portal, and
`check_password`, the one way a web form checks a password.

The password step never logs in a TOTP user by itself: it opens a pending server-side
session that only the code step can turn into a login. Each step moves the browser to a
new session token, so a token planted before the login is worth nothing after it.
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import logout_user
from werkzeug.wrappers import Response

from groupware.errors import AuthFailed, TryLater
from groupware.services.auth.login import WEB, Login
from groupware.web.context import peer_ip, services
from groupware.web.forms import LoginForm, TotpForm
from groupware.web.redirects import safe_next
from groupware.web.sessions import current_session

blueprint = Blueprint("auth", __name__)
NEXT = "next"  # where the TOTP step goes once done, kept in the pending session


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if not services().auth.plaintext_allowed(peer_ip(), request.is_secure):
        message = "Passwords are only accepted over HTTPS here: use the https:// address."
        return render_template("error.html", title="HTTPS required", message=message), 403
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    result, status = check_password(form.login.data, form.password.data)
    if result is None:
        return render_template("login.html", form=form), status
    user_id = result.principal.user_id
    assert user_id is not None  # only the CLI acts without a user
    target = safe_next(request.args.get(NEXT))
    if result.totp_required:
        current_session().renew(user_id, pending=True, carry={NEXT: target} if target else None)
        return redirect(url_for("auth.totp"))
    current_session().renew(user_id)
    return _finish(user_id, target)


@blueprint.route("/login/totp", methods=["GET", "POST"])
def totp() -> str | Response | tuple[str, int]:
    pending = current_session().record
    if pending is None or not pending.pending:
        return redirect(url_for("auth.login"))  # none, or expired (after 5 minutes)
    form = TotpForm()
    if not form.validate_on_submit():
        return render_template("totp.html", form=form)
    auth = services().auth
    principal = auth.principal(pending.user_id)
    if principal is None or not auth.verify_totp(principal.via(WEB, peer_ip()), form.code.data):
        flash("That code is not right.", "error")
        return render_template("totp.html", form=form), 401
    target = safe_next(current_session().get(NEXT))
    # The password was typed at the first step: that is when this login authenticated.
    current_session().renew(pending.user_id, authenticated_at=pending.authenticated_at)
    return _finish(pending.user_id, target)


@blueprint.post("/logout")
def logout() -> Response:
    # CSRFProtect has checked the form's token before this runs.
    logout_user()
    current_session().end()
    return redirect(url_for("auth.login"))


def check_password(
    login: str, password: str, wrong: str = "Wrong address or password."
) -> tuple[Login | None, int]:
    """services.auth's check, for a form: (the login, 200), or (None, 401 or 429) with
    the reason flashed. Failures are throttled and audited there like any login."""
    try:
        return services().auth.authenticate(login, password, WEB, peer_ip()), 200
    except TryLater as exc:
        flash(str(exc), "error")
        return None, 429
    except AuthFailed as exc:
        # Slow the next guess down as the throttle asks, within a thread's patience.
        time.sleep(min(exc.retry_after, current_app.config["GROUPWARE_BACKOFF_MAX"], 3.0))
        flash(wrong, "error")
        return None, 401


def _finish(user_id: int, target: str | None) -> Response:
    principal = services().auth.principal(user_id)
    if principal is not None:
        # A default calendar, task list and address book from the first login (as over DAV).
        services().calendars.ensure_home(principal.address)
    return redirect(target or url_for("index"))
