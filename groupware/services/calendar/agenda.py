"""The portal's calendar and task pages: which calendars and task lists a user sees (their
own, those shared with them, their groups'), the occurrences of events in a time range,
and saving, moving and deleting events and tasks, on the same rows DAV clients use
(services/calendar/calendars.py), so an edit on one side is on the other at once.

Every collection is reached through `reach`, the one check: its own owner's rights
(services.access, as DAV asks), or the share that shows it to this user. A collection
shared for free/busy gives busy blocks only; a read share cannot be written. A path not
among the user's answers NotFound, whoever owns it. Saves go through Calendars.put_item
naming the writer, so scheduling sends invitations for the organizer's own saves only.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from groupware.errors import InvalidInput, NotFound, PermissionDenied, TryLater
from groupware.mime import icalform, imip
from groupware.mime.icalitem import describe_text
from groupware.model.base import utcnow
from groupware.model.webmail import CalendarPreferences
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.rights import READ, WRITE
from groupware.services.calendar.rows import (
    COLOR,
    COMPONENTS,
    DIRECTORY,
    TITLE,
    CollectionRow,
    ItemRow,
    NewItem,
)
from groupware.services.calendar.sharing import Sharing
from groupware.services.core.access import Principal
from groupware.store import Database

EVENTS, TASKS, CONTACTS = "events", "tasks", "contacts"
OWN, WRITABLE, READABLE, FREEBUSY = "own", "write", "read", "freebusy"
# Colours given to calendars that have none of their own, in order.
PALETTE = ("#2563eb", "#16a34a", "#d97706", "#db2777", "#7c3aed", "#0891b2", "#dc2626")
MAX_HIDDEN = 500
MAX_IMPORTS = 2  # .ics and .vcf imports running at once, server-wide
T = TypeVar("T")
UNVERIFIED = (
    "This invitation is not in your calendar: its sender could not be verified, so it "
    "cannot be answered here."
)
BUSY = "Busy"  # the title of an event seen through a free/busy share


@dataclass(frozen=True)
class Shown:
    """A calendar, task list or address book as the portal shows it to one user."""

    path: str  # the collection's own path (its owner's)
    title: str
    kind: str  # EVENTS, TASKS or CONTACTS
    color: str
    access: str  # OWN, WRITABLE, READABLE or FREEBUSY
    owner: str  # the owner's home: an address, or "+group@domain"

    @property
    def writable(self) -> bool:
        return self.access in (OWN, WRITABLE)

    @property
    def details(self) -> bool:
        """Whether titles, places and notes may be shown (not through free/busy)."""
        return self.access != FREEBUSY


@dataclass(frozen=True)
class Placed:
    """An occurrence in a calendar the user sees: where it is stored, and what it is."""

    shown: Shown
    href: str
    occurrence: icalform.Occurrence


@dataclass(frozen=True)
class Invitation:
    """An invitation (or an answer, or a cancellation) as a mail shows it."""

    method: str  # REQUEST, REPLY, CANCEL…
    uid: str
    fields: icalform.EventFields
    organizer: str
    answers: dict[str, str]  # attendee → PARTSTAT, as the mail says
    invited: bool  # the reader is among the attendees
    mine: str | None  # the reader's answer on the copy in their calendar (None: no copy)
    where: str | None  # that copy's calendar and href
    href: str | None
    conflicts: list[Placed]  # the reader's own busy events at that time


@dataclass(frozen=True)
class Settings:
    zone: str = ""  # IANA; "" until chosen (the page offers the browser's)
    hidden: frozenset[str] = frozenset()  # collection paths switched off


class Agenda:
    def __init__(self, database: Database, calendars: Calendars, sharing: Sharing) -> None:
        self._db = database
        self._calendars = calendars
        self._sharing = sharing
        self._imports: set[str] = set()  # who is importing now
        self._imports_guard = threading.Lock()

    # -- what a user sees ---------------------------------------------------------------

    def collections(self, actor: Principal, kind: str) -> list[Shown]:
        """The user's own collections of `kind`, then those others show them."""
        self._calendars.ensure_home(actor.address)
        found: list[Shown] = []
        for row in self._calendars.children(actor.address):
            if kind not in _kinds(row) or row.path.endswith("/" + DIRECTORY):
                continue
            granted = self._calendars.rights(actor, row.path)
            if READ not in granted:
                continue
            access = OWN if WRITE in granted else READABLE
            found.append(_shown(row, kind, access, len(found)))
        for visible in self._sharing.visible_to(actor.address):
            target = self._calendars.collection(visible.collection)
            if target is None or kind not in _kinds(target):
                continue
            access = {"rw": WRITABLE, "r": READABLE}.get(visible.permissions, FREEBUSY)
            shown = _shown(target, kind, access, len(found))
            found.append(replace(shown, title=visible.display_name))
        return found

    def reach(self, actor: Principal, path: str, kind: str, *, write: bool = False) -> Shown:
        """The collection at `path` as this user sees it: NotFound if they see no such
        one, PermissionDenied to write what they may only read."""
        for shown in self.collections(actor, kind):
            if shown.path == path:
                if write and not shown.writable:
                    raise PermissionDenied(f"{shown.title} is read-only for you")
                return shown
        raise NotFound(f"no calendar {path}")

    # -- settings -----------------------------------------------------------------------

    def settings(self, actor: Principal) -> Settings:
        with self._db.read() as session:
            row = session.get(CalendarPreferences, _user_id(actor))
            if row is None:
                return Settings()
            return Settings(row.time_zone, frozenset(json.loads(row.hidden)))

    def set_zone(self, actor: Principal, name: str) -> None:
        try:
            icalform.zone(name)
        except icalform.FormError as error:
            raise InvalidInput(str(error)) from None
        self._save(actor, lambda row: setattr(row, "time_zone", name))

    def show(self, actor: Principal, path: str, shown: bool) -> None:
        """Switch a calendar or task list on or off in the user's views (remembered)."""
        hidden = set(self.settings(actor).hidden)
        (hidden.discard if shown else hidden.add)(path)
        if len(hidden) > MAX_HIDDEN:
            raise InvalidInput("too many calendars switched off")
        self._save(actor, lambda row: setattr(row, "hidden", json.dumps(sorted(hidden))))

    def _save(self, actor: Principal, change: Callable[[CalendarPreferences], None]) -> None:
        user_id = _user_id(actor)
        with self._db.write() as session:
            row = session.get(CalendarPreferences, user_id)
            if row is None:
                row = CalendarPreferences(user_id=user_id, time_zone="", hidden="[]")
                session.add(row)
            change(row)
            row.updated_at = utcnow()

    # -- events -------------------------------------------------------------------------

    def occurrences(
        self, actor: Principal, shown: Iterable[Shown], start: datetime, end: datetime
    ) -> list[Placed]:
        """Every occurrence in [start, end) of the events of `shown` (collections from
        `collections`), in start order; through a free/busy share only busy blocks."""
        placed: list[Placed] = []
        low, high = int(start.timestamp()), int(end.timestamp())
        for collection in shown:
            row = self._calendars.collection(collection.path)
            if row is None:
                continue
            for item in self._calendars.items_in_range(row.id, "VEVENT", low, high):
                for occurrence in _occurrences(item, start, end):
                    if not collection.details:
                        if not occurrence.busy or occurrence.cancelled:
                            continue
                        occurrence = _busy_only(occurrence)
                    placed.append(Placed(collection, item.href, occurrence))
        placed.sort(key=lambda p: (_sort_key(p.occurrence.start), p.occurrence.title))
        return placed

    def event(self, actor: Principal, path: str, href: str) -> tuple[Shown, ItemRow]:
        """An event the user may see in full (not through free/busy)."""
        shown = self.reach(actor, path, EVENTS)
        if not shown.details:
            raise NotFound(f"no event {href}")
        return shown, self.item_at(path, href)

    def create_event(self, actor: Principal, path: str, fields: icalform.EventFields) -> str:
        """A new event in the calendar at `path`; its href."""
        shown = self.reach(actor, path, EVENTS, write=True)
        text = _formed(lambda: icalform.new_event(fields, _organizer(actor, shown)))
        return self.store(actor, shown, None, text)

    def edit_event(
        self,
        actor: Principal,
        path: str,
        href: str,
        fields: icalform.EventFields,
        scope: str = "all",
        recurrence_id: str = "",
        move_to: str | None = None,
    ) -> str:
        """Apply the form to the event (one occurrence, it and the following ones, or
        all); with `move_to`, the event (whole) goes to that calendar. Its href."""
        shown = self.reach(actor, path, EVENTS, write=True)
        item = self.item_at(path, href)
        organizer = _organizer(actor, shown)
        text, split = _formed(
            lambda: icalform.edit_event(item.text, fields, organizer, scope, recurrence_id)
        )
        self.store(actor, shown, href, text, expected=item.etag)
        if split is not None:
            return self.store(actor, shown, None, split)
        if move_to and move_to != path:
            target = self.reach(actor, move_to, EVENTS, write=True)
            moved = self.store(actor, target, None, text, keep_uid=True)
            self._calendars.delete_item(self._id(path), href, by=actor.address)
            return moved
        return href

    def delete_event(
        self, actor: Principal, path: str, href: str, scope: str = "all", recurrence_id: str = ""
    ) -> None:
        shown = self.reach(actor, path, EVENTS, write=True)
        item = self.item_at(path, href)
        if recurrence_id and scope != "all":
            if scope == "following" and icalform.is_first(item.text, recurrence_id):
                scope = "all"
            elif scope == "this":
                text = _formed(lambda: icalform.without_occurrence(item.text, recurrence_id))
                self.store(actor, shown, href, text, expected=item.etag)
                return
            elif scope == "following":
                text = _formed(lambda: icalform.end_series_before(item.text, recurrence_id))
                self.store(actor, shown, href, text, expected=item.etag)
                return
        self._calendars.delete_item(self._id(path), href, by=actor.address)

    def invitation(self, actor: Principal, text: str) -> Invitation | None:
        """What webmail shows of an iMIP message's calendar part: the event, the user's
        answer so far (from the copy in their calendar), and their own busy events at
        that time. None when the part is no scheduling message."""
        try:
            facts = imip.read(text)
            fields = icalform.event_fields(text)
        except (imip.NotScheduling, icalform.FormError, ValueError):
            return None
        if not (icalform.in_years(fields.start) and icalform.in_years(fields.end)):
            return None  # nothing the views could draw (nor datetime convert)
        found = self._calendars.find_uid(actor.address, facts.uid)
        if found is not None and _organizer_of(found[1].text) != facts.organizer:
            found = None  # one's own event, or another's, under the same UID
        mine = None
        if found is not None:
            try:
                mine = imip.read(found[1].text).attendees.get(actor.address)
            except imip.NotScheduling:
                mine = None
        start, end = _span_of(fields)
        own = [c for c in self.collections(actor, EVENTS) if c.access == OWN]
        conflicts = [
            p
            for p in self.occurrences(actor, own, start, end)
            if p.occurrence.uid != facts.uid and p.occurrence.busy and not p.occurrence.cancelled
        ]
        return Invitation(
            method=facts.method or "REQUEST",
            uid=facts.uid,
            fields=fields,
            organizer=facts.organizer,
            answers=dict(facts.attendees),
            invited=actor.address in facts.attendees,
            mine=mine,
            where=found[0].path if found else None,
            href=found[1].href if found else None,
            conflicts=conflicts,
        )

    def own_uid(self, actor: Principal, uid: str) -> str:
        """`uid` when it names an event the user has and organizes (or one without
        attendees), else "": what free/busy may leave out of the user's own view of
        others' time, without telling anyone whether others have that UID."""
        if not uid:
            return ""
        found = self._calendars.find_uid(actor.address, uid)
        if found is None:
            return ""
        organizer = _organizer_of(found[1].text)
        return uid if organizer in ("", actor.address) else ""

    def answer(self, actor: Principal, text: str, partstat: str) -> tuple[str, str]:
        """The user's answer (ACCEPTED, TENTATIVE, DECLINED) to the invitation `text`
        (an iMIP message's calendar part): set on their copy in their calendar, which
        scheduling placed there when the invitation came from a proven sender (NotFound
        otherwise); scheduling then tells the organizer (at once when local, by a REPLY
        mail otherwise). (path, href) of the copy."""
        if partstat not in ("ACCEPTED", "TENTATIVE", "DECLINED"):
            raise InvalidInput("answer accept, tentative or decline")
        try:
            facts = imip.read(text)
        except imip.NotScheduling:
            raise InvalidInput("this message holds no invitation") from None
        if actor.address not in facts.attendees or facts.organizer == actor.address:
            raise InvalidInput("you are not invited to this event")
        found = self._calendars.find_uid(actor.address, facts.uid)
        if found is None or _organizer_of(found[1].text) != facts.organizer:
            # Scheduling puts in one's calendar only invitations whose sender is proven
            # (a local organizer, or SPF/DKIM/DMARC from outside): the mail alone is
            # nobody's word, so it is never made into an event here.
            raise NotFound(UNVERIFIED)
        row, item = found
        shown = self.reach(actor, row.path, EVENTS, write=True)
        answered = _formed(lambda: icalform.with_answer(item.text, actor.address, partstat))
        self.store(actor, shown, item.href, answered, expected=item.etag)
        return shown.path, item.href

    def take_proposal(self, actor: Principal, text: str) -> tuple[str, str]:
        """The organizer takes up an attendee's proposed time (a COUNTER's calendar
        part): their event moves there and every attendee is asked again (scheduling
        sends the update). (path, href) of the event."""
        try:
            facts = imip.read(text)
            proposed = icalform.event_fields(text)
        except (imip.NotScheduling, icalform.FormError):
            raise InvalidInput("this message proposes no time") from None
        if facts.method != "COUNTER" or facts.organizer != actor.address:
            raise InvalidInput("only the organizer takes up a proposal")
        found = self._calendars.find_uid(actor.address, facts.uid)
        if found is None:
            raise NotFound("this event is no longer in your calendar")
        row, item = found
        shown = self.reach(actor, row.path, EVENTS, write=True)
        start, end = proposed.start, proposed.end
        if proposed.all_day:  # the form's last day is inclusive; DTEND is the day after
            end = end + timedelta(days=1)
        moved = _formed(lambda: icalform.with_times(item.text, start, end, ask_again=True))
        self.store(actor, shown, item.href, moved, expected=item.etag)
        return shown.path, item.href

    # -- files --------------------------------------------------------------------------

    def export(self, actor: Principal, path: str, kind: str = EVENTS) -> tuple[Shown, str]:
        """The calendar or task list as one .ics file (not through free/busy)."""
        shown = self.reach(actor, path, kind)
        if not shown.details:
            raise NotFound(f"no calendar {path}")
        texts = list(self._calendars.texts(self._id(path)).values())
        return shown, icalform.join_calendar(texts, shown.title)

    def import_ics(self, actor: Principal, path: str, text: str, kind: str = EVENTS) -> int:
        """The events (or tasks) of an .ics file put into the calendar at `path`: an
        object whose UID is there already replaces it. Stored quietly: importing one's
        calendar from elsewhere sends no invitations (it would mail every attendee of
        every meeting again). One import at a time per user. How many were stored."""
        shown = self.reach(actor, path, kind, write=True)
        objects = _formed(lambda: icalform.split_calendar(text))
        row = self._calendars.collection(path)
        if row is None:
            raise NotFound(f"no calendar {path}")
        allowed = (row.props.get(COMPONENTS) or "VEVENT,VTODO,VJOURNAL").split(",")
        for _, one in objects:
            held = {c for c in ("VEVENT", "VTODO", "VJOURNAL") if f"BEGIN:{c}" in one}
            if not held <= set(allowed):
                raise InvalidInput(f"{shown.title} takes only {' and '.join(allowed)} objects")
        collection_id = row.id
        known = {i.uid: i.href for i in self._calendars.items(collection_id, with_text=False)}
        with self.importing(actor):
            for uid, one in objects:
                self.store(actor, shown, known.get(uid), one, quiet=True)
        return len(objects)

    @contextlib.contextmanager
    def importing(self, actor: Principal) -> Iterator[None]:
        """One import at a time per user, MAX_IMPORTS in all (each holds one of the
        portal's threads for its length): TryLater for more meanwhile."""
        with self._imports_guard:
            if actor.address in self._imports:
                raise TryLater("an import of yours is running: try again when it is done", 30)
            if len(self._imports) >= MAX_IMPORTS:
                raise TryLater("the server is importing for others: try again in a minute", 60)
            self._imports.add(actor.address)
        try:
            yield
        finally:
            with self._imports_guard:
                self._imports.discard(actor.address)

    # -- tasks --------------------------------------------------------------------------

    def tasks(
        self, actor: Principal, shown: Iterable[Shown]
    ) -> list[tuple[Shown, str, icalform.Task]]:
        found = []
        for collection in shown:
            row = self._calendars.collection(collection.path)
            if row is None or not collection.details:
                continue
            for item in self._calendars.items(row.id):
                if item.component != "VTODO":
                    continue
                try:
                    found.append((collection, item.href, icalform.task_of(item.text)))
                except icalform.FormError:
                    continue  # a client's object the page cannot read: left alone
        return found

    def task(self, actor: Principal, path: str, href: str) -> tuple[Shown, icalform.Task]:
        shown = self.reach(actor, path, TASKS)
        if not shown.details:
            raise NotFound(f"no task {href}")
        return shown, _formed(lambda: icalform.task_of(self.item_at(path, href).text))

    def create_task(self, actor: Principal, path: str, fields: icalform.TaskFields) -> str:
        shown = self.reach(actor, path, TASKS, write=True)
        return self.store(actor, shown, None, _formed(lambda: icalform.new_task(fields)))

    def edit_task(
        self, actor: Principal, path: str, href: str, fields: icalform.TaskFields
    ) -> None:
        shown = self.reach(actor, path, TASKS, write=True)
        item = self.item_at(path, href)
        text = _formed(lambda: icalform.edit_task(item.text, fields))
        self.store(actor, shown, href, text, expected=item.etag)

    def tick(self, actor: Principal, path: str, href: str, done: bool) -> None:
        shown = self.reach(actor, path, TASKS, write=True)
        item = self.item_at(path, href)
        text = _formed(lambda: icalform.task_done(item.text, done))
        self.store(actor, shown, href, text, expected=item.etag)

    def delete_task(self, actor: Principal, path: str, href: str) -> None:
        self.reach(actor, path, TASKS, write=True)
        self.item_at(path, href)
        self._calendars.delete_item(self._id(path), href, by=actor.address)

    # -- storing ------------------------------------------------------------------------

    def item_at(self, path: str, href: str) -> ItemRow:
        item = self._calendars.item(self._id(path), href)
        if item is None:
            raise NotFound(f"no item {href}")
        return item

    def _id(self, path: str) -> int:
        row = self._calendars.collection(path)
        if row is None:
            raise NotFound(f"no calendar {path}")
        return row.id

    def store(
        self,
        actor: Principal,
        shown: Shown,
        href: str | None,
        text: str,
        *,
        expected: str | None = None,
        keep_uid: bool = False,
        quiet: bool = False,
    ) -> str:
        """Store `text` at `href` (a new item when None) under the collection's lock,
        checked as a DAV PUT is (the recurrence limit included); with `expected`, only
        over that version (InvalidInput if it changed meanwhile, as a client's If-Match
        would fail). The href."""
        row = self._calendars.collection(shown.path)
        if row is None:
            raise NotFound(f"no calendar {shown.path}")
        try:
            facts = describe_text(row.path, text)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        with self._calendars.locks.holding(row.path):
            if href is None:
                if self._calendars.has_uid(row.id, facts.uid) and not keep_uid:
                    raise InvalidInput("an event with this UID is there already")
                href = f"{uuid.uuid4()}.ics"
            elif expected is not None:
                now = self._calendars.item(row.id, href)
                if now is None or now.etag != expected:
                    raise InvalidInput("changed meanwhile by someone else: open it again")
            stored, old = self._calendars.put_item(row.id, NewItem.of(href, facts), quiet=True)
        # Told once the lock is free (as dav/storage.py does): scheduling may write back
        # into this very calendar (a room's answer on the organizer's copy).
        if not quiet:
            self._calendars.announce(row.id, old, stored, actor.address)
        return href


