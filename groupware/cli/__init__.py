"""The `groupware` command: first-run set-up, serving, schema upgrades and directory admin.

To add a command: write a small `cmd_<noun>_<verb>(args, services)` handler (or one taking
the config, for commands that run before the services exist) and one line in `build_parser`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import NoReturn, TypeAlias

from groupware import logs, runtime
from groupware.cli import access, calendars, directory, mail, terminal
from groupware.cli.terminal import CommandFailed
from groupware.config import Config, ConfigError, worker_count
from groupware.config import load as load_config
from groupware.errors import GroupwareError
from groupware.services import Services

# Set-up commands run before the services exist; the others get them, acting as SYSTEM.
SetupHandler = Callable[[argparse.Namespace, Config], int]
AdminHandler = Callable[[argparse.Namespace, Services], None]
Handler = SetupHandler | AdminHandler
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"

NOT_CURRENT = (
    "the database schema is not current: run `groupware init` (first run) "
    "or `groupware db upgrade` (after an update)"
)


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"groupware: error: {message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 1
    try:
        config = load_config(args.config)
        if args.run in SETUP_COMMANDS:
            return int(args.run(args, config))
        return administer(args.run, args, config)
    except (ConfigError, GroupwareError, CommandFailed) as exc:
        message = str(exc).replace("\n", " ")
        print(f"groupware: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def administer(handler: AdminHandler, args: argparse.Namespace, config: Config) -> int:
    """Run a directory command as the system principal on a database at head."""
    if not runtime.database_is_current(config):
        raise CommandFailed(NOT_CURRENT)
    built = runtime.build(config)
    try:
        with built.telling_servers():
            handler(args, built.services)
    finally:
        built.close()
    return 0


# -- set-up, serving, schema -----------------------------------------------------------


def cmd_init(args: argparse.Namespace, config: Config) -> int:
    report = runtime.initialise(config, admin_password=args.admin_password, domain=args.domain)
    if report.certificate_created:
        print(f"created a self-signed certificate: {config.tls.cert}")
    if report.domain_created:
        print(f"created domain {report.domain}")
    if report.admin_created:
        print(f"created {report.admin} with the admin role")
    if report.generated_password:
        print(f"{report.admin} password: {report.generated_password} (shown once)")
    if not (report.certificate_created or report.domain_created or report.admin_created):
        print(f"already initialised: {report.domain} and {report.admin} exist; nothing changed")
        if args.admin_password is not None:
            print(f"(the password of {report.admin} was left as it was: see `user passwd`)")
    return 0


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    if not runtime.database_is_current(config):
        raise CommandFailed(NOT_CURRENT)
    workers = worker_count(config)
    if workers > 1:
        from groupware import supervisor

        server = dataclasses.replace(config.server, workers=workers)
        return supervisor.serve(dataclasses.replace(config, server=server), args.config)
    logs.configure(config.log)  # after the check, so a refusal stays one line
    built = runtime.build(config)
    try:
        built.serve()  # until SIGINT/SIGTERM, which the runtime turns into a clean stop
    finally:
        built.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    runtime.upgrade_database(config)
    print("the database schema is current")
    return 0


def cmd_db_current(args: argparse.Namespace, config: Config) -> int:
    if runtime.database_is_current(config):
        print("the database schema is current")
        return 0
    print("the database schema is not current: run `groupware db upgrade`")
    return 1


SETUP_COMMANDS = frozenset({cmd_init, cmd_serve, cmd_db_upgrade, cmd_db_current})


# -- the command table -----------------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(prog="groupware", description="Mail, calendars and contacts for a company.")
    parser.add_argument("--config", metavar="FILE", help="default: $GROUPWARE_CONFIG")
    nouns = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def noun(name: str, help: str) -> Subcommands:
        return nouns.add_parser(name, help=help).add_subparsers(metavar="ACTION", required=True)

    def command(
        group: Subcommands, name: str, run: Handler, help: str, *positionals: str
    ) -> Parser:
        sub = group.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        for positional in positionals:
            sub.add_argument(positional)
        return sub

    def password_options(sub: Parser) -> None:
        given = sub.add_mutually_exclusive_group()
        given.add_argument("--password", help="else one is generated and shown once")
        given.add_argument("--password-stdin", action="store_true", help="read one line")

    init = command(nouns, "init", cmd_init, "first-run set-up; safe to run again")
    init.add_argument("--admin-password", help="password of admin@DOMAIN (else generated)")
    init.add_argument("--domain", help="primary domain (default: hostname minus first label)")
    command(nouns, "serve", cmd_serve, "run every configured listener until stopped")
    db = noun("db", "database schema")
    command(db, "upgrade", cmd_db_upgrade, "migrate the schema to the current version")
    command(db, "current", cmd_db_current, "exit 0 when the schema is current, 1 otherwise")

    domain = noun("domain", "mail domains")
    command(domain, "add", directory.cmd_domain_add, "host a new domain", "name")
    command(domain, "list", directory.cmd_domain_list, "list the hosted domains")
    command(domain, "remove", directory.cmd_domain_remove, "remove an empty domain", "name")
    command(domain, "rotate-dkim", mail.cmd_domain_rotate_dkim, "new DKIM key", "name")

    dns = command(nouns, "dns", mail.cmd_dns, "the DNS records a domain needs", "domain")
    dns.add_argument(
        "--check", action="store_true", help="ask the resolver; exit 1 if any is missing or wrong"
    )

    queue = noun("queue", "the outbound mail queue")
    command(queue, "list", mail.cmd_queue_list, "every queued recipient")
    for verb, run, text in (
        ("show", mail.cmd_queue_show, "one queued message"),
        ("retry", mail.cmd_queue_retry, "try again now"),
        ("delete", mail.cmd_queue_delete, "drop without a bounce"),
    ):
        command(queue, verb, run, text).add_argument("id", type=int)

    user = noun("user", "user accounts")
    add = command(user, "add", directory.cmd_user_add, "create an account", "address")
    password_options(add)
    for edit in (
        add,
        command(user, "edit", directory.cmd_user_edit, "change name or quota", "address"),
    ):
        edit.add_argument("--name", help="display name")
        edit.add_argument("--quota", type=terminal.parse_size, help="bytes, or with K/M/G; 0: none")
    command(user, "list", directory.cmd_user_list, "list accounts").add_argument("--domain")
    command(
        user, "show", directory.cmd_user_show, "an account with its roles and groups", "address"
    )
    password_options(
        command(user, "passwd", directory.cmd_user_passwd, "set a password", "address")
    )
    for verb, active in (("disable", False), ("enable", True)):
        command(
            user, verb, directory.cmd_user_set_active, f"{verb} logins", "address"
        ).set_defaults(active=active)
    command(user, "remove", directory.cmd_user_remove, "delete an account", "address")

    share = noun("share", "calendars, task lists and address books shared with others")
    add = command(
        share,
        "add",
        calendars.cmd_share_add,
        "share a collection (home/name) with a user or +group@domain",
        "collection",
        "sharee",
    )
    add.add_argument("--access", choices=("read", "write", "freebusy"), default="read")
    command(share, "remove", calendars.cmd_share_remove, "end a share", "collection", "sharee")
    command(
        share, "list", calendars.cmd_share_list, "who a collection is shared with", "collection"
    )
    calendar = noun("calendar", "calendars, task lists and address books")
    group_add = command(
        calendar,
        "add-group",
        calendars.cmd_calendar_add_group,
        "a collection every member of a group (name@domain) sees",
        "group",
        "name",
    )
    group_add.add_argument("--kind", choices=("calendar", "tasks", "contacts"), default="calendar")
    group_add.add_argument("--title", help="display name (default: the name)")

    resource = noun("resource", "rooms and equipment, booked by inviting them")
    add = command(resource, "add", calendars.cmd_resource_add, "a room or equipment", "address")
    add.add_argument("--name", help="display name (default: the address's local part)")
    add.add_argument("--capacity", type=int, default=0, help="people it holds")
    add.add_argument("--kind", choices=("room", "equipment"), default="room")
    add.add_argument(
        "--restricted", action="store_true", help="only holders of calendar.book may book it"
    )
    command(resource, "list", calendars.cmd_resource_list, "every room and piece of equipment")
    command(resource, "remove", calendars.cmd_resource_remove, "delete a resource", "address")

    imports = noun("import", "data from another server")
    command(
        imports,
        "radicale",
        calendars.cmd_import_radicale,
        "calendars and address books of a Radicale multifilesystem folder; safe to repeat",
        "path",
    )

    alias = noun("alias", "addresses delivered elsewhere")
    add = command(
        alias, "add", directory.cmd_alias_add, "create an alias (@domain: catch-all)", "address"
    )
    add.add_argument("targets", nargs="+", metavar="target")
    command(alias, "list", directory.cmd_alias_list, "list aliases").add_argument("--domain")
    command(alias, "remove", directory.cmd_alias_remove, "delete an alias", "address")

    group = noun("group", "groups of users (NAME or NAME@DOMAIN)")
    add = command(group, "add", directory.cmd_group_add, "create a group", "name")
    add.add_argument("--address", help="the group's own e-mail address")
    add.add_argument("--member", action="append", default=[], help="repeatable")
    command(group, "list", directory.cmd_group_list, "list groups")
    command(group, "members", directory.cmd_group_members, "list a group's members", "name")
    command(group, "add-member", directory.cmd_group_add_member, "add a member", "name", "member")
    command(
        group,
        "remove-member",
        directory.cmd_group_remove_member,
        "remove a member",
        "name",
        "member",
    )
    command(group, "remove", directory.cmd_group_remove, "delete a group", "name")
    for each in group.choices.values():
        each.add_argument("--domain", help="the group's domain")

    role = noun("role", "roles, permissions and grants")
    command(role, "list", access.cmd_role_list, "list roles with their permissions")
    command(role, "permissions", access.cmd_role_permissions, "list the permission names")
    create = command(role, "create", access.cmd_role_create, "define a custom role", "name")
    create.add_argument("--permission", action="append", required=True, help="repeatable")
    create.add_argument("--description", default="")
    command(role, "delete", access.cmd_role_delete, "delete a custom role", "name")
    for verb, run in (("grant", access.cmd_role_grant), ("revoke", access.cmd_role_revoke)):
        change = command(role, verb, run, f"{verb} a role, everywhere or on --domain", "role")
        who = change.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="ADDRESS")
        who.add_argument("--group", metavar="NAME[@DOMAIN]")
        change.add_argument("--domain", help="limit the grant to one domain")
    command(role, "grants", access.cmd_role_grants, "list who holds which role where")

    lock = noun("lock", "failed-login counts and lock-outs")
    command(lock, "list", access.cmd_lock_list, "what is counted, slowed or locked now")
    command(
        lock,
        "clear",
        access.cmd_lock_clear,
        "forget the counts of a KEY (as listed), a client address (IPv6: its /64) or an account",
        "who",
    )

    app = noun("app-password", "passwords for mail and calendar clients")
    command(app, "add", access.cmd_app_password_add, "create one (shown once)", "address", "name")
    command(app, "list", access.cmd_app_password_list, "list an account's app passwords", "address")
    command(app, "revoke", access.cmd_app_password_revoke, "revoke one", "address", "name")
    return parser
