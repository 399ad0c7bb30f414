"""Commands for domains, users, aliases and groups: one small handler each, acting as
the system principal. Add a handler here and its line in cli/__init__.py's parser.
"""

from __future__ import annotations

import argparse

from groupware.cli.terminal import (
    CommandFailed,
    format_size,
    print_table,
    read_password,
)
from groupware.services import Services
from groupware.services.core.access import SYSTEM

# -- domains ---------------------------------------------------------------------------


def cmd_domain_add(args: argparse.Namespace, services: Services) -> None:
    print(f"added domain {services.directory.add_domain(SYSTEM, args.name).name}")


def cmd_domain_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (d.name, str(d.users), f"{d.created_at:%Y-%m-%d}")
        for d in services.directory.list_domains(SYSTEM)
    ]
    print_table(("DOMAIN", "USERS", "CREATED"), rows)


def cmd_domain_remove(args: argparse.Namespace, services: Services) -> None:
    services.directory.remove_domain(SYSTEM, args.name)
    print(f"removed domain {args.name.lower()}")


# -- users -----------------------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace, services: Services) -> None:
    password, generated = read_password(args)
    user = services.directory.add_user(
        SYSTEM, args.address, password, display_name=args.name or "", quota_bytes=args.quota or 0
    )
    print(f"added user {user.address}")
    if generated:
        print(f"{user.address} password: {password} (shown once)")


def cmd_user_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (
            u.address,
            u.display_name,
            "active" if u.active else "disabled",
            format_size(u.quota_bytes),
        )
        for u in services.directory.list_users(SYSTEM, args.domain)
    ]
    print_table(("ADDRESS", "NAME", "STATUS", "QUOTA"), rows)


def cmd_user_show(args: argparse.Namespace, services: Services) -> None:
    user = services.directory.get_user(SYSTEM, args.address)
    groups = [g for g in services.groups.list_all(SYSTEM) if user.address in g.members]
    holders = {user.address} | {f"group:{g.name}@{g.domain}" for g in groups}
    grants = [
        f"{g.role} on {g.domain or 'all domains'}"
        + ("" if g.grantee == user.address else f" (via {g.grantee})")
        for g in services.roles.grants(SYSTEM)
        if g.grantee in holders
    ]
    app_passwords = [a.name for a in services.credentials.app_passwords(SYSTEM, user.address)]
    for label, value in (
        ("address", user.address),
        ("name", user.display_name),
        ("status", "active" if user.active else "disabled"),
        ("quota", format_size(user.quota_bytes)),
        ("totp", "enrolled" if user.totp_enabled else "no"),
        ("created", f"{user.created_at:%Y-%m-%d %H:%M}"),
        ("groups", ", ".join(f"{g.name}@{g.domain}" for g in groups)),
        ("roles", "; ".join(grants)),
        ("app passwords", ", ".join(app_passwords)),
    ):
        print(f"{label + ':':15}{value}".rstrip())


def cmd_user_edit(args: argparse.Namespace, services: Services) -> None:
    if args.name is None and args.quota is None:
        raise CommandFailed("nothing to change: give --name and/or --quota")
    user = services.directory.update_user(
        SYSTEM, args.address, display_name=args.name, quota_bytes=args.quota
    )
    print(f"updated {user.address}")


def cmd_user_passwd(args: argparse.Namespace, services: Services) -> None:
    password, generated = read_password(args)
    services.directory.set_password(SYSTEM, args.address, password)
    print(f"changed the password of {args.address.lower()}")
    if generated:
        print(f"{args.address.lower()} password: {password} (shown once)")


def cmd_user_set_active(args: argparse.Namespace, services: Services) -> None:
    user = services.directory.update_user(SYSTEM, args.address, active=args.active)
    print(f"{'enabled' if user.active else 'disabled'} {user.address}")


def cmd_user_remove(args: argparse.Namespace, services: Services) -> None:
    services.directory.remove_user(SYSTEM, args.address)
    print(f"removed user {args.address.lower()}")


# -- aliases ---------------------------------------------------------------------------


def cmd_alias_add(args: argparse.Namespace, services: Services) -> None:
    alias = services.aliases.add(SYSTEM, args.address, args.targets)
    targets = alias.local_targets + alias.external_targets
    print(f"added alias {alias.address} -> {', '.join(targets)}")


def cmd_alias_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (a.address, ", ".join(a.local_targets + a.external_targets))
        for a in services.aliases.list_all(SYSTEM, args.domain)
    ]
    print_table(("ALIAS", "TARGETS"), rows)


def cmd_alias_remove(args: argparse.Namespace, services: Services) -> None:
    services.aliases.remove(SYSTEM, args.address)
    print(f"removed alias {args.address.lower()}")


# -- groups ----------------------------------------------------------------------------


def group_ref(args: argparse.Namespace) -> tuple[str, str | None]:
    """NAME or NAME@DOMAIN (group names never hold "@"), or --domain."""
    name, _, domain = args.name.partition("@")
    return name, args.domain or domain or None


def cmd_group_add(args: argparse.Namespace, services: Services) -> None:
    name, domain = group_ref(args)
    group = services.groups.add(
        SYSTEM, name, domain=domain, address=args.address, members=args.member
    )
    print(f"added group {group.name}@{group.domain} with {len(group.members)} members")


def cmd_group_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (f"{g.name}@{g.domain}", g.address or "", str(len(g.members)))
        for g in services.groups.list_all(SYSTEM, args.domain)
    ]
    print_table(("GROUP", "ADDRESS", "MEMBERS"), rows)


def cmd_group_members(args: argparse.Namespace, services: Services) -> None:
    name, domain = group_ref(args)
    for member in services.groups.get(SYSTEM, name, domain).members:
        print(member)


def cmd_group_add_member(args: argparse.Namespace, services: Services) -> None:
    name, domain = group_ref(args)
    services.groups.add_member(SYSTEM, name, args.member, domain)
    print(f"added {args.member.lower()} to {name}")


def cmd_group_remove_member(args: argparse.Namespace, services: Services) -> None:
    name, domain = group_ref(args)
    services.groups.remove_member(SYSTEM, name, args.member, domain)
    print(f"removed {args.member.lower()} from {name}")


def cmd_group_remove(args: argparse.Namespace, services: Services) -> None:
    name, domain = group_ref(args)
    services.groups.remove(SYSTEM, name, domain)
    print(f"removed group {name} with its calendars, task lists and address books")
