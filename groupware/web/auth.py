"""Login (password, then TOTP when enrolled) and logout for the web portal.

The password step never logs in a TOTP user by itself: it leaves a pending marker in
the session that only the code step can turn into a login.
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
    session,
    url_for,
)
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from groupware.errors import AuthFailed, TryLater
from groupware.services.auth import WEB
from groupware.web.context import WebUser, peer_ip, services
from groupware.web.forms import LoginForm, TotpForm
from groupware.web.redirects import safe_next

blueprint = Blueprint("auth", __name__)
PENDING_TOTP_SECONDS = 300


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if not services().auth.plaintext_allowed(peer_ip(), request.is_secure):
        message = "Passwords are only accepted over HTTPS here: use the https:// address."
        return render_template("error.html", title="HTTPS required", message=message), 403
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    try:
        result = services().auth.authenticate(form.login.data, form.password.data, WEB, peer_ip())
    except TryLater as exc:
        flash(str(exc), "error")
        return render_template("login.html", form=form), 429
    except AuthFailed as exc:
        # Slow the next guess down as the throttle asks, within a thread's patience.
        time.sleep(min(exc.retry_after, current_app.config["GROUPWARE_BACKOFF_MAX"], 3.0))
        flash("Wrong address or password.", "error")
        return render_template("login.html", form=form), 401
    session.clear()  # no session fixation across the login boundary
    user_id = result.principal.user_id
    assert user_id is not None  # only the CLI acts without a user
    if result.totp_required:
        session["pending_totp"] = [user_id, time.time()]
        return redirect(url_for("auth.totp"))
    return _finish(user_id)


@blueprint.route("/login/totp", methods=["GET", "POST"])
def totp() -> str | Response | tuple[str, int]:
    pending = session.get("pending_totp")
    if not pending or time.time() - pending[1] > PENDING_TOTP_SECONDS:
        session.pop("pending_totp", None)
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if not form.validate_on_submit():
        return render_template("totp.html", form=form)
    auth = services().auth
    principal = auth.principal(pending[0])
    if principal is None or not auth.verify_totp(principal.via(WEB, peer_ip()), form.code.data):
        flash("That code is not right.", "error")
        return render_template("totp.html", form=form), 401
    session.pop("pending_totp", None)
    return _finish(pending[0])


@blueprint.post("/logout")
def logout() -> Response:
    # CSRFProtect has checked the form's token before this runs.
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def _finish(user_id: int) -> Response:
    auth = services().auth
    principal = auth.principal(user_id)
    stamp = auth.password_changed_at(user_id)
    if principal is None or stamp is None:
        return redirect(url_for("auth.login"))
    session.permanent = True
    login_user(WebUser(principal.via(WEB, peer_ip()), stamp))
    # A default calendar, task list and address book from the first login (as over DAV).
    services().calendars.ensure_home(principal.address)
    return redirect(safe_next(request.args.get("next")) or url_for("index"))
