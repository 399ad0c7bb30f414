"""`groupware import radicale PATH`: calendars, task lists and address books of a Radicale
multifilesystem folder (PATH, or PATH/collection-root) copied into our database.

Each user folder must belong to a user of our directory (others are reported and
skipped). Collections keep their path, properties and item names, so clients that knew
the old server find the same URLs under /dav. Running it again copies only what is new or
changed (same name, different content); nothing is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from radicale import item as radicale_item
from radicale import pathutils

from groupware.dav import properties
from groupware.dav.items import new_item
from groupware.mime import recurrence
from groupware.services import Services

PROPS = ".Radicale.props"


@dataclass
class Progress:
    collections: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    unreadable: int = 0
    refused: int = 0  # over the recurrence limit (mime/recurrence.py)
    skipped_users: int = 0


def import_radicale(services: Services, folder: Path, say: Callable[[str], None]) -> Progress:
    root = folder / "collection-root" if (folder / "collection-root").is_dir() else folder
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: not a Radicale storage folder")
    progress = Progress()
    calendars = services.calendars
    for home in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        user = home.name
        if calendars.principal_of(user) is None:
            say(f"{user}: no active user of that address here; skipped")
            progress.skipped_users += 1
            continue
        calendars.ensure_home(user)
        for folder_path in _collections(home):
            _import_collection(services, root, folder_path, progress, say)
    say(
        f"done: {progress.collections} collections, {progress.added} items added, "
        f"{progress.changed} changed, {progress.unchanged} unchanged, "
        f"{progress.unreadable} unreadable, {progress.refused} refused, "
        f"{progress.skipped_users} users skipped"
    )
    return progress


def _collections(home: Path) -> Iterator[Path]:
    """Collection folders under a home (nested ones too), those with properties."""
    for path in sorted(home.rglob(PROPS)):
        if not any(part.startswith(".") for part in path.parent.relative_to(home).parts):
            yield path.parent


def _import_collection(
    services: Services, root: Path, folder: Path, progress: Progress, say: Callable[[str], None]
) -> None:
    calendars = services.calendars
    path = pathutils.strip_path(pathutils.sanitize_path(folder.relative_to(root).as_posix()))
    props = properties.ours(json.loads((folder / PROPS).read_text(encoding="utf-8") or "{}"))
    if path.count("/") != 1 or not props.get("tag"):
        say(f"{path}: not a calendar or address book directly in a home; skipped")
        return
    row = calendars.collection(path)
    if row is None:
        row = calendars.create_collection(path, props)
    elif row.props != props:
        calendars.set_props(row.id, props)
    known = {item.href: item.etag for item in calendars.items(row.id)}
    added = changed = 0
    for file in sorted(folder.iterdir()):
        if not file.is_file() or file.name.startswith("."):
            continue
        try:
            text = file.read_text(encoding="utf-8")
            parsed = radicale_item.Item(collection_path=path, text=text)
            stored = new_item(file.name, parsed)
        except recurrence.TooManyInstances as error:
            say(f"{path}/{file.name}: refused, too many recurrences ({error}); skipped")
            progress.refused += 1
            continue
        except Exception as error:  # one broken file must not stop the rest
            say(f"{path}/{file.name}: unreadable ({error}); skipped")
            progress.unreadable += 1
            continue
        if known.get(file.name) == stored.etag:
            progress.unchanged += 1
            continue
        calendars.put_item(row.id, stored, quiet=True)  # old data: no invitations again
        if file.name in known:
            changed += 1
        else:
            added += 1
    progress.collections += 1
    progress.added += added
    progress.changed += changed
    say(f"{path}: {added} added, {changed} changed")
