"""Admin pages for domains and users.

Forms post back and redirect (PRG); a refusal by the services is a 403 page. Like every
admin change, they want the admin's own password typed recently (admin/views.py).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.web.admin.views import blueprint, domain_choices
from groupware.web.context import attempt, principal, services, succeeded
from groupware.web.forms import ActionForm, DomainForm, EditUserForm, NewUserForm, ResetPasswordForm

MIB = 1024 * 1024


@blueprint.get("/domains")
def domains() -> str:
    return render_template(
        "admin/domains.html",
        domains=services().directory.list_domains(principal()),
        form=DomainForm(),
        action=ActionForm(),
    )


@blueprint.post("/domains")
def add_domain() -> Response:
    form = DomainForm()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().directory.add_domain(me, form.name.data),
            f"Domain {form.name.data} added.",
        )
    return redirect(url_for("admin.domains"))


@blueprint.post("/domains/<name>/remove")
def remove_domain(name: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().directory.remove_domain(me, name), f"Domain {name} removed.")
    return redirect(url_for("admin.domains"))


@blueprint.get("/users")
def users() -> str:
    domain = request.args.get("domain") or None
    return render_template(
        "admin/users.html",
        users=services().directory.list_users(principal(), domain),
        domains=domain_choices(),
        selected=domain,
        form=NewUserForm(),
    )


@blueprint.post("/users")
def add_user() -> Response:
    form = NewUserForm()
    if form.validate_on_submit():
        me = principal()
        created = attempt(
            lambda: services().directory.add_user(
                me,
                form.address.data,
                form.password.data,
                display_name=form.display_name.data or "",
                quota_bytes=(form.quota_mib.data or 0) * MIB,
            ),
            f"User {form.address.data} created.",
        )
        if created is not None:
            return redirect(url_for("admin.user", address=created.address))
    return redirect(url_for("admin.users"))


@blueprint.get("/users/<address>")
def user(address: str) -> str:
    me = principal()
    info = services().directory.get_user(me, address)
    form = EditUserForm(
        display_name=info.display_name, quota_mib=info.quota_bytes // MIB, active=info.active
    )
    return render_template(
        "admin/user.html",
        user=info,
        form=form,
        reset_form=ResetPasswordForm(),
        action=ActionForm(),
    )


@blueprint.post("/users/<address>")
def update_user(address: str) -> Response:
    form = EditUserForm()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().directory.update_user(
                me,
                address,
                display_name=form.display_name.data or "",
                quota_bytes=(form.quota_mib.data or 0) * MIB,
                active=bool(form.active.data),
            ),
            f"User {address} saved.",
        )
    return redirect(url_for("admin.user", address=address))


@blueprint.post("/users/<address>/password")
def reset_password(address: str) -> Response:
    form = ResetPasswordForm()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().directory.set_password(me, address, form.password.data),
            f"Password of {address} reset.",
        )
    return redirect(url_for("admin.user", address=address))


@blueprint.post("/users/<address>/totp/disable")
def disable_totp(address: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().credentials.disable_totp(me, address),
            f"Two-factor login of {address} turned off.",
        )
    return redirect(url_for("admin.user", address=address))


@blueprint.post("/users/<address>/remove")
def remove_user(address: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        if succeeded(
            lambda: services().directory.remove_user(me, address),
            f"User {address} removed.",
        ):
            return redirect(url_for("admin.users"))
    return redirect(url_for("admin.user", address=address))
