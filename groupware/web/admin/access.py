"""Admin pages for roles, grants and the audit log."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms.fields import SelectChoice

from groupware.services.core.access import PERMISSIONS, WILDCARD
from groupware.web.admin.views import blueprint
from groupware.web.context import attempt, principal, services
from groupware.web.forms import ActionForm, GrantForm, RoleForm

EVERYWHERE = ""


def _role_form() -> RoleForm:
    form = RoleForm()
    form.permissions.choices = [
        SelectChoice(name, f"{name}: {what}") for name, what in PERMISSIONS.items()
    ]
    return form


def _grant_form() -> GrantForm:
    form = GrantForm()
    form.role.choices = [
        SelectChoice(r.name) for r in services().roles.list_all() if r.name != "user"
    ]
    domains = services().directory.list_domains(principal())
    form.domain.choices = [SelectChoice(EVERYWHERE, "all domains")] + [
        SelectChoice(d.name) for d in domains
    ]
    return form


@blueprint.get("/roles")
def roles() -> str:
    me = principal()
    svc = services()
    grants = svc.roles.grants(me)  # requires directory.roles.manage: refuses others
    return render_template(
        "admin/roles.html",
        roles=svc.roles.list_all(),
        grants=grants,
        wildcard=WILDCARD,
        role_form=_role_form(),
        grant_form=_grant_form(),
        action=ActionForm(),
    )


@blueprint.post("/roles")
def create_role() -> Response:
    form = _role_form()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().roles.create(
                me, form.name.data, list(form.permissions.data or []), form.description.data or ""
            ),
            f"Role {form.name.data} created.",
        )
    return redirect(url_for("admin.roles"))


@blueprint.post("/roles/<name>/delete")
def delete_role(name: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().roles.delete(me, name), f"Role {name} deleted.")
    return redirect(url_for("admin.roles"))


@blueprint.post("/grants")
def grant() -> Response:
    form = _grant_form()
    if form.validate_on_submit():
        me = principal()
        who = form.grantee.data.strip()
        target = {"user": who} if form.grantee_kind.data == "user" else {"group": who}
        attempt(
            lambda: services().roles.grant(
                me, form.role.data, domain=form.domain.data or None, **target
            ),
            f"{form.role.data} granted to {who}.",
        )
    return redirect(url_for("admin.roles"))


@blueprint.post("/grants/<int:grant_id>/revoke")
def revoke(grant_id: int) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().roles.revoke_grant(me, grant_id), "Grant revoked.")
    return redirect(url_for("admin.roles"))


@blueprint.get("/audit")
def audit() -> str:
    actor = request.args.get("actor", "").strip() or None
    action = request.args.get("action", "").strip() or None
    entries = services().audit.entries(principal(), actor=actor, action=action, limit=300)
    return render_template(
        "admin/audit.html", entries=entries, actor=actor or "", action=action or ""
    )
