"""The admin blueprint and what its pages share: the login gate, the fresh login every
change wants, and the menu.

A user with no grant at all gets a 403 here; finer checks are the services' own. Every
POST (users, passwords, TOTP, aliases, groups, roles and grants, domains, login locks)
wants the admin's password typed within web.reauth_minutes (web/reauth.py): a stolen or
forgotten session alone changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from groupware.services.core import access
from groupware.web.context import login_gate, principal, services
from groupware.web.reauth import fresh_login_for_changes

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.before_request
def _admins_only() -> Response | None:
    gate = login_gate()
    if gate is None and not principal().grants:
        abort(403, "The admin console needs an administrative role.")
    return gate


fresh_login_for_changes(blueprint)  # after the gate: strangers get the login page, not this


@blueprint.app_context_processor
def admin_menu() -> dict[str, object]:
    """Which admin sections the viewer may open, for the navigation bar."""
    if not current_user.is_authenticated:
        return {"admin_menu": []}
    me = principal()

    def anywhere(permission: str) -> bool:
        domains = access.domains_with(me, permission)
        return domains is None or bool(domains)

    sections = [
        ("admin.domains", "Domains", anywhere("directory.users.manage")),
        ("admin.users", "Users", anywhere("directory.users.manage")),
        ("admin.aliases", "Aliases", anywhere("directory.aliases.manage")),
        ("admin.groups", "Groups", anywhere("directory.groups.manage")),
        ("admin.resources", "Rooms", anywhere("directory.users.manage")),
        ("admin.roles", "Roles", access.domains_with(me, "directory.roles.manage") is None),
        ("admin.locks", "Login locks", anywhere("directory.users.manage")),
        ("admin.audit", "Audit log", anywhere("audit.read")),
    ]
    return {"admin_menu": [(endpoint, label) for endpoint, label, shown in sections if shown]}


@blueprint.get("")
def home() -> Response:
    return redirect(url_for("admin.users"))


def domain_choices() -> list[str]:
    """Domains where the viewer manages something (for selects)."""
    return [d.name for d in services().directory.list_domains(principal())]
