"""Webmail: a user's folders, one window of a folder's messages, and reading one.

Views read through services.mail_view, which finds mailboxes only among the logged-in
user's own: a folder name or UID changed in the URL reaches nothing of anyone else's
(404). Opening a message marks it \\Seen, as a mail client's reading does.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from groupware.errors import InvalidInput, NotFound
from groupware.mime import icalform
from groupware.services.mail.listing import (
    ARCHIVE,
    FLAGGED,
    JUNK,
    SEEN,
    SORTS,
    TRASH,
    Found,
    by_conversation,
)
from groupware.services.mail.mailboxes import INBOX, SEPARATOR, MailboxInfo
from groupware.web.calendar import viewer_zone
from groupware.web.context import attempt, login_gate, principal, services
from groupware.web.forms import ActionForm
from groupware.web.live import OPENING, MailFeed, TooMany
from groupware.web.server import STREAM_KEY
from groupware.web.sessions import current_session

blueprint = Blueprint("mail", __name__, url_prefix="/mail")
# The HTML frame's own policy: a unique origin without script, forms or top navigation
# (links open a new window, outside the sandbox); only inline styles and data: images.
FRAME_POLICY = "; ".join(
    [
        "sandbox allow-popups allow-popups-to-escape-sandbox",
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
# The same, with the images of the network that the reader allowed.
REMOTE_FRAME_POLICY = FRAME_POLICY.replace("img-src data:", "img-src data: https: http:")
# What a file the user downloads or a message's source may do in a browser: nothing.
FILE_POLICY = "sandbox; default-src 'none'"
NUMBER = re.compile(r"[0-9]{1,10}")  # a UID in a form (ASCII digits only)
SECTION = re.compile(r"[1-9][0-9]{0,4}(?:\.[1-9][0-9]{0,4}){0,20}\Z")
MAX_SELECTED = 1000  # messages one action takes
# What the buttons file messages under: the folder's special use, and what is said after.
FILED = {
    "delete": (TRASH, "Moved to {}."),
    "archive": (ARCHIVE, "Archived."),
    "junk": (JUNK, "Moved to {}."),
}
# An invitation's buttons: what each sets, and what is said after.
ANSWERS = {
    "accept": ("ACCEPTED", "Accepted: it is in your calendar."),
    "tentative": ("TENTATIVE", "Answered tentative."),
    "decline": ("DECLINED", "Declined."),
}
# The list's orders, as its sort menu names them.
SORT_LABELS = {"date": "Date", "from": "Sender", "subject": "Subject", "size": "Size"}
# What the mark buttons set: the flag, and whether it is set or cleared.
MARKS = {
    "read": (SEEN, True),
    "unread": (SEEN, False),
    "flag": (FLAGGED, True),
    "unflag": (FLAGGED, False),
}
# Special-use folders first, in this order (RFC 6154 attributes), then the rest by name.
SPECIAL_ORDER = ("\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash")


@blueprint.before_request
def _logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def home() -> Response:
    return redirect(url_for("mail.folder", mailbox=INBOX))


@blueprint.get("/folder/<path:mailbox>")
def folder(mailbox: str) -> str:
    me = principal()
    svc = services()
    sort = request.args.get("sort", "date")
    if sort not in SORTS:
        abort(404)
    prefs = svc.preferences.get(me)
    window = svc.mail_view.window(
        me,
        mailbox,
        before=request.args.get("before", type=int),
        size=prefs.page_size,
        sort=sort,
        page=request.args.get("page", 0, type=int),
    )
    threaded = prefs.conversations and sort == "date"
    rows = by_conversation(window.messages) if threaded else window.messages
    folders = ordered(svc.mailboxes.list_all(me))
    current = next((f for f in folders if f.name == mailbox), None)
    return render_template(
        "mail.html",
        folders=folders,
        mailbox=mailbox,
        current=current,
        window=window,
        rows=rows,
        threaded=threaded,
        conversations=prefs.conversations,
        sort=sort,
        sorts=SORT_LABELS,
        action=ActionForm(),
    )


@blueprint.get("/message/<path:mailbox>/<int:uid>")
def message(mailbox: str, uid: int) -> str:
    me = principal()
    svc = services()
    opened = svc.mail_view.open(me, mailbox, uid)
    newer, older = svc.mail_view.neighbours(me, mailbox, uid)
    # A trusted sender's images load only when the message is theirs for sure: mail from
    # outside passed DMARC (forged mail claiming them fetches nothing); our own users'
    # mail carries no verdicts.
    vouched = opened.verdicts is None or ("dmarc", "pass") in opened.verdicts.results
    trusted = vouched and opened.author is not None and svc.preferences.trusts(me, opened.author)
    conversation = svc.mail_view.conversation(me, mailbox, uid)
    folders = ordered(svc.mailboxes.list_all(me))
    invitation = svc.agenda.invitation(me, opened.calendar) if opened.calendar else None
    return render_template(
        "message.html",
        invitation=invitation,
        zone=viewer_zone(),
        local=icalform.local,
        folders=folders,
        current=next((f for f in folders if f.name == mailbox), None),
        mailbox=mailbox,
        message=opened,
        newer=newer,
        older=older,
        remote=trusted or request.args.get("remote") == "1",
        trusted=trusted,
        conversation=conversation,
        action=ActionForm(),
    )


@blueprint.post("/invitation/<path:mailbox>/<int:uid>")
def answer_invitation(mailbox: str, uid: int) -> Response:
    """Accept, Tentative or Decline on an invitation mail: the answer goes on the
    reader's copy in their calendar, and from there to the organizer."""
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    svc = services()
    opened = svc.mail_view.open(me, mailbox, uid)
    text, chosen = opened.calendar, request.form.get("answer", "")
    if text is None:
        abort(400)
    if chosen == "propose":
        shown = svc.agenda.invitation(me, text)
        if shown is None or shown.where is None or not shown.invited:
            abort(404)
        where = viewer_zone()
        try:
            start = _local_time(request.form.get("start", ""), where)
            end = _local_time(request.form.get("end", ""), where)
        except ValueError:
            flash("Give the new start and end as dates and times.", "error")
        else:
            attempt(
                lambda: svc.scheduling.propose(me.address, text, start, end),
                "Your proposal is on its way to the organizer.",
            )
    elif chosen == "take":
        attempt(
            lambda: svc.agenda.take_proposal(me, text),
            "The event moved to the proposed time; the attendees are asked again.",
        )
    elif chosen in ANSWERS:
        partstat, said = ANSWERS[chosen]
        attempt(lambda: svc.agenda.answer(me, text, partstat), said)
    else:
        abort(400)
    return redirect(url_for("mail.message", mailbox=mailbox, uid=uid))


