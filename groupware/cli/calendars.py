"""Commands for calendars, task lists and address books: shares and group calendars.
A share is made as the collection's owner would make it (calendar.share is personal: not
even the admin role shares other people's calendars through the services)."""

from __future__ import annotations

import argparse
from pathlib import Path

from groupware.cli.terminal import CommandFailed, print_table
from groupware.services import Services
from groupware.services.calendar.calendars import DEFAULT_COLLECTIONS
from groupware.services.calendar.rows import TITLE
from groupware.services.calendar.sharing import GROUP_HOME
from groupware.services.core.access import SYSTEM, Principal


def _owner(services: Services, collection: str) -> Principal:
    home = collection.strip("/").split("/", 1)[0]
    if home.startswith(GROUP_HOME):
        return SYSTEM  # group calendars: whoever manages the group
    principal = services.calendars.principal_of(home)
    if principal is None:
        raise CommandFailed(f"no active user {home}")
    return principal


def cmd_share_add(args: argparse.Namespace, services: Services) -> None:
    collection = args.collection.strip("/")
    owner = _owner(services, collection)
    share = services.sharing.share(owner, collection, args.sharee, args.access)
    print(f"shared {share.collection} with {share.sharee} ({share.access})")


def cmd_share_remove(args: argparse.Namespace, services: Services) -> None:
    collection = args.collection.strip("/")
    services.sharing.unshare(_owner(services, collection), collection, args.sharee)
    print(f"{collection} is no longer shared with {args.sharee}")


def cmd_share_list(args: argparse.Namespace, services: Services) -> None:
    collection = args.collection.strip("/")
    shares = services.sharing.shares_of(_owner(services, collection), collection)
    print_table(("SHAREE", "ACCESS"), [(s.sharee, s.access) for s in shares])


def cmd_calendar_add_group(args: argparse.Namespace, services: Services) -> None:
    props = dict(DEFAULT_COLLECTIONS[args.kind])
    props[TITLE] = args.title or args.name
    path = services.sharing.create_group_collection(SYSTEM, args.group, args.name, props)
    print(f"created {path}: every member of {args.group} sees it")


def cmd_resource_add(args: argparse.Namespace, services: Services) -> None:
    room = services.resources.add(
        SYSTEM,
        args.address,
        args.name or args.address.split("@", 1)[0],
        capacity=args.capacity,
        kind=args.kind,
        restricted=args.restricted,
    )
    who = "holders of calendar.book" if room.restricted else "anyone"
    print(f"added {room.kind} {room.address} ({room.name}); {who} may book it")


def cmd_resource_list(args: argparse.Namespace, services: Services) -> None:
    print_table(
        ("ADDRESS", "NAME", "KIND", "CAPACITY", "BOOKING"),
        [
            (
                r.address,
                r.name,
                r.kind,
                str(r.capacity or ""),
                "restricted" if r.restricted else "anyone",
            )
            for r in services.resources.list_all()
        ],
    )


def cmd_resource_remove(args: argparse.Namespace, services: Services) -> None:
    services.resources.remove(SYSTEM, args.address)
    print(f"removed {args.address}")


def cmd_import_radicale(args: argparse.Namespace, services: Services) -> None:
    from groupware.dav.importer import import_radicale  # loads Radicale only when asked

    try:
        import_radicale(services, Path(args.path), print)
    except FileNotFoundError as error:
        raise CommandFailed(str(error)) from None