def _organizer_of(text: str) -> str:
    try:
        return imip.read(text).organizer
    except imip.NotScheduling:
        return ""


def _kinds(row: CollectionRow) -> frozenset[str]:
    """What the collection holds for the portal: events, tasks (a calendar taking both,
    or saying nothing of its components, is both), or contacts."""
    if row.tag == "VADDRESSBOOK":
        return frozenset({CONTACTS})
    if row.tag != "VCALENDAR":
        return frozenset()
    components = row.props.get(COMPONENTS, "")
    kinds = set()
    if not components or "VEVENT" in components:
        kinds.add(EVENTS)
    if not components or "VTODO" in components:
        kinds.add(TASKS)
    return frozenset(kinds)


def _shown(row: CollectionRow, kind: str, access: str, index: int) -> Shown:
    color = row.props.get(COLOR, "")[:7] if row.props.get(COLOR, "").startswith("#") else ""
    return Shown(
        path=row.path,
        title=row.props.get(TITLE) or row.path.rsplit("/", 1)[-1],
        kind=kind,
        color=color or PALETTE[index % len(PALETTE)],
        access=access,
        owner=row.owner,
    )


def _occurrences(item: ItemRow, start: datetime, end: datetime) -> list[icalform.Occurrence]:
    try:
        return icalform.occurrences(item.text, start, end)
    except (icalform.FormError, ValueError, TypeError, KeyError):
        return []  # a client's object the page cannot expand is left out, not a 500