def _local_time(value: str, where: ZoneInfo) -> datetime:
    """A datetime-local field's value in the viewer's zone; ValueError if it is none."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        raise ValueError(value)
    return datetime.fromisoformat(value).replace(tzinfo=where)


@blueprint.post("/conversations")
def toggle_conversations() -> Response:
    """The list's switch between one row per conversation and one per message."""
    if not ActionForm().validate_on_submit():
        abort(400)
    me, prefs = principal(), services().preferences
    current = prefs.get(me)
    prefs.set(me, replace(current, conversations=not current.conversations))
    return redirect(_back_to(request.form.get("folder", INBOX)))


@blueprint.post("/trust/<path:mailbox>/<int:uid>")
def trust_sender(mailbox: str, uid: int) -> Response:
    """Always show the remote images of this message's sender (Settings lists them)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    me, svc = principal(), services()
    author = svc.mail_view.open(me, mailbox, uid).author
    if author is None:
        abort(404)
    svc.preferences.trust(me, author, on=True)
    flash(f"Images from {author} are shown from now on.", "ok")
    return redirect(url_for("mail.message", mailbox=mailbox, uid=uid))


@blueprint.get("/body/<path:mailbox>/<int:uid>")
def body(mailbox: str, uid: int) -> Response:
    """A message's HTML, cleaned, for the reader's sandboxed frame only: its own policy
    lets nothing run, submit, navigate the page or load from anywhere (but the images
    of the network, when the reader asked for them with `remote=1`)."""
    remote = request.args.get("remote") == "1"
    html = services().mail_view.html(principal(), mailbox, uid, remote=remote)
    page = f'<!doctype html><meta charset="utf-8">{html}'
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = REMOTE_FRAME_POLICY if remote else FRAME_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/attachment/<path:mailbox>/<int:uid>/<section>")
def attachment(mailbox: str, uid: int, section: str) -> Response:
    """An attachment, always saved as a file (never shown as a page of ours)."""
    if not SECTION.match(section):
        abort(404)
    found = services().mail_view.attachment(principal(), mailbox, uid, section)
    response = send_file(
        io.BytesIO(found.content),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=found.filename,
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/source/<path:mailbox>/<int:uid>")
def source(mailbox: str, uid: int) -> Response:
    """A message as it is stored, as plain text ("Show source")."""
    content = services().mail_view.source(principal(), mailbox, uid)
    response = Response(content, mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/events")
def events() -> Response | tuple[str, int]:
    """Changes to the user's mail as server-sent events, for the open pages to follow
    (web/live.py); the connection then leaves the thread pool (web/eventstreams.py)."""
    adopt = request.environ.get(STREAM_KEY)
    if request.method != "GET" or adopt is None:  # not served by web/server.py: no stream
        return Response(OPENING, mimetype="text/event-stream")
    me, svc = principal(), services()
    sid = current_session().record
    assert me.user_id is not None and sid is not None  # login_gate let only users in
    try:
        feed = MailFeed(me.user_id, lambda: svc.websessions.alive(sid.id))
    except TooMany as refused:
        return str(refused), 429
    feed.watching(svc.mail_view.watch(me, feed.changed))
    adopt(feed)
    response = Response(iter([OPENING]), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@blueprint.get("/search")
def search() -> str:
    """Messages matching the search box (services/mail/query.py), across folders."""
    me = principal()
    svc = services()
    text = request.args.get("q", "")
    found: list[Found] = []
    error = None
    if text.strip():
        try:
            found = svc.mail_view.search(me, text)
        except (InvalidInput, NotFound) as refused:
            error = str(refused)
    folders = ordered(svc.mailboxes.list_all(me))
    return render_template(
        "search.html", folders=folders, mailbox="", query=text, found=found, error=error
    )


@blueprint.post("/act/<path:mailbox>")
def act(mailbox: str) -> Response:
    """What the list's and the reader's buttons do to the messages chosen (`uid` fields):
    delete (to Trash; in Trash, for good), archive, junk, not junk (back to the Inbox),
    move (to `target`), mark read or unread, flag or unflag."""
    if not ActionForm().validate_on_submit():
        abort(400)
    # A conversation's row stands for several messages: "12,11,9".
    chosen = (part for value in request.form.getlist("uid") for part in value.split(","))
    uids = [int(part) for part in chosen if NUMBER.fullmatch(part)][:MAX_SELECTED]
    what = request.form.get("action", "")
    back = redirect(_back_to(mailbox))
    if not uids:
        flash("Choose one or more messages first.", "error")
        return back
    me, view = principal(), services().mail_view
    if what in FILED:
        use, said = FILED[what]
        target = view.file(me, mailbox, uids, use)
        flash(said.format(folder_label(target)), "ok")
    elif what in MARKS:
        flag, on = MARKS[what]
        view.mark(me, mailbox, uids, flag, on=on)
    elif what in ("move", "notjunk"):
        target = INBOX if what == "notjunk" else request.form.get("target", "")
        if not target:
            flash("Choose the folder to move to.", "error")
            return back
        view.move(me, mailbox, uids, target)
        flash(f"Moved to {folder_label(target)}.", "ok")
    else:
        abort(400)
    return back


def _back_to(mailbox: str) -> str:
    """Where an action returns: the list it came from (its order and window kept), when
    the form says so and it is one of our own folder pages; else the folder."""
    back = request.form.get("back", "")
    folder = url_for("mail.folder", mailbox=mailbox)
    return back if back.startswith(folder + "?") or back == folder else folder


@blueprint.get("/folders")
def folders() -> str:
    """Every folder, to create, rename, delete and subscribe to."""
    boxes = ordered(services().mailboxes.list_all(principal()))
    return render_template(
        "folders.html", folders=boxes, mailbox="", action=ActionForm(), fixed=_fixed
    )


@blueprint.post("/folders")
def change_folders() -> Response:
    """A folder created (inside `parent`, if given), renamed, deleted or (un)subscribed.
    INBOX and the special-use folders stay: mail is filed into them."""
    if not ActionForm().validate_on_submit():
        abort(400)
    me, boxes = principal(), services().mailboxes
    what, name = request.form.get("action", ""), request.form.get("folder", "")
    back = redirect(url_for("mail.folders"))
    if what == "create":
        new = request.form.get("name", "").strip()
        parent = request.form.get("parent", "")
        full = f"{parent}{SEPARATOR}{new}" if parent else new
        if not new or SEPARATOR in new:
            flash(f"Give the folder a name (without {SEPARATOR}).", "error")
        elif attempt(lambda: boxes.create(me, full), f"Created {full}.") is not None:
            boxes.subscribe(me, full, True)  # shown in the folder list
        return back
    info = boxes.get(me, name)  # NotFound (404) for one not the user's
    if what == "subscribe":
        on = request.form.get("subscribed") == "1"
        boxes.subscribe(me, info.name, on)
        flash(
            f"{'Showing' if on else 'Hiding'} {folder_label(info.name)} in the folder list.", "ok"
        )
    elif _fixed(info):
        flash(f"{folder_label(info.name)} is where mail is filed: it stays.", "error")
    elif what == "rename":
        new = request.form.get("name", "").strip()
        attempt(lambda: boxes.rename(me, info.name, new), f"Renamed to {new}.")
    elif what == "delete":
        boxes.delete(me, info.name)
        flash(f"Deleted {info.name} and its messages.", "ok")
    else:
        abort(400)
    return back


def _fixed(box: MailboxInfo) -> bool:
    """INBOX and the special-use folders: neither renamed nor deleted here."""
    return box.name == INBOX or box.special_use is not None


def ordered(folders: list[MailboxInfo]) -> list[MailboxInfo]:
    """INBOX, the special-use folders, then the others as a tree (each folder followed
    by those inside it), by name."""

    def rank(box: MailboxInfo) -> tuple[int, tuple[str, ...]]:
        if box.name == INBOX:
            return 0, ()
        if box.special_use in SPECIAL_ORDER:
            return 1 + SPECIAL_ORDER.index(box.special_use), ()
        return len(SPECIAL_ORDER) + 1, tuple(box.name.lower().split(SEPARATOR))

    return sorted(folders, key=rank)


def folder_depth(name: str) -> int:
    """How deep a folder sits in the tree (0 at the top; at most 5 shown)."""
    return min(name.count(SEPARATOR), 5)


def folder_leaf(name: str) -> str:
    """A folder's own name in the tree (Projects/Alpha → Alpha)."""
    return folder_label(name).rsplit(SEPARATOR, 1)[-1]


def folder_label(name: str) -> str:
    """How a folder is named on screen: INBOX as every client shows it."""
    return "Inbox" if name == INBOX else name


def sender_name(addresses: str) -> str:
    """The first sender's name as a list shows it ("Carol <carol@x>" → "Carol"), or its
    address when it has no name."""
    first = addresses.split(">, ", 1)[0]
    name, bracket, _ = first.partition(" <")
    return name.strip().strip('"') if bracket and name.strip() else first.strip("<> ")


def full_date(moment: datetime) -> str:
    """A message's date in full, in UTC (the user's own zone comes with the settings)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def short_date(moment: datetime, now: datetime | None = None) -> str:
    """The time for today's mail, the day and month this year, else the date (UTC)."""
    now = now or datetime.now(UTC)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.year == now.year:
        return moment.strftime("%d %b")
    return moment.strftime("%Y-%m-%d")


def file_size(octets: int) -> str:
    """A size as people read it: "812 B", "14 KB", "3.2 MB" (powers of 1,000)."""
    if octets < 1000:
        return f"{octets} B"
    if octets < 1_000_000:
        return f"{round(octets / 1000)} KB"
    return f"{octets / 1_000_000:.1f} MB"
