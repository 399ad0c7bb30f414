"""The portal's calendar: day, week, month and agenda views of the calendars a user sees
(their own, shared with them, their groups'), each switched on or off, and the event
form (new, edit, one occurrence or the series, delete). Times are shown in the user's
zone (chosen once; the page offers the browser's).

Everything goes through services.agenda, which finds a calendar only among the user's
own and those shared with them: a calendar path or event href changed in the URL
reaches nothing of anyone else's (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import getaddresses
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response
from wtforms.fields import SelectChoice

from groupware.errors import InvalidInput, NotFound, TryLater
from groupware.mime import icalform
from groupware.services.calendar.agenda import EVENTS, TASKS, Placed, Shown
from groupware.web.context import (
    attempt,
    download,
    login_gate,
    principal,
    services,
    uploaded_text,
)
from groupware.web.forms import ActionForm, ShareForm

blueprint = Blueprint("calendar", __name__, url_prefix="/calendar")
VIEWS = {"day": "Day", "week": "Week", "month": "Month", "agenda": "Agenda"}
AGENDA_DAYS = 30
REMINDERS = {
    "": "None",
    "0": "At the start",
    "5": "5 minutes before",
    "10": "10 minutes before",
    "15": "15 minutes before",
    "30": "30 minutes before",
    "60": "1 hour before",
    "1440": "1 day before",
}
REPEATS = {
    "": "Does not repeat",
    "DAILY": "Daily",
    "WEEKLY": "Weekly",
    "MONTHLY": "Monthly",
    "YEARLY": "Yearly",
}
WEEKDAY_NAMES = dict(
    zip(icalform.WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)
)
SCOPE_LABELS = {"this": "This event", "following": "This and following events", "all": "All events"}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?\Z")
MAX_ATTENDEES = 100
MAX_PEOPLE = 20  # rows the scheduling assistant shows
MAX_IMPORT_BYTES = 10_000_000


@blueprint.before_request
def logged_in() -> Response | None:
    return login_gate()


@dataclass(frozen=True)
class Shape:
    """One occurrence as a view draws it, in the viewer's zone."""

    placed: Placed
    start: datetime | date
    end: datetime | date
    minute: int  # from the day's start (timed ones)
    length: int  # minutes

    @property
    def occurrence(self) -> icalform.Occurrence:
        return self.placed.occurrence

    @property
    def all_day(self) -> bool:
        return self.placed.occurrence.all_day


def viewer_zone() -> ZoneInfo:
    name = services().agenda.settings(principal()).zone
    try:
        return icalform.zone(name or "UTC")
    except icalform.FormError:
        return ZoneInfo("UTC")


@blueprint.get("")
def home() -> str:
    me = principal()
    agenda = services().agenda
    settings = agenda.settings(me)
    where = viewer_zone()
    view = request.args.get("view", "week")
    if view not in VIEWS:
        view = "week"
    today = datetime.now(where).date()
    day = parse_day(request.args.get("date", "")) or today
    first, last = _span(view, day)
    calendars = agenda.collections(me, EVENTS)
    shown = [c for c in calendars if c.path not in settings.hidden]
    start = datetime.combine(first, time(), where)
    end = datetime.combine(last, time(), where)
    shapes = [_shape(p, where) for p in agenda.occurrences(me, shown, start, end)]
    days = [first + timedelta(days=n) for n in range((last - first).days)]
    by_day: dict[date, list[Shape]] = {d: [] for d in days}
    for shape in shapes:
        for covered in _days_of(shape, first, last):
            by_day[covered].append(shape)
    step = {
        "day": timedelta(days=1),
        "week": timedelta(days=7),
        "agenda": timedelta(days=AGENDA_DAYS),
    }
    if view == "month":
        earlier, later = _month_shift(day, -1), _month_shift(day, 1)
    else:
        earlier, later = day - step[view], day + step[view]
    return render_template(
        "calendar.html",
        view=view,
        views=VIEWS,
        day=day,
        today=today,
        days=days,
        by_day=by_day,
        calendars=calendars,
        hidden=settings.hidden,
        zone_chosen=bool(settings.zone),
        zone=where.key,
        earlier=earlier,
        later=later,
        heading=_heading(view, first, last),
        month=day.month,
        action=ActionForm(),
        hours=range(24),
    )


@blueprint.post("/zone")
def set_zone() -> Response:
    if ActionForm().validate_on_submit():
        name = request.form.get("zone", "")[:64]
        attempt(
            lambda: services().agenda.set_zone(principal(), name), f"Times are shown in {name}."
        )
    return redirect(_back())


