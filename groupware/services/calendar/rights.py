"""Who may do what with calendars, in our own names (READ, WRITE, REPLACE): the policy
Calendars.rights answers with (through services.access), and what a group's home holds.
The DAV layer turns these into Radicale's letters (dav/rights.py). Pure but for the
owner lookup it is given.
"""

from __future__ import annotations

from collections.abc import Callable

from groupware.services.calendar.rows import DIRECTORY
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource

# What may be done with a collection (rights_at): read it, change what it holds
# (in a home: make and remove collections), put a whole new one in its place.
READ, WRITE, REPLACE = "read", "write", "replace"
NOTHING: frozenset[str] = frozenset()
READ_ONLY = frozenset({READ})


def rights_at(
    principal: Principal, path: str, owner_id: Callable[[str], int | None]
) -> frozenset[str]:
    """What `principal` may do at `path` (READ, WRITE, REPLACE): at the root and in a
    home, WRITE is making and removing collections; in a collection, changing its
    items, and REPLACE putting a whole new collection in its place. Owners read and
    write their own home; nobody writes outside it; an admin's grants reach no one
    else's calendars (calendar.* are personal permissions). Items have no rights of
    their own: their collection's apply."""
    if not path:
        return READ_ONLY  # the root: enough to discover one's own home
    depth = path.count("/")
    if depth > 1:
        return NOTHING
    owner = path.split("/", 1)[0]
    resource = Resource("calendar", path, owner_id=owner_id(owner))
    if resource.owner_id is None or principal.address != owner:
        return NOTHING
    readable = access.can(principal, "calendar.read", resource)
    writable = access.can(principal, "calendar.write", resource)
    if depth == 1 and path.endswith("/" + DIRECTORY):
        return READ_ONLY if readable else NOTHING  # the global address book
    granted = {READ} if readable else set()
    if writable:
        granted |= {WRITE} if depth == 0 else {WRITE, REPLACE}  # a share: never REPLACE
    return frozenset(granted)


def group_rights(home: str, path: str) -> frozenset[str]:
    """What a group's home (services/calendar/sharing.py) holds on its own
    collections: asked for a member's request once it is mapped through the member's
    share; nobody can log in as a group, so nobody reaches them any other way."""
    if path.split("/", 1)[0] != home:
        return NOTHING
    if "/" not in path:
        return READ_ONLY
    return frozenset({READ, WRITE}) if path.count("/") == 1 else NOTHING
