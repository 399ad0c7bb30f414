"""Commands for roles, grants, app passwords and login locks: one small handler each,
acting as the system principal. Add a handler here and its line in cli/__init__.py's parser.
"""

from __future__ import annotations

import argparse

from groupware.cli.terminal import print_table
from groupware.services import Services
from groupware.services.core.access import PERMISSIONS, SYSTEM

# -- roles -----------------------------------------------------------------------------


def cmd_role_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (r.name, "built-in" if r.builtin else "custom", ",".join(r.permissions), r.description)
        for r in services.roles.list_all()
    ]
    print_table(("ROLE", "KIND", "PERMISSIONS", "DESCRIPTION"), rows)


def cmd_role_permissions(args: argparse.Namespace, services: Services) -> None:
    print_table(("PERMISSION", "ALLOWS"), sorted(PERMISSIONS.items()))


def cmd_role_create(args: argparse.Namespace, services: Services) -> None:
    role = services.roles.create(SYSTEM, args.name, args.permission, args.description)
    print(f"created role {role.name}: {', '.join(role.permissions)}")


def cmd_role_delete(args: argparse.Namespace, services: Services) -> None:
    services.roles.delete(SYSTEM, args.name)
    print(f"deleted role {args.name}")


def cmd_role_grant(args: argparse.Namespace, services: Services) -> None:
    grant = services.roles.grant(
        SYSTEM, args.role, user=args.user, group=args.group, domain=args.domain
    )
    print(f"granted {grant.role} to {grant.grantee} on {grant.domain or 'all domains'}")


def cmd_role_revoke(args: argparse.Namespace, services: Services) -> None:
    services.roles.revoke(SYSTEM, args.role, user=args.user, group=args.group, domain=args.domain)
    print(f"revoked {args.role} from {args.user or 'group:' + args.group}")


def cmd_role_grants(args: argparse.Namespace, services: Services) -> None:
    rows = [(g.role, g.grantee, g.domain or "all domains") for g in services.roles.grants(SYSTEM)]
    print_table(("ROLE", "GRANTEE", "ON"), rows)


# -- app passwords ---------------------------------------------------------------------


def cmd_app_password_add(args: argparse.Namespace, services: Services) -> None:
    info, secret = services.credentials.add_app_password(SYSTEM, args.address, args.name)
    print(f"app password {info.name!r} for {args.address.lower()}: {secret} (shown once)")


def cmd_app_password_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (
            a.name,
            f"{a.created_at:%Y-%m-%d %H:%M}",
            f"{a.last_used_at:%Y-%m-%d %H:%M}" if a.last_used_at else "never",
        )
        for a in services.credentials.app_passwords(SYSTEM, args.address)
    ]
    print_table(("NAME", "CREATED", "LAST USED"), rows)


def cmd_app_password_revoke(args: argparse.Namespace, services: Services) -> None:
    services.credentials.revoke_app_password(SYSTEM, args.address, args.name)
    print(f"revoked app password {args.name!r} of {args.address.lower()}")


# -- login locks -----------------------------------------------------------------------


def cmd_lock_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (
            lock.kind_label,
            lock.account or "-",
            lock.network or "-",
            str(lock.failures),
            lock.state,
            f"{lock.until:%Y-%m-%d %H:%M:%S}" if lock.until else "-",
            lock.key,
        )
        for lock in services.login_locks.entries(SYSTEM)
    ]
    print_table(("KIND", "ACCOUNT", "ADDRESS", "FAILURES", "STATE", "UNTIL (UTC)", "KEY"), rows)


def cmd_lock_clear(args: argparse.Namespace, services: Services) -> None:
    for lock in services.login_locks.clear_matching(SYSTEM, args.who):
        print(f"cleared {lock.key} ({lock.failures} failures, {lock.state})")