@blueprint.post("/show")
def show() -> Response:
    if ActionForm().validate_on_submit():
        path = request.form.get("calendar", "")
        on = request.form.get("on") == "1"
        me = principal()
        agenda = services().agenda
        kind = TASKS if request.form.get("kind") == "tasks" else EVENTS
        if not any(c.path == path for c in agenda.collections(me, kind)):
            abort(404)
        agenda.show(me, path, on)
    return redirect(_back())


@blueprint.get("/event")
def event_form() -> str:
    """The form: a new event (at `date` and `time` if given), or the event `href` in
    calendar `c` (one occurrence of it with `occurrence`)."""
    me = principal()
    agenda = services().agenda
    calendars = [c for c in agenda.collections(me, EVENTS) if c.writable]
    where = viewer_zone()
    path, href = request.args.get("c", ""), request.args.get("h", "")
    occurrence = request.args.get("occurrence", "")
    shown: Shown | None = None
    if href:
        shown, item = agenda.event(me, path, href)
        try:
            fields = icalform.event_fields(item.text, occurrence)
        except icalform.FormError:
            abort(404)
        recurring = occurrence and "RRULE" in item.text
        answers = icalform.answers(item.text)
    else:
        answers = {}
        day = parse_day(request.args.get("date", "")) or datetime.now(where).date()
        hour = request.args.get("time", "")
        begins = datetime.combine(day, _time(hour) or time(9), where)
        fields = icalform.EventFields("", begins, begins + timedelta(hours=1), zone=where.key)
        recurring = False
    return render_template(
        "event.html",
        fields=fields,
        shown=shown,
        href=href,
        occurrence=occurrence,
        recurring=bool(recurring),
        calendars=calendars,
        chosen=shown.path if shown else (calendars[0].path if calendars else ""),
        reminders=REMINDERS,
        repeats=REPEATS,
        weekdays=WEEKDAY_NAMES,
        scopes=SCOPE_LABELS,
        zone=where.key,
        action=ActionForm(),
        answers=answers,
        rooms=services().resources.list_all(),
        uid=_uid_of(item.text) if href else "",
    )


@blueprint.post("/event")
def save_event() -> Response | str:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    agenda = services().agenda
    path, href = request.form.get("c", ""), request.form.get("h", "")
    target = request.form.get("calendar", path)
    occurrence = request.form.get("occurrence", "")
    scope = request.form.get("scope", "all")
    if scope not in SCOPE_LABELS:
        scope = "all"
    try:
        fields = _fields(request.form)
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(request.referrer or url_for("calendar.home"))
    if href:
        saved = attempt(
            lambda: agenda.edit_event(me, path, href, fields, scope, occurrence, move_to=target),
            "Event saved.",
        )
    else:
        saved = attempt(lambda: agenda.create_event(me, target, fields), "Event saved.")
    if saved is None:
        return redirect(request.referrer or url_for("calendar.home"))
    start = fields.start.date() if isinstance(fields.start, datetime) else fields.start
    return redirect(
        url_for("calendar.home", view=request.form.get("view", "week"), date=start.isoformat())
    )


@blueprint.post("/event/delete")
def delete_event() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path, href = request.form.get("c", ""), request.form.get("h", "")
    occurrence = request.form.get("occurrence", "")
    scope = request.form.get("scope", "all")
    if scope not in SCOPE_LABELS:
        scope = "all"
    services().agenda.event(me, path, href)
    attempt(
        lambda: services().agenda.delete_event(me, path, href, scope, occurrence), "Event deleted."
    )
    return redirect(url_for("calendar.home"))


@blueprint.get("/freebusy")
def freebusy() -> Response:
    """The scheduling assistant's rows: for each address asked (`who`, comma-separated;
    people and rooms of this server), its busy blocks on `date` in `zone`, as minutes
    from that day's midnight: {"rows": [{"who", "known", "busy": [[from, to, kind]]}]}.
    Times only: what the blocks are is nobody else's business."""
    me = principal()
    svc = services()
    who = _addresses(request.args.get("who", ""), me.address)[:MAX_PEOPLE]
    where = _zone_or_404(request.args.get("zone", ""))
    day = parse_day(request.args.get("date", "")) or datetime.now(where).date()
    start = datetime.combine(day, time(), where)
    end = start + timedelta(days=1)
    besides = services().agenda.own_uid(me, request.args.get("uid", "")[:500])
    rows = []
    for address in who:
        known = svc.calendars.is_known(address)
        busy = svc.freebusy.busy(address, start, end, besides=besides) if known else []
        rows.append(
            {
                "who": address,
                "known": known,
                "busy": [
                    [_minutes(p.start, start), _minutes(p.end, start), p.kind.lower()] for p in busy
                ],
            }
        )
    return jsonify(rows=rows)


