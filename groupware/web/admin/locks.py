"""Admin page of login locks: what the throttle holds now, with a Clear button per key.

Who sees and clears which key is the service's decision (services/auth/loginlocks.py).
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.web.admin.views import blueprint
from groupware.web.context import attempt, principal, services
from groupware.web.forms import ActionForm


@blueprint.get("/locks")
def locks() -> str:
    entries = services().login_locks.entries(principal())  # refuses viewers without the right
    return render_template("admin/locks.html", locks=entries, action=ActionForm())


@blueprint.post("/locks/clear")
def clear_lock() -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        key = request.form.get("key", "")
        attempt(lambda: services().login_locks.clear(me, key), f"Cleared {key}.")
    return redirect(url_for("admin.locks"))
