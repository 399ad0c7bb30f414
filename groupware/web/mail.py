"""Webmail: a user's folders, one window of a folder's messages, and reading one.

Views read through services.mail_view, which finds mailboxes only among the logged-in
user's own: a folder name or UID changed in the URL reaches nothing of anyone else's
(404). Opening a message marks it \\Seen, as a mail client's reading does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.errors import InvalidInput, NotFound
from groupware.services.delivery.send import Draft
from groupware.services.mail.listing import ARCHIVE, JUNK, TRASH, Found, Opened
from groupware.services.mail.mailboxes import INBOX, MailboxInfo
from groupware.web.context import attempt, login_gate, principal, services
from groupware.web.forms import ActionForm, ComposeForm

blueprint = Blueprint("mail", __name__, url_prefix="/mail")
PAGE = 50  # messages in one window of the list
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
MAX_SELECTED = 1000  # messages one action takes
# What the buttons file messages under: the folder's special use, and what is said after.
FILED = {
    "delete": (TRASH, "Moved to {}."),
    "archive": (ARCHIVE, "Archived."),
    "junk": (JUNK, "Moved to {}."),
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
    before = request.args.get("before", type=int)
    window = svc.mail_view.window(me, mailbox, before=before, size=PAGE)
    folders = ordered(svc.mailboxes.list_all(me))
    current = next((f for f in folders if f.name == mailbox), None)
    return render_template(
        "mail.html",
        folders=folders,
        mailbox=mailbox,
        current=current,
        window=window,
        action=ActionForm(),
    )


@blueprint.get("/message/<path:mailbox>/<int:uid>")
def message(mailbox: str, uid: int) -> str:
    me = principal()
    svc = services()
    opened = svc.mail_view.open(me, mailbox, uid)
    folders = ordered(svc.mailboxes.list_all(me))
    return render_template(
        "message.html", folders=folders, mailbox=mailbox, message=opened, action=ActionForm()
    )


@blueprint.get("/body/<path:mailbox>/<int:uid>")
def body(mailbox: str, uid: int) -> Response:
    """A message's HTML, cleaned, for the reader's sandboxed frame only: its own policy
    lets nothing run, submit, navigate the page or load from anywhere."""
    html = services().mail_view.html(principal(), mailbox, uid)
    page = f'<!doctype html><meta charset="utf-8">{html}'
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = FRAME_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
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


@blueprint.get("/compose")
def compose() -> str:
    """A new message, or a reply (`reply`: a UID in `folder`; `all`: to everyone)."""
    form = ComposeForm()
    uid = request.args.get("reply", type=int)
    if uid is not None:
        mailbox = request.args.get("folder", INBOX)
        original = services().mail_view.open(principal(), mailbox, uid)
        _fill_reply(form, original, to_all=request.args.get("all") == "1")
    return _compose_page(form)


@blueprint.post("/compose")
def send() -> str | Response | tuple[str, int]:
    """Send the form's message; on a refusal (a recipient that is no address, one we do
    not have) the form comes back as it was, with the reason."""
    form = ComposeForm()
    if not form.validate_on_submit():
        return _compose_page(form), 400
    draft = Draft(
        to=form.to.data or "",
        cc=form.cc.data or "",
        bcc=form.bcc.data or "",
        subject=form.subject.data or "",
        body=form.body.data or "",
        in_reply_to=form.in_reply_to.data or None,
        references=tuple((form.references.data or "").split()),
    )
    me = principal()
    kept = attempt(lambda: services().sending.send(me, draft), "Sent.")
    if kept is None:
        return _compose_page(form)
    if not kept:
        flash("No copy was kept in Sent: the mailbox is full or has no Sent folder.", "error")
    return redirect(url_for("mail.folder", mailbox=INBOX))


def _compose_page(form: ComposeForm) -> str:
    folders = ordered(services().mailboxes.list_all(principal()))
    return render_template("compose.html", folders=folders, mailbox="", form=form)


def _fill_reply(form: ComposeForm, original: Opened, *, to_all: bool) -> None:
    me = principal().address
    to = [a for a in original.reply_to if a != me] or list(original.reply_to)
    form.to.data = ", ".join(to)
    if to_all:
        form.cc.data = ", ".join(a for a in original.others if a != me and a not in to)
    subject = original.subject
    form.subject.data = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    quoted = "\n".join("> " + line for line in original.text.splitlines())
    written = original.date.strftime("%Y-%m-%d %H:%M UTC")
    form.body.data = f"\n\nOn {written}, {original.sender} wrote:\n{quoted}\n"
    form.in_reply_to.data = original.message_id or ""
    form.references.data = " ".join([*original.references, *filter(None, [original.message_id])])


@blueprint.post("/act/<path:mailbox>")
def act(mailbox: str) -> Response:
    """What the list's and the reader's buttons do to the messages chosen (`uid` fields):
    delete (to Trash; in Trash, for good), archive, junk, mark read or unread."""
    if not ActionForm().validate_on_submit():
        abort(400)
    uids = request.form.getlist("uid", type=int)[:MAX_SELECTED]
    what = request.form.get("action", "")
    back = redirect(url_for("mail.folder", mailbox=mailbox))
    if not uids:
        flash("Choose one or more messages first.", "error")
        return back
    me, view = principal(), services().mail_view
    if what in FILED:
        use, said = FILED[what]
        target = view.file(me, mailbox, uids, use)
        flash(said.format(folder_label(target)), "ok")
    elif what in ("read", "unread"):
        view.mark(me, mailbox, uids, seen=what == "read")
    else:
        abort(400)
    return back


def ordered(folders: list[MailboxInfo]) -> list[MailboxInfo]:
    """INBOX, the special-use folders, then the others by name."""

    def rank(box: MailboxInfo) -> tuple[int, str]:
        if box.name == INBOX:
            return 0, ""
        if box.special_use in SPECIAL_ORDER:
            return 1 + SPECIAL_ORDER.index(box.special_use), ""
        return len(SPECIAL_ORDER) + 1, box.name.lower()

    return sorted(folders, key=rank)


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