@blueprint.get("/nextfree")
def next_free() -> Response:
    """The first time from `after` (local, in `zone`) when everyone in `who` is free for
    `minutes`, within working hours in the next two weeks: {"start", "end"} as local
    times for the form, or {} when there is none."""
    me = principal()
    svc = services()
    who = [
        a
        for a in _addresses(request.args.get("who", ""), me.address)[:MAX_PEOPLE]
        if svc.calendars.is_known(a)
    ]
    where = _zone_or_404(request.args.get("zone", ""))
    day, hour = _moment(request.args.get("after", ""), "After")
    after = datetime.combine(day, hour or time(8), where)
    minutes = _number(request.args.get("minutes", "60") or "60", "minutes")
    length = timedelta(minutes=max(15, min(minutes, 24 * 60)))
    found = svc.freebusy.next_free(
        who,
        after,
        length,
        besides=svc.agenda.own_uid(me, request.args.get("uid", "")[:500]),
        zone=where.key,
    )
    if found is None:
        return jsonify({})
    local_start = found.astimezone(where)
    return jsonify(
        start=local_start.strftime("%Y-%m-%dT%H:%M"),
        end=(local_start + length).strftime("%Y-%m-%dT%H:%M"),
    )


def _uid_of(text: str) -> str:
    found = re.search(r"^UID:(.*)$", text, re.MULTILINE)
    return found.group(1).strip() if found else ""


def _addresses(text: str, me: str) -> list[str]:
    """The addresses in what was typed ("Ann <ann@x>, bob@y"), `me` first when given;
    what is no address is kept as typed, for the form to refuse by name."""
    found = [me] if me else []
    for _, address in getaddresses([text[:20_000].replace(";", ",")]):
        address = address.strip().lower()
        if address and address not in found:
            found.append(address)
    return found[: MAX_ATTENDEES + 1]


def _zone_or_404(name: str) -> ZoneInfo:
    try:
        return icalform.zone(name) if name else viewer_zone()
    except icalform.FormError:
        abort(404)


