"""Admin pages for aliases and groups (with their members)."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms.fields import SelectChoice

from groupware.web.admin.views import blueprint, domain_choices
from groupware.web.context import attempt, principal, services
from groupware.web.forms import ActionForm, AliasForm, GroupForm, MemberForm


def _lines(text: str | None) -> list[str]:
    return [part for part in (text or "").replace(",", "\n").split() if part]


@blueprint.get("/aliases")
def aliases() -> str:
    return render_template(
        "admin/aliases.html",
        aliases=services().aliases.list_all(principal()),
        form=AliasForm(),
        action=ActionForm(),
    )


@blueprint.post("/aliases")
def add_alias() -> Response:
    form = AliasForm()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().aliases.add(me, form.address.data, _lines(form.targets.data)),
            f"Alias {form.address.data} created.",
        )
    return redirect(url_for("admin.aliases"))


@blueprint.post("/aliases/<address>/remove")
def remove_alias(address: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().aliases.remove(me, address), f"Alias {address} removed.")
    return redirect(url_for("admin.aliases"))


def _group_form() -> GroupForm:
    form = GroupForm()
    form.domain.choices = [SelectChoice(d) for d in domain_choices()]
    return form


@blueprint.get("/groups")
def groups() -> str:
    return render_template(
        "admin/groups.html",
        groups=services().groups.list_all(principal()),
        form=_group_form(),
    )


@blueprint.post("/groups")
def add_group() -> Response:
    form = _group_form()
    if form.validate_on_submit():
        me = principal()
        created = attempt(
            lambda: services().groups.add(
                me,
                form.name.data,
                domain=form.domain.data,
                address=form.address.data or None,
                members=_lines(form.members.data),
            ),
            f"Group {form.name.data} created.",
        )
        if created is not None:
            return redirect(url_for("admin.group", domain=created.domain, name=created.name))
    return redirect(url_for("admin.groups"))


@blueprint.get("/groups/<domain>/<name>")
def group(domain: str, name: str) -> str:
    return render_template(
        "admin/group.html",
        group=services().groups.get(principal(), name, domain),
        form=MemberForm(),
        action=ActionForm(),
    )


@blueprint.post("/groups/<domain>/<name>/members")
def add_member(domain: str, name: str) -> Response:
    form = MemberForm()
    if form.validate_on_submit():
        me = principal()
        attempt(
            lambda: services().groups.add_member(me, name, form.member.data, domain),
            f"{form.member.data} added to {name}.",
        )
    return redirect(url_for("admin.group", domain=domain, name=name))


@blueprint.post("/groups/<domain>/<name>/members/<member>/remove")
def remove_member(domain: str, name: str, member: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().groups.remove_member(me, name, member, domain),
            f"{member} removed from {name}.",
        )
    return redirect(url_for("admin.group", domain=domain, name=name))


@blueprint.post("/groups/<domain>/<name>/remove")
def remove_group(domain: str, name: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(
            lambda: services().groups.remove(me, name, domain),
            f"Group {name} removed, with its calendars.",
        )
    return redirect(url_for("admin.groups"))
