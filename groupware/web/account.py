"""A user's own account pages: password, TOTP enrolment, app passwords, where they are
signed in, and sharing calendars, task lists and address books.

Every user reaches this, whatever their roles; it never shows anyone else's account.
Changes to how one signs in want a fresh password (web/reauth.py); secrets shown once
(a TOTP key being enrolled, a new app password) wait in the server-side session.
"""

from __future__ import annotations

import segno
from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import logout_user
from werkzeug.wrappers import Response

from groupware.web.auth import check_password
from groupware.web.context import attempt, login_gate, principal, services, succeeded
from groupware.web.forms import (
    ActionForm,
    AppPasswordForm,
    ChangePasswordForm,
    ShareForm,
    TotpForm,
)
from groupware.web.reauth import fresh_login_required
from groupware.web.sessions import current_session

blueprint = Blueprint("account", __name__, url_prefix="/account")


@blueprint.before_request
def _logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def overview() -> str:
    me = principal()
    svc = services()
    new_secret = session.pop("new_app_password", None)
    enrolment = session.get("totp_enrolment")
    qr = segno.make(enrolment[1], error="m").svg_data_uri(scale=4) if enrolment else None
    return render_template(
        "account.html",
        user=svc.directory.get_user(me, me.address),
        app_passwords=svc.credentials.app_passwords(me, me.address),
        new_secret=new_secret,
        enrolment=enrolment,
        qr=qr,
        roles=me.roles(),
        sessions=svc.websessions.of(me),
        this_session=_this_session_id(),
        password_form=ChangePasswordForm(),
        app_form=AppPasswordForm(),
        totp_form=TotpForm(),
        action=ActionForm(),
    )


@blueprint.post("/password")
def change_password() -> Response:
    # Asks for the current password itself, checked as a login (throttled, audited).
    form = ChangePasswordForm()
    if form.validate_on_submit():
        me = principal()
        wrong = "The current password is not right."
        found, _ = check_password(me.address, form.current.data, wrong=wrong)
        if found is not None and succeeded(
            lambda: services().directory.change_own_password(me, form.current.data, form.new.data),
            "Password changed.",
        ):
            # The change ended every session of the account; this browser, which just
            # proved the password, goes on in a new one.
            assert me.user_id is not None
            current_session().renew(me.user_id)
    return redirect(url_for("account.overview"))


@blueprint.post("/app-passwords")
@fresh_login_required("account.overview")
def add_app_password() -> Response:
    form = AppPasswordForm()
    if form.validate_on_submit():
        me = principal()
        made = attempt(
            lambda: services().credentials.add_app_password(me, me.address, form.name.data),
            "App password created: copy it now, it will not be shown again.",
        )
        if made is not None:
            session["new_app_password"] = [made[0].name, made[1]]
    return redirect(_back())


@blueprint.post("/app-passwords/revoke")
@fresh_login_required("account.overview")
def revoke_app_password() -> Response:
    # The name rides in the form, not the path: a name may hold "/" or be "..".
    name = request.form.get("name", "")
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().credentials.revoke_app_password(me, me.address, name),
            f"App password {name} revoked.",
        )
    return redirect(_back())


def _back() -> str:
    """The page an app-password form was on: this one, or Settings → Devices."""
    return url_for(
        "devices.overview" if request.args.get("back") == "devices" else "account.overview"
    )


@blueprint.post("/totp/begin")
@fresh_login_required("account.overview")
def begin_totp() -> Response:
    if ActionForm().validate_on_submit():
        enrolment = services().credentials.begin_totp(principal())
        session["totp_enrolment"] = [enrolment.secret, enrolment.uri]
    return redirect(url_for("account.overview"))


@blueprint.post("/totp/confirm")
@fresh_login_required("account.overview")
def confirm_totp() -> Response:
    form = TotpForm()
    enrolment = session.get("totp_enrolment")
    if form.validate_on_submit() and enrolment:
        attempt(
            lambda: services().credentials.confirm_totp(principal(), enrolment[0], form.code.data),
            "Two-factor login is on: mail and calendar apps now need app passwords.",
        )
        if _enrolled():
            session.pop("totp_enrolment", None)
    return redirect(url_for("account.overview"))


@blueprint.post("/totp/disable")
@fresh_login_required("account.overview")
def disable_totp() -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().credentials.disable_totp(me, me.address), "Two-factor login is off."
        )
    return redirect(url_for("account.overview"))


@blueprint.post("/sessions/<sid>/sign-out")
def end_session(sid: str) -> Response:
    if ActionForm().validate_on_submit():
        this = sid == _this_session_id()
        me = principal()
        # Anyone else's session is "not found", like one that ended already.
        ended = succeeded(lambda: services().websessions.end_own(me, sid), "Signed out.")
        if ended and this:
            return _signed_out()
    return redirect(url_for("account.overview"))


@blueprint.post("/sessions/sign-out-everywhere")
def end_all_sessions() -> Response:
    if ActionForm().validate_on_submit():
        services().websessions.end_all_own(principal())
        return _signed_out()
    return redirect(url_for("account.overview"))


def _signed_out() -> Response:
    logout_user()
    current_session().end()
    return redirect(url_for("auth.login"))


def _this_session_id() -> str | None:
    record = current_session().record
    return record.id if record is not None else None


def _enrolled() -> bool:
    me = principal()
    return services().directory.get_user(me, me.address).totp_enabled


@blueprint.get("/calendars")
def calendars() -> Response:
    """Where sharing was before the calendar pages: now beside them."""
    return redirect(url_for("calendar.sharing"))


@blueprint.post("/calendars/shares")
def share_calendar() -> Response:
    form = ShareForm()
    if form.validate_on_submit():
        me = principal()
        sharee = form.sharee.data.strip()
        attempt(
            lambda: services().sharing.share(me, form.collection.data, sharee, form.access.data),
            f"Shared with {sharee}.",
        )
    return redirect(url_for("calendar.sharing"))


@blueprint.post("/calendars/shares/remove/<path:collection>/<sharee>")
def unshare_calendar(collection: str, sharee: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().sharing.unshare(me, collection, sharee),
            f"No longer shared with {sharee}.",
        )
    return redirect(url_for("calendar.sharing"))