def _minutes(moment: datetime, midnight: datetime) -> int:
    return max(0, min(24 * 60, int((moment - midnight).total_seconds() // 60)))


# -- reading forms -------------------------------------------------------------------------


def _fields(form: object) -> icalform.EventFields:
    """The event the form describes; InvalidInput says what is wrong."""
    get = form.get  # type: ignore[attr-defined]
    all_day = get("all_day") in ("on", "1", "y")
    zone_name = get("zone", "") or viewer_zone().key
    try:
        where = icalform.zone(zone_name)
    except icalform.FormError as error:
        raise InvalidInput(str(error)) from None
    start, end = _moment(get("start", ""), "Start"), _moment(get("end", ""), "End")
    if all_day:
        first, last = start[0], end[0]
        begins: datetime | date = first
        ends: datetime | date = max(last, first)
    else:
        begins = datetime.combine(start[0], start[1] or time(9), where)
        ends = datetime.combine(end[0], end[1] or (start[1] or time(10)), where)
    repeat = None
    freq = get("repeat", "")
    if freq:
        if freq not in icalform.FREQUENCIES:
            raise InvalidInput("unknown repeat")
        ending = get("ends", "never")
        until = parse_day(get("until", "")) if ending == "on" else None
        count = _number(get("count", ""), "times") if ending == "after" else None
        weekdays = tuple(d for d in form.getlist("weekday") if d in icalform.WEEKDAYS)  # type: ignore[attr-defined]
        repeat = icalform.Repeat(
            freq, _number(get("interval", "1") or "1", "interval"), weekdays, until, count
        )
    reminder = get("reminder", "")
    attendees = tuple(_addresses(get("attendees", ""), ""))
    if len(attendees) > MAX_ATTENDEES:
        raise InvalidInput(f"at most {MAX_ATTENDEES} attendees")
    return icalform.EventFields(
        title=get("title", "")[: icalform.MAX_TEXT + 1],
        start=begins,
        end=ends,
        all_day=all_day,
        location=get("location", ""),
        description=get("description", ""),
        reminder=int(reminder) if reminder in REMINDERS and reminder else None,
        repeat=repeat,
        attendees=attendees,
        zone=where.key,
    )


def _moment(value: str, name: str) -> tuple[date, time | None]:
    found = MOMENT.match(value.strip())
    if found is None:
        raise InvalidInput(f"{name}: a date (and time) is needed")
    day = parse_day(found.group(1))
    if day is None:
        raise InvalidInput(f"{name}: not a date")
    return day, _time(found.group(2) or "")


def parse_day(value: str) -> date | None:
    """A YYYY-MM-DD day within the years the portal handles, else None."""
    if not DAY.match(value or ""):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if icalform.in_years(day) else None


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if re.fullmatch(r"\d{2}:\d{2}", value or "") else None
    except ValueError:
        return None


def _number(value: str, name: str) -> int:
    if not re.fullmatch(r"\d{1,4}", value.strip()):
        raise InvalidInput(f"{name}: a whole number")
    return int(value)


# -- laying out ----------------------------------------------------------------------------


def _span(view: str, day: date) -> tuple[date, date]:
    """The first day shown and the day after the last."""
    if view == "day":
        return day, day + timedelta(days=1)
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    if view == "agenda":
        return day, day + timedelta(days=AGENDA_DAYS)
    first = day.replace(day=1)
    start = first - timedelta(days=first.weekday())
    following = _month_shift(first, 1)
    end = following + timedelta(days=(7 - following.weekday()) % 7)
    return start, end


def _month_shift(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _heading(view: str, first: date, last: date) -> str:
    if view == "day":
        return first.strftime("%A %-d %B %Y")
    if view == "month":
        middle = first + timedelta(days=10)
        return middle.strftime("%B %Y")
    end = last - timedelta(days=1)
    if first.year != end.year:
        return f"{first:%-d %b %Y} \u2013 {end:%-d %b %Y}"
    if first.month != end.month:
        return f"{first:%-d %b} \u2013 {end:%-d %b %Y}"
    return f"{first:%-d} \u2013 {end:%-d %B %Y}"


def _shape(placed: Placed, where: ZoneInfo) -> Shape:
    occurrence = placed.occurrence
    start = icalform.local(occurrence.start, where)
    end = icalform.local(occurrence.end, where)
    if isinstance(start, datetime) and isinstance(end, datetime):
        minute = start.hour * 60 + start.minute
        length = max(15, int((end - start).total_seconds() // 60))
        return Shape(placed, start, end, minute, length)
    return Shape(placed, start, end, 0, 24 * 60)


def _days_of(shape: Shape, shown: date, after: date) -> list[date]:
    """The days from `shown` to before `after` (in the viewer's zone) an occurrence shows
    on: each it touches; a timed one ending at midnight not on the next day."""
    begins, ends = shape.start, shape.end
    if isinstance(begins, datetime) and isinstance(ends, datetime):
        first = begins.date()
        last = (ends - timedelta(microseconds=1)).date() if ends > begins else first
    else:
        first = begins if not isinstance(begins, datetime) else begins.date()
        last = max(
            first, (ends if not isinstance(ends, datetime) else ends.date()) - timedelta(days=1)
        )
    first, last = max(first, shown), min(last, after - timedelta(days=1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _back() -> str:
    back = request.form.get("back", "")
    ours = back.startswith("/calendar") and "//" not in back and back.isprintable()
    return back if ours and len(back) < 2000 else url_for("calendar.home")


# -- sharing, import and export ------------------------------------------------------------


@blueprint.get("/sharing")
def sharing() -> str:
    """The user's calendars, task lists and address books with their shares, what
    others share with them, and .ics import and export."""
    me = principal()
    svc = services()
    owned = svc.sharing.collections_of(me)
    form = ShareForm()
    form.collection.choices = [SelectChoice(path, name) for path, name, _, _ in owned]
    writable = [c for c in svc.agenda.collections(me, EVENTS) if c.writable]
    writable += [c for c in svc.agenda.collections(me, TASKS) if c.writable]
    return render_template(
        "calendars.html",
        owned=owned,
        shared=svc.sharing.visible_to(me.address),
        form=form,
        action=ActionForm(),
        writable=writable,
        dav_url=url_for("index", _external=True) + "dav/",
        max_import=MAX_IMPORT_BYTES,
    )


@blueprint.get("/export")
def export() -> Response:
    me = principal()
    path = request.args.get("c", "")
    kind = TASKS if request.args.get("kind") == "tasks" else EVENTS
    shown, text = services().agenda.export(me, path, kind)
    return download(text, "text/calendar", shown.title, ".ics")


@blueprint.post("/import")
def import_file() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path = request.form.get("calendar", "")
    try:
        text = uploaded_text("file", MAX_IMPORT_BYTES, "iCalendar text")
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(url_for("calendar.sharing"))
    agenda = services().agenda
    kind = TASKS if any(c.path == path for c in agenda.collections(me, TASKS)) else EVENTS
    try:
        stored = agenda.import_ics(me, path, text, kind)
    except (InvalidInput, NotFound, TryLater) as error:
        flash(str(error), "error")
    else:
        flash(f"{stored} imported.", "ok")
    return redirect(url_for("calendar.sharing"))