def _span_of(fields: icalform.EventFields) -> tuple[datetime, datetime]:
    """An event's time as aware datetimes (an all-day one: its days, in UTC)."""
    if isinstance(fields.start, datetime) and isinstance(fields.end, datetime):
        return _aware(fields.start), _aware(fields.end)
    first = datetime(fields.start.year, fields.start.month, fields.start.day, tzinfo=UTC)
    last = datetime(fields.end.year, fields.end.month, fields.end.day, tzinfo=UTC)
    return first, last + timedelta(days=1)


def _aware(moment: datetime) -> datetime:
    """A floating time taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _busy_only(occurrence: icalform.Occurrence) -> icalform.Occurrence:
    return replace(occurrence, title=BUSY, location="", organizer="", answers={})


def _sort_key(value: object) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() - 1  # type: ignore[attr-defined]


def _organizer(actor: Principal, shown: Shown) -> str:
    """Who organizes what the user invites others to: the user, in any calendar."""
    return actor.address


def _user_id(actor: Principal) -> int:
    if actor.user_id is None:
        raise InvalidInput("the system has no calendar")
    return actor.user_id


def _formed(make: Callable[[], T]) -> T:
    try:
        return make()
    except icalform.FormError as error:
        raise InvalidInput(str(error)) from None
