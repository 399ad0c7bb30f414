"""A user's personal settings for mail: how webmail shows it, the identities they send
from (name and signature each), the auto-reply while away, forwarding, delivery rules,
and the senders whose remote images are shown. Password, two-step login and app
passwords stay on the account page, linked from here.

Each form changes only the logged-in user's own settings, through the services that
own them; forwarding all mail elsewhere wants the password typed recently (a thief's
favourite change, as web/reauth.py guards sign-in changes).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.services.delivery.rules import FORWARDING
from groupware.services.delivery.rulespec import Action, Condition, RuleSpec
from groupware.services.delivery.vacation import VacationSettings
from groupware.services.mail.preferences import MailSettings
from groupware.web.context import attempt, login_gate, principal, services, succeeded
from groupware.web.forms import (
    ActionForm,
    ForwardingForm,
    IdentityForm,
    MailDisplayForm,
    RuleForm,
    TrustForm,
    VacationForm,
)
from groupware.web.mail import ordered
from groupware.web.reauth import fresh_login_required

blueprint = Blueprint("settings", __name__, url_prefix="/settings")


@blueprint.before_request
def _logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def overview() -> str:
    me, svc = principal(), services()
    prefs = svc.preferences.get(me)
    display = MailDisplayForm(
        page_size=str(prefs.page_size),
        conversations=prefs.conversations,
        undo_seconds=prefs.undo_seconds,
    )
    away = svc.vacation.get(me, me.address)
    vacation = VacationForm(
        enabled=away.enabled,
        subject=away.subject,
        body=away.body,
        start_date=away.start_date,
        end_date=away.end_date,
    )
    forwarded = svc.rules.forwarding(me, me.address)
    forwarding = ForwardingForm(
        target=forwarded[0] if forwarded else "", keep=forwarded[1] if forwarded else True
    )
    rules = [r for r in svc.rules.list_all(me, me.address) if r.spec.name != FORWARDING]
    return render_template(
        "settings.html",
        display=display,
        identities=svc.identities.list_all(me),
        identity_form=IdentityForm(formdata=None),
        vacation=vacation,
        forwarding=forwarding,
        forwarded=forwarded,
        rules=rules,
        rule_form=RuleForm(formdata=None),
        folders=ordered(svc.mailboxes.list_all(me)),
        trusted=svc.preferences.trusted(me),
        trust_form=TrustForm(formdata=None),
        action=ActionForm(),
    )


def _back(section: str) -> Response:
    return redirect(url_for("settings.overview") + "#" + section)


def _refused(form: object, section: str) -> Response:
    for errors in getattr(form, "errors", {}).values():
        for error in errors:
            flash(str(error), "error")
    return _back(section)


@blueprint.post("/display")
def display() -> Response:
    form = MailDisplayForm()
    if not form.validate_on_submit():
        return _refused(form, "display")
    settings = MailSettings(
        int(form.page_size.data), bool(form.conversations.data), int(form.undo_seconds.data)
    )
    attempt(lambda: services().preferences.set(principal(), settings), "Saved.")
    return _back("display")


@blueprint.post("/identities")
def save_identity() -> Response:
    form = IdentityForm()
    if not form.validate_on_submit():
        return _refused(form, "identities")
    me = principal()
    attempt(
        lambda: services().identities.save(
            me,
            form.address.data,
            form.name.data or "",
            form.signature.data or "",
            is_default=bool(form.is_default.data),
        ),
        f"Saved {form.address.data}.",
    )
    return _back("identities")


@blueprint.post("/identities/remove")
def remove_identity() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    address = request.form.get("address", "")
    succeeded(lambda: services().identities.remove(principal(), address), f"Reset {address}.")
    return _back("identities")


@blueprint.post("/vacation")
def vacation() -> Response:
    form = VacationForm()
    if not form.validate_on_submit():
        return _refused(form, "vacation")
    me = principal()
    settings = VacationSettings(
        enabled=bool(form.enabled.data),
        subject=form.subject.data or "",
        body=form.body.data or "",
        start_date=form.start_date.data,
        end_date=form.end_date.data,
    )
    said = "The auto-reply is on." if settings.enabled else "The auto-reply is off."
    attempt(lambda: services().vacation.set(me, me.address, settings), said)
    return _back("vacation")


@blueprint.post("/forwarding")
@fresh_login_required("settings.overview")
def forwarding() -> Response:
    form = ForwardingForm()
    if not form.validate_on_submit():
        return _refused(form, "forwarding")
    me, target = principal(), (form.target.data or "").strip()
    said = f"All mail is forwarded to {target}." if target else "Mail is no longer forwarded."
    succeeded(
        lambda: services().rules.set_forwarding(
            me, me.address, target or None, keep=bool(form.keep.data)
        ),
        said,
    )
    return _back("forwarding")


@blueprint.post("/rules")
@fresh_login_required("settings.overview")
def add_rule() -> Response:
    """A rule with one condition and one action; a forwarding one wants the password
    typed recently, like Forwarding (every rule change does, for simplicity)."""
    form = RuleForm()
    if not form.validate_on_submit():
        return _refused(form, "rules")
    me = principal()
    value = (form.value.data or "").strip()
    conditions = (Condition(form.field.data, form.op.data, value),) if value else ()
    action = Action(form.action.data, (form.target.data or "").strip())
    spec = RuleSpec(form.name.data, conditions, (action,))
    attempt(lambda: services().rules.add(me, me.address, spec), f"Added {spec.name}.")
    return _back("rules")


@blueprint.post("/rules/<int:rule_id>/<what>")
@fresh_login_required("settings.overview")
def change_rule(rule_id: int, what: str) -> Response:
    """Move a rule up or down, turn it off or on (which may start a forward again), or
    remove it."""
    if not ActionForm().validate_on_submit():
        abort(400)
    me, rules = principal(), services().rules
    mine = {rule.id: rule for rule in rules.list_all(me, me.address)}
    rule = mine.get(rule_id)
    if rule is None or rule.spec.name == FORWARDING:
        abort(404)
    if what in ("up", "down"):
        rules.move(me, me.address, rule_id, rule.position + (-1 if what == "up" else 1))
    elif what == "toggle":
        spec = RuleSpec(
            rule.spec.name,
            rule.spec.conditions,
            rule.spec.actions,
            rule.spec.match,
            not rule.spec.enabled,
        )
        rules.replace(me, me.address, rule_id, spec)
    elif what == "remove":
        succeeded(lambda: rules.remove(me, me.address, rule_id), f"Removed {rule.spec.name}.")
    else:
        abort(404)
    return _back("rules")


@blueprint.post("/images")
def trust() -> Response:
    form = TrustForm()
    if not form.validate_on_submit():
        return _refused(form, "images")
    sender = form.sender.data.strip()
    attempt(
        lambda: services().preferences.trust(principal(), sender, on=True),
        f"Images from {sender} are shown.",
    )
    return _back("images")


@blueprint.post("/images/remove")
def distrust() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    sender = request.form.get("sender", "")
    attempt(
        lambda: services().preferences.trust(principal(), sender, on=False),
        f"Images from {sender} are asked for again.",
    )
    return _back("images")
