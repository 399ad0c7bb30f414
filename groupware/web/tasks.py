"""The portal's tasks: every task of the task lists a user sees (their own, shared with
them, their groups'), sorted by due date, filtered (open, done, due today, overdue), each
ticked or unticked with one click, and the task form. Through services.agenda, as the
calendar: a list or task of anyone else's gives 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.errors import InvalidInput
from groupware.mime import icalform
from groupware.services.calendar.agenda import TASKS
from groupware.web.calendar import parse_day, viewer_zone
from groupware.web.context import attempt, login_gate, principal, services
from groupware.web.forms import ActionForm

blueprint = Blueprint("tasks", __name__, url_prefix="/tasks")
FILTERS = {"open": "Open", "today": "Due today", "overdue": "Overdue", "done": "Done", "all": "All"}
PRIORITY_LABELS = {"": "None", "high": "High", "medium": "Medium", "low": "Low"}
STATUS_LABELS = {
    "NEEDS-ACTION": "Not started",
    "IN-PROCESS": "In progress",
    "COMPLETED": "Done",
    "CANCELLED": "Cancelled",
}


@blueprint.before_request
def logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def home() -> str:
    me = principal()
    agenda = services().agenda
    which = request.args.get("filter", "open")
    if which not in FILTERS:
        which = "open"
    lists = agenda.collections(me, TASKS)
    hidden = agenda.settings(me).hidden
    today = datetime.now(viewer_zone()).date()
    found = agenda.tasks(me, [t for t in lists if t.path not in hidden])
    chosen = [entry for entry in found if _passes(entry[2], which, today)]
    chosen.sort(key=lambda entry: (_due_key(entry[2].due), entry[2].title.lower()))
    return render_template(
        "tasks.html",
        tasks=chosen,
        lists=lists,
        hidden=hidden,
        filters=FILTERS,
        which=which,
        today=today,
        priorities=PRIORITY_LABELS,
        action=ActionForm(),
        day_of=_day_of,
    )


@blueprint.post("/tick")
def tick() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    path, href = request.form.get("c", ""), request.form.get("h", "")
    done = request.form.get("done") == "1"
    services().agenda.tick(principal(), path, href, done)
    return redirect(_back())


@blueprint.get("/task")
def task_form() -> str:
    me = principal()
    agenda = services().agenda
    lists = [t for t in agenda.collections(me, TASKS) if t.writable]
    path, href = request.args.get("c", ""), request.args.get("h", "")
    if href:
        shown, task = agenda.task(me, path, href)
        fields = icalform.TaskFields(
            task.title, task.due, task.priority, task.notes, task.percent, task.status
        )
    else:
        shown, fields = None, icalform.TaskFields("")
    return render_template(
        "task.html",
        fields=fields,
        shown=shown,
        href=href,
        lists=lists,
        chosen=shown.path if shown else (lists[0].path if lists else ""),
        priorities=PRIORITY_LABELS,
        statuses=STATUS_LABELS,
        action=ActionForm(),
        due_day=_day_of(fields.due),
    )


@blueprint.post("/task")
def save_task() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    agenda = services().agenda
    path, href = request.form.get("c", ""), request.form.get("h", "")
    target = request.form.get("list", path)
    try:
        fields = _fields(request.form)
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(request.referrer or url_for("tasks.home"))
    if href:
        agenda.task(me, path, href)
        done = attempt(lambda: agenda.edit_task(me, path, href, fields), "Task saved.")
    else:
        done = attempt(lambda: agenda.create_task(me, target, fields), "Task saved.")
    if done is None and not href:
        return redirect(request.referrer or url_for("tasks.home"))
    return redirect(url_for("tasks.home"))


@blueprint.post("/delete")
def delete_task() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path, href = request.form.get("c", ""), request.form.get("h", "")
    services().agenda.task(me, path, href)
    attempt(lambda: services().agenda.delete_task(me, path, href), "Task deleted.")
    return redirect(url_for("tasks.home"))


def _fields(form: object) -> icalform.TaskFields:
    get = form.get  # type: ignore[attr-defined]
    due_text = get("due", "").strip()
    due = parse_day(due_text) if due_text else None
    if due_text and due is None:
        raise InvalidInput("Due: not a date")
    priority = get("priority", "")
    status = get("status", "NEEDS-ACTION")
    percent_text = get("percent", "0").strip() or "0"
    if not percent_text.isdigit() or len(percent_text) > 3:
        raise InvalidInput("Done: a percentage")
    return icalform.TaskFields(
        title=get("title", "")[: icalform.MAX_TEXT + 1],
        due=due,
        priority=priority if priority in PRIORITY_LABELS else "",
        notes=get("notes", "")[: icalform.MAX_TEXT + 1],
        percent=int(percent_text),
        status=status if status in STATUS_LABELS else "NEEDS-ACTION",
    )


def _passes(task: icalform.Task, which: str, today: date) -> bool:
    day = _day_of(task.due)
    finished = task.done or task.status == "CANCELLED"
    if which == "open":
        return not finished
    if which == "done":
        return task.done
    if which == "today":
        return not finished and day == today
    if which == "overdue":
        return not finished and day is not None and day < today
    return True


def _day_of(due: date | datetime | None) -> date | None:
    if isinstance(due, datetime):
        return (due if due.tzinfo else due.replace(tzinfo=UTC)).astimezone(viewer_zone()).date()
    return due


def _due_key(due: date | datetime | None) -> tuple[int, str]:
    day = _day_of(due)
    if day is None:
        return (1, "")
    moment = due.astimezone(UTC).isoformat() if isinstance(due, datetime) and due.tzinfo else ""
    return (0, day.isoformat() + moment)


def _back() -> str:
    back = request.form.get("back", "")
    ours = back.startswith("/tasks") and "//" not in back and back.isprintable()
    return back if ours and len(back) < 2000 else url_for("tasks.home")
