"""Rooms and equipment: accounts of the directory that nobody logs in as (their password
hash is one no password matches), each with a calendar that holds its bookings, and the
decision each makes on an invitation: accepted when it is free for every occurrence (in
the coming year) and the organizer may book it, declined with the reason otherwise.
Scheduling (scheduling.py) asks `decide` when it places an invitation in a resource's
calendar; one booking is decided at a time per resource, so two invitations for the
same hour cannot both be accepted.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from groupware.errors import InvalidInput, NotFound
from groupware.mime import icalform
from groupware.model.directory import Resource as ResourceRow
from groupware.model.directory import User
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.freebusy import FreeBusy, as_utc
from groupware.services.core import access
from groupware.services.core.access import Principal, Resource
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.directory.accounts import Directory
from groupware.store import Database
from groupware.store.locks import SharedLocks

KINDS = ("room", "equipment")
NO_LOGIN = "!resource"  # not an argon2 hash: verify_password refuses every password
HORIZON = timedelta(days=365)  # how far ahead a series is checked for clashes
MAX_LENGTH = timedelta(days=31)  # one occurrence's longest booking
MAX_OCCURRENCES = 500  # occurrences one booking may hold within the horizon
MAX_CAPACITY = 100_000


@dataclass(frozen=True)
class ResourceInfo:
    address: str
    name: str
    kind: str
    capacity: int
    restricted: bool


@dataclass(frozen=True)
class Decision:
    answer: str  # ACCEPTED or DECLINED
    reason: str = ""


class Resources:
    def __init__(
        self, database: Database, accounts: Directory, calendars: Calendars, freebusy: FreeBusy
    ) -> None:
        self._db = database
        self._accounts = accounts
        self._calendars = calendars
        self._freebusy = freebusy
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._shared = SharedLocks(database)

    def add(
        self,
        actor: Principal,
        address: str,
        name: str,
        *,
        capacity: int = 0,
        kind: str = "room",
        restricted: bool = False,
    ) -> ResourceInfo:
        """A new room or piece of equipment (who manages the domain's users may)."""
        if kind not in KINDS:
            raise InvalidInput(f"a resource is a {' or '.join(KINDS)}")
        if not 0 <= capacity <= MAX_CAPACITY:
            raise InvalidInput("capacity is a number of people")
        if not name.strip():
            raise InvalidInput("a resource needs a name")
        unguessable = secrets.token_urlsafe(32) + "aA1!"
        user = self._accounts.add_user(actor, address, unguessable, display_name=name)
        with self._db.write() as session:
            session.add(
                ResourceRow(user_id=user.id, kind=kind, capacity=capacity, restricted=restricted)
            )
            row = session.get(User, user.id)
            assert row is not None
            row.password_hash = NO_LOGIN
        self._calendars.ensure_home(user.address)
        return ResourceInfo(user.address, user.display_name, kind, capacity, restricted)

    def remove(self, actor: Principal, address: str) -> None:
        if self.get(address) is None:
            raise NotFound(f"no resource {address}")
        self._accounts.remove_user(actor, address)

    def list_all(self) -> list[ResourceInfo]:
        """Every room and piece of equipment (the directory: everyone may see them)."""
        with self._db.read() as session:
            rows = session.execute(
                select(
                    User.address,
                    User.display_name,
                    ResourceRow.kind,
                    ResourceRow.capacity,
                    ResourceRow.restricted,
                )
                .join(ResourceRow, ResourceRow.user_id == User.id)
                .where(User.active)
                .order_by(User.display_name, User.address)
            ).all()
        return [ResourceInfo(a, n or a, k, c, r) for a, n, k, c, r in rows]

    def get(self, address: str) -> ResourceInfo | None:
        try:
            address = normalize_address(address)
        except InvalidInput:
            return None
        return next((r for r in self.list_all() if r.address == address), None)

    def decide(
        self, resource: ResourceInfo, organizer: Principal | None, text: str, uid: str
    ) -> Decision:
        """Whether `resource` takes the event `text` (UID `uid`) organized by `organizer`
        (None: someone outside, who may book only unrestricted resources)."""
        if resource.restricted:
            allowed = organizer is not None and access.can(
                organizer,
                "calendar.book",
                Resource("resource", resource.address, domain_of(resource.address)),
            )
            if not allowed:
                who = organizer.address if organizer is not None else "the organizer"
                return Decision("DECLINED", f"{who} may not book {resource.name}")
        try:
            first = icalform.event_fields(text)
        except icalform.FormError:
            return Decision("DECLINED", "the invitation could not be read")
        begins, ends = as_utc(first.start), as_utc(first.end)
        if first.all_day:
            ends = ends + timedelta(days=1)
        if ends - begins > MAX_LENGTH:
            return Decision(
                "DECLINED", f"{resource.name} is booked for {MAX_LENGTH.days} days at most"
            )
        # Only what is still to come is booked: from now (or the start) over the horizon.
        now = datetime.now(UTC)
        low, high = max(begins, now - timedelta(days=1)), now + HORIZON
        try:
            wanted = [o for o in icalform.occurrences(text, low, high) if not o.cancelled]
        except (icalform.FormError, ValueError, TypeError, KeyError):
            return Decision("DECLINED", "the invitation could not be read")
        if len(wanted) > MAX_OCCURRENCES:
            return Decision(
                "DECLINED", f"{resource.name} is booked {MAX_OCCURRENCES} times at most"
            )
        if not wanted:
            return Decision("ACCEPTED")
        last = max(as_utc(o.end) for o in wanted)
        taken = self._freebusy.busy(
            resource.address, low, min(high, max(last, low + timedelta(minutes=1))), besides=uid
        )
        for occurrence in wanted:
            starts, finishes = as_utc(occurrence.start), as_utc(occurrence.end)
            if any(p.start < finishes and p.end > starts for p in taken):
                when = starts.strftime("%Y-%m-%d %H:%M UTC")
                return Decision("DECLINED", f"{resource.name} is already booked at {when}")
        return Decision("ACCEPTED")

    @contextmanager
    def lock(self, address: str) -> Iterator[None]:
        """The lock under which one resource decides and stores one booking at a time,
        in this process and in every other (worker or node) on the database."""
        with self._guard:
            mine = self._locks.setdefault(address, threading.Lock())
        with mine, self._shared.holding(["resource:" + address]):
            yield
