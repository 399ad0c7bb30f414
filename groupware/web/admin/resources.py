"""Admin page for rooms and equipment: listed, added (name, capacity, who may book) and
removed, as `groupware resource` does. Adding and removing need directory.users.manage
on the resource's domain (services/calendar/resources.py asks through the accounts)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.web.admin.views import blueprint
from groupware.web.context import attempt, principal, services
from groupware.web.forms import ActionForm


@blueprint.get("/resources")
def resources() -> str:
    return render_template(
        "admin/resources.html", resources=services().resources.list_all(), action=ActionForm()
    )


@blueprint.post("/resources")
def add_resource() -> Response:
    if ActionForm().validate_on_submit():
        form = request.form
        address, name = form.get("address", "").strip(), form.get("name", "").strip()[:200]
        capacity = form.get("capacity", "0").strip() or "0"
        if not capacity.isdigit() or len(capacity) > 6:
            capacity = "-1"  # the service says what is wrong
        me = principal()
        attempt(
            lambda: services().resources.add(
                me,
                address,
                name,
                capacity=int(capacity),
                kind=form.get("kind", "room"),
                restricted=form.get("restricted") == "1",
            ),
            f"{name or address} added.",
        )
    return redirect(url_for("admin.resources"))


@blueprint.post("/resources/<address>/remove")
def remove_resource(address: str) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().resources.remove(me, address), f"{address} removed.")
    return redirect(url_for("admin.resources"))
