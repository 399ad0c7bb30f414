"""Webmail's writing side, on the mail blueprint: Compose, Reply, Reply all and Forward,
drafts kept in Drafts (saved by hand or by mail.js as one types), sending (held for
the user's undo window, or scheduled), Undo, and the Outbox of what still waits.

Sending goes through services.sending, the same author check and router as SMTP
submission; the form only gathers what the user wrote and chose.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms.fields import SelectChoice

from groupware.errors import GroupwareError, InvalidInput, NotFound
from groupware.mime.compose import File
from groupware.services.core.access import Principal
from groupware.services.delivery.send import Draft
from groupware.services.mail.listing import Opened
from groupware.services.mail.mailboxes import INBOX
from groupware.web.context import principal, services
from groupware.web.forms import ActionForm, ComposeForm
from groupware.web.mail import NUMBER, blueprint, file_size, full_date, ordered

SIGNATURE = "\n\n-- \n"  # RFC 3676 §4.3: the signature separator line
# A message with files costs a few times their size in memory while it is composed and
# stored: BIG_SENDS of them at once, others wait up to BIG_WAIT seconds (as SMTP's byte
# budget holds big messages in turn).
BIG_FORM = 1024 * 1024
BIG_SENDS = threading.BoundedSemaphore(2)
BIG_WAIT = 60


@blueprint.get("/compose")
def compose() -> str:
    """A new message, a reply (`reply`: a UID in `folder`; `all`: to everyone), a
    forward (`forward`: a UID in `folder`) or a draft taken up again (`draft`: a UID
    in Drafts), or a new one to `to`."""
    form = ComposeForm()
    me, view = principal(), services().mail_view
    mailbox = request.args.get("folder", INBOX)
    reply, forward = request.args.get("reply", type=int), request.args.get("forward", type=int)
    draft = request.args.get("draft", type=int)
    identity = services().identities.list_all(me)[0]
    form.sender.data = identity.address
    if draft is not None:
        _fill_draft(form, view.open(me, _drafts(), draft))
        return _compose_page(form)
    signature = SIGNATURE + identity.signature if identity.signature else ""
    if reply is not None:
        original = view.open(me, mailbox, reply)
        _fill_reply(form, original, to_all=request.args.get("all") == "1", signature=signature)
    elif forward is not None:
        original = view.open(me, mailbox, forward)
        _fill_forward(form, original, mailbox, signature=signature)
    else:
        form.body.data = signature
        form.to.data = request.args.get("to", "")[:1000]  # "write to" from a contact
    return _compose_page(form)


@blueprint.post("/compose")
def send() -> str | Response | tuple[str, int]:
    """Send the form's message, or keep it as a draft (`save`). On a refusal (a
    recipient that is no address, one we do not have, a message too big) the form comes
    back with the reason (files chosen must be chosen again: a browser cannot be given
    them back; a draft's files stay with the draft)."""
    form = ComposeForm()
    if not form.validate_on_submit():
        return _compose_page(form), 400
    me = principal()
    big = (request.content_length or 0) > BIG_FORM
    if big and not BIG_SENDS.acquire(timeout=BIG_WAIT):
        flash("The server is busy with other big messages: send again in a moment.", "error")
        return _compose_page(form), 503
    try:
        return _send(form, me)
    finally:
        if big:
            BIG_SENDS.release()


def _send(form: ComposeForm, me: Principal) -> str | Response:
    svc = services()
    try:
        saving = bool(request.form.get("save"))
        draft = _draft(form, draft_files=not saving)  # a saved draft keeps its own files
        if saving:
            uid = svc.sending.save_draft(me, draft, _int(form.draft_uid.data))
            flash("Draft saved.", "ok")
            return redirect(url_for("mail.compose", draft=uid))
        at = _send_at(form) if request.form.get("later") else None
        hold = timedelta(seconds=svc.preferences.get(me).undo_seconds)
        sent = svc.sending.send(me, draft, hold=hold, at=at)
    except GroupwareError as refused:  # the quota, a recipient, a size, an address
        flash(str(refused), "error")
        return _compose_page(form)
    draft_uid = _int(form.draft_uid.data)
    if draft_uid is not None:
        svc.sending.discard_draft(me, draft_uid)
    if sent.held is not None and at is not None:
        flash(f"Scheduled for {full_date(at)}: it waits in the Outbox until then.", "ok")
    else:
        flash("Sent.", "ok")
        if sent.held is not None:
            seconds = (
                int((sent.release_at - datetime.now(UTC)).total_seconds()) if sent.release_at else 0
            )
            flash(f"{sent.held}:{max(seconds, 1)}", "undo")  # base.html offers Undo meanwhile
        elif not sent.kept:
            flash("No copy was kept in Sent: the mailbox is full or has no Sent folder.", "error")
    return redirect(url_for("mail.folder", mailbox=INBOX))


@blueprint.post("/draft")
def save_draft() -> Response | tuple[Response, int]:
    """Keep what is written as a draft, for mail.js as one types (files chosen but not
    sent are not kept: they go when the message is sent or saved by hand). Answers
    {"draft": uid}."""
    form = ComposeForm()
    if not form.validate_on_submit():
        return jsonify(error="the form is out of date: reload the page"), 400
    try:
        draft = _draft(form, uploads=False, draft_files=False)
        uid = services().sending.save_draft(principal(), draft, _int(form.draft_uid.data))
    except GroupwareError as refused:
        return jsonify(error=str(refused)), 400
    return jsonify(draft=uid)


@blueprint.get("/addresses")
def addresses() -> Response:
    """Recipients to offer for what is typed (`q`): {"suggestions": ["Ann <a@b>", …]}."""
    found = services().suggestions.suggest(principal(), request.args.get("q", ""))
    response = jsonify(suggestions=[s.text for s in found])
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/outbox")
def outbox() -> str:
    """The messages that wait to be sent: for the undo window, or scheduled."""
    me, svc = principal(), services()
    return render_template(
        "outbox.html",
        folders=ordered(svc.mailboxes.list_all(me)),
        mailbox="",
        waiting=svc.sending.waiting(me),
        action=ActionForm(),
    )


@blueprint.post("/outbox/<int:held>/undo")
def undo(held: int) -> Response:
    """Take a waiting message back: it becomes a draft, opened to be edited."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("mail.outbox"))
    try:
        uid = services().sending.cancel(principal(), held)
    except NotFound:
        flash("Too late: that message is sent already.", "error")
        return redirect(url_for("mail.folder", mailbox=INBOX))
    except GroupwareError as refused:  # no room for the draft: it waits on as it was
        flash(f"It was not taken back: {refused}", "error")
        return redirect(url_for("mail.outbox"))
    flash("Not sent: the message is a draft again.", "ok")
    return redirect(url_for("mail.compose", draft=uid))


def _draft(form: ComposeForm, *, uploads: bool = True, draft_files: bool = True) -> Draft:
    return Draft(
        to=form.to.data or "",
        cc=form.cc.data or "",
        bcc=form.bcc.data or "",
        subject=form.subject.data or "",
        body=form.body.data or "",
        in_reply_to=form.in_reply_to.data or None,
        references=tuple((form.references.data or "").split()),
        files=_files(form, uploads=uploads, draft_files=draft_files),
        sender=form.sender.data or "",
        markdown=bool(form.markdown.data),
    )


def _files(form: ComposeForm, *, uploads: bool, draft_files: bool) -> tuple[File, ...]:
    """The files chosen in the form (`uploads`), then those of the draft (`draft_files`)
    or, before there is a draft, of a forwarded message (or the message itself);
    InvalidInput once they pass what one message may carry."""
    allowed = limit = services().sending.max_message_bytes * 3 // 4
    files: list[File] = []
    for upload in (form.attach.data or []) if uploads else []:
        if not isinstance(upload, FileStorage) or not upload.filename:
            continue  # the empty file input of a form sent without files
        content = upload.stream.read(limit + 1)
        files.append(File(upload.filename, upload.mimetype or "", content))
        limit -= len(content)
        if limit < 0:
            raise InvalidInput(f"the attachments are too big: at most {file_size(allowed)} in all")
    me, view = principal(), services().mail_view
    folder, uid = _carried(form)
    if folder is None or uid is None or (folder == _drafts() and not draft_files):
        return tuple(files)
    if form.forward_whole.data and folder != _drafts():
        files.append(File("forwarded.eml", "message/rfc822", view.source(me, folder, uid)))
    else:
        files += view.files(me, folder, uid)
    return tuple(files)


def _carried(form: ComposeForm) -> tuple[str | None, int | None]:
    """The message whose files go with this one: the draft's, else the forwarded one's."""
    if _int(form.draft_uid.data) is not None:
        return _drafts(), _int(form.draft_uid.data)
    return form.forward_folder.data or None, _int(form.forward_uid.data)


def _compose_page(form: ComposeForm) -> str:
    me, svc = principal(), services()
    identities = svc.identities.list_all(me)
    form.sender.choices = [
        SelectChoice(i.address, f"{i.name} <{i.address}>" if i.name else i.address)
        for i in identities
    ]
    carried = None
    folder, uid = _carried(form)
    if folder is not None and uid is not None:
        carried = svc.mail_view.open(me, folder, uid)
    return render_template(
        "compose.html",
        folders=ordered(svc.mailboxes.list_all(me)),
        mailbox="",
        form=form,
        carried=carried,
        forwarding=bool(form.forward_uid.data) and not form.draft_uid.data,
        signatures={i.address: i.signature for i in identities},
        upload_limit=svc.sending.max_message_bytes * 3 // 4,
    )


def _fill_reply(form: ComposeForm, original: Opened, *, to_all: bool, signature: str) -> None:
    me = principal().address
    to = [a for a in original.reply_to if a != me] or list(original.reply_to)
    form.to.data = ", ".join(to)
    if to_all:
        form.cc.data = ", ".join(a for a in original.others if a != me and a not in to)
    subject = original.subject
    form.subject.data = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    quoted = "\n".join("> " + line for line in original.text.splitlines())
    written = f"On {full_date(original.date)}, {original.sender} wrote:"
    form.body.data = f"{signature}\n\n{written}\n{quoted}\n"
    form.in_reply_to.data = original.message_id or ""
    form.references.data = " ".join([*original.references, *filter(None, [original.message_id])])


def _fill_forward(form: ComposeForm, original: Opened, mailbox: str, *, signature: str) -> None:
    """A forward: the original's text under its headers, its files attached on sending."""
    subject = original.subject
    form.subject.data = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
    heading = [
        "---------- Forwarded message ----------",
        f"From: {original.sender}",
        f"Date: {full_date(original.date)}",
        f"Subject: {subject}",
        f"To: {original.to}",
        *([f"Cc: {original.cc}"] if original.cc else []),
    ]
    form.body.data = f"{signature}\n\n" + "\n".join(heading) + "\n\n" + original.text
    form.forward_folder.data = mailbox
    form.forward_uid.data = str(original.uid)


def _fill_draft(form: ComposeForm, draft: Opened) -> None:
    """A draft taken up again: everything as it was saved, its files with it."""
    form.sender.data = draft.reply_to[0] if draft.reply_to else form.sender.data
    form.to.data, form.cc.data, form.bcc.data = draft.to, draft.cc, draft.bcc
    form.subject.data = draft.subject
    form.body.data = draft.text
    form.in_reply_to.data = draft.in_reply_to or ""
    form.references.data = " ".join(draft.references)
    form.draft_uid.data = str(draft.uid)
    form.markdown.data = draft.html  # a formatted draft keeps its Markdown as its text


def _send_at(form: ComposeForm) -> datetime:
    """The form's "Send at" (the browser's local time, `tz_offset` minutes behind UTC)."""
    try:
        local = datetime.fromisoformat(form.send_at.data or "")
        offset = int(form.tz_offset.data or 0)
    except ValueError:
        raise InvalidInput("choose a date and time to send at") from None
    if local.tzinfo is not None or not -900 <= offset <= 900:
        raise InvalidInput("choose a date and time to send at")
    try:
        return (local + timedelta(minutes=offset)).replace(tzinfo=UTC)
    except OverflowError:  # a year 9999 or 1 moved past the calendar's end
        raise InvalidInput("choose a date and time to send at") from None


def _drafts() -> str:
    found = services().mailboxes.special_folder(principal(), "\\Drafts")
    if found is None:
        raise NotFound("no Drafts folder")
    return found


def _int(text: str | None) -> int | None:
    """A number a form field holds (ASCII digits: "²" is a digit to str.isdigit)."""
    return int(text) if text and NUMBER.fullmatch(text) else None
