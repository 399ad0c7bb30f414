"""The portal's contacts: the cards of a user's address books (their own, shared with
them, the company directory) listed and searched as one types, the contact form (several
addresses and numbers, postal address, organisation, birthday, notes, photo, groups),
groups, and .vcf import and export. Through services.addressbooks, which reaches a book
only among the user's own and those shared with them (404 for anyone else's).
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from groupware.errors import InvalidInput, NotFound, TryLater
from groupware.mime import vcardform
from groupware.web.calendar import DAY
from groupware.web.context import (
    attempt,
    download,
    login_gate,
    principal,
    services,
    uploaded_text,
)
from groupware.web.forms import ActionForm

blueprint = Blueprint("contacts", __name__, url_prefix="/contacts")
MAX_IMPORT_BYTES = 20_000_000
FILE_POLICY = "sandbox; default-src 'none'"


@blueprint.before_request
def logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def home() -> str:
    me = principal()
    books = services().addressbooks.books(me)
    chosen = request.args.get("book", "")
    shown = [b for b in books if b.path == chosen] or books
    query = request.args.get("q", "")[:200]
    cards, total = services().addressbooks.cards(me, shown, query)
    template = "_contactlist.html" if request.args.get("part") == "list" else "contacts.html"
    return render_template(
        template,
        books=books,
        chosen=chosen,
        query=query,
        cards=cards,
        total=total,
        writable=[b for b in books if b.writable],
        action=ActionForm(),
    )


@blueprint.get("/contact")
def contact_form() -> str:
    me = principal()
    book_service = services().addressbooks
    books = [b for b in book_service.books(me) if b.writable]
    path, href = request.args.get("c", ""), request.args.get("h", "")
    if href:
        book, item = book_service.card(me, path, href)
        try:
            fields = vcardform.contact_fields(item.text)
            brief = vcardform.brief(item.text)
        except vcardform.FormError:
            abort(404)
        groups = [c for c in book_service.cards(me, [book])[0] if c.brief.group]
        member_of = {c.href for c in groups if brief.uid in c.brief.members}
        has_photo = brief.has_photo
    else:
        book, fields, groups, member_of, has_photo = (
            None,
            vcardform.ContactFields(""),
            [],
            set(),
            False,
        )
    return render_template(
        "contact.html",
        fields=fields,
        book=book,
        href=href,
        books=books,
        chosen=book.path if book else (books[0].path if books else ""),
        groups=groups,
        member_of=member_of,
        has_photo=has_photo,
        action=ActionForm(),
    )


@blueprint.post("/contact")
def save_contact() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    book_service = services().addressbooks
    path, href = request.form.get("c", ""), request.form.get("h", "")
    try:
        fields = _fields()
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(request.referrer or url_for("contacts.home"))
    if href:
        saved = attempt(lambda: book_service.edit(me, path, href, fields), "Contact saved.")
        uid_text = book_service.card(me, path, href)[1].text
    else:
        path = request.form.get("book", "")
        new = attempt(lambda: book_service.create(me, path, fields), "Contact saved.")
        saved = new
        uid_text = book_service.card(me, path, new)[1].text if new else ""
    if saved is None and not href:
        return redirect(request.referrer or url_for("contacts.home"))
    if uid_text and "groups-shown" in request.form:
        uid = vcardform.brief(uid_text).uid
        wanted = set(request.form.getlist("group"))
        attempt(lambda: book_service.set_groups(me, path, uid, wanted), "Contact saved.")
    return redirect(url_for("contacts.home", book=path))


@blueprint.post("/delete")
def delete_contact() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path, href = request.form.get("c", ""), request.form.get("h", "")
    services().addressbooks.card(me, path, href)
    attempt(lambda: services().addressbooks.delete(me, path, href), "Contact deleted.")
    return redirect(url_for("contacts.home"))


@blueprint.post("/group")
def new_group() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path, name = request.form.get("book", ""), request.form.get("name", "")[:200]
    attempt(lambda: services().addressbooks.create_group(me, path, name), f"Group {name} made.")
    return redirect(url_for("contacts.home", book=path))


@blueprint.get("/photo")
def photo() -> Response:
    me = principal()
    _, item = services().addressbooks.card(me, request.args.get("c", ""), request.args.get("h", ""))
    try:
        found = vcardform.photo_of(item.text)
    except vcardform.FormError:
        found = None
    if found is None:
        abort(404)
    data, kind = found
    return Response(
        data,
        mimetype=kind,
        headers={
            "Content-Security-Policy": FILE_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
        },
    )


@blueprint.get("/export")
def export() -> Response:
    me = principal()
    book, text = services().addressbooks.export(me, request.args.get("c", ""))
    return download(text, "text/vcard", book.title, ".vcf")


@blueprint.post("/import")
def import_file() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    me = principal()
    path = request.form.get("book", "")
    try:
        text = uploaded_text("file", MAX_IMPORT_BYTES, "vCard text")
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(url_for("contacts.home"))
    try:
        stored = services().addressbooks.import_vcf(me, path, text)
    except (InvalidInput, NotFound, TryLater) as error:
        flash(str(error), "error")
    else:
        flash(f"{stored} contacts imported.", "ok")
    return redirect(url_for("contacts.home", book=path))


def _fields() -> vcardform.ContactFields:
    form = request.form
    birthday_text = form.get("birthday", "").strip()
    birthday: date | None = _birthday(birthday_text) if birthday_text else None
    if birthday_text and birthday is None:
        raise InvalidInput("Birthday: not a date")
    upload = request.files.get("photo")
    photo = None
    if upload is not None and upload.filename:
        photo = upload.stream.read(vcardform.MAX_PHOTO + 1)
    elif form.get("remove_photo"):
        photo = b""
    return vcardform.ContactFields(
        name=form.get("name", "")[: vcardform.MAX_TEXT + 1],
        emails=_lines(form.get("email", "")),
        phones=_lines(form.get("phone", "")),
        address=form.get("address", "")[: vcardform.MAX_TEXT + 1],
        organisation=form.get("organisation", "")[: vcardform.MAX_TEXT + 1],
        birthday=birthday,
        notes=form.get("notes", "")[: vcardform.MAX_TEXT + 1],
        photo=photo,
    )


def _birthday(value: str) -> date | None:
    """A YYYY-MM-DD day, of any year (people were born before the calendar's 1900)."""
    if not DAY.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _lines(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in re.split(r"[\r\n,;]+", value) if part.strip())[:50]
