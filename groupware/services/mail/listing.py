"""The portal's view of a mailbox: one window of its messages, newest first, and one
message as a reader sees it.

A window is read by keyset on UID (the store's order: arrival), from the columns kept
for search and sort, so a page of a 100,000-message folder costs what a page of a small
one does: never a full-folder read, never a parse. Opening a message reads its stored
parse (decoded headers, the body structure) and its text parts, and marks it \\Seen, as
an IMAP client's FETCH of the body does, so every other client sees it read.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from groupware.errors import InvalidInput, NotFound
from groupware.mime.authresults import Verdicts, our_verdicts
from groupware.mime.compose import File
from groupware.mime.html import clean_html, has_remote_images, html_part
from groupware.mime.parse import ParsedMessage
from groupware.mime.structure import Address, BodyPart, attachments
from groupware.mime.text import calendar_text, decode_transfer, extract_text
from groupware.model.mail import Mailbox, Message
from groupware.services.core.access import Principal
from groupware.services.core.events import EventHub, MailboxEvent
from groupware.services.mail.fetch import MessageFetch, Summary
from groupware.services.mail.mailboxes import Mailboxes, normalize_name, own_mailboxes
from groupware.services.mail.messages import Messages
from groupware.services.mail.query import parse_query
from groupware.services.mail.rows import STATE_COLUMNS, address_text
from groupware.services.mail.search import MailSearch
from groupware.store import Database
from groupware.store.mail import flag_names, mailbox_by_name

MAX_WINDOW = 200  # messages in one window, whatever is asked
MAX_CONVERSATION = 200  # messages one conversation shows
MAX_PAGE = 10_000  # windows into a sorted folder, whatever a URL says
ARRIVAL = "date"  # the list's own order: newest first, as the store keeps them
# The other orders: sender and subject A to Z (whatever their case), the biggest first.
SORTS: dict[str, tuple[Any, ...]] = {
    ARRIVAL: (),
    "from": (func.lower(Message.from_),),
    "subject": (func.lower(Message.subject),),
    "size": (Message.size.desc(),),
}
TRASH, ARCHIVE, JUNK = "\\Trash", "\\Archive", "\\Junk"  # RFC 6154 special uses
MAX_UID = 2**32 - 1  # RFC 9051 §2.3.1.1: a UID is a 32-bit number
SEEN, FLAGGED = "\\Seen", "\\Flagged"


@dataclass(frozen=True)
class Listed:
    """One row of a message list."""

    uid: int
    flags: frozenset[str]
    size: int
    date: datetime  # when it was written (Date:), else when it arrived
    sender: str  # the From: addresses, "Name <address>, …"
    subject: str
    attachments: bool  # it carries files (the list's paperclip)
    thread: str | None = None  # its conversation (mime/threads.py conversation_key)
    # In a list by conversation: the UIDs of this window's messages of its conversation
    # (newest first, this one first), and whether any of them is unread.
    together: tuple[int, ...] = ()
    any_unread: bool = False

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags


@dataclass(frozen=True)
class Window:
    """Messages in the order asked. Newest first, `older` is the `before` of the next
    window; in another order, `next_page` is the next window's number (None: no more)."""

    messages: tuple[Listed, ...]
    older: int | None = None
    next_page: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A file a message carries, as the reader lists it."""

    section: str  # its part number, "2" or "1.3" (RFC 3501 §6.4.5)
    filename: str
    mime_type: str
    size: int  # octets once decoded (estimated from the encoded size)


@dataclass(frozen=True)
class Download:
    """An attachment's decoded content and the name to save it under."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Opened:
    """A message as the reader shows it: decoded headers and its text."""

    uid: int
    flags: frozenset[str]
    date: datetime
    sender: str
    to: str
    cc: str
    bcc: str  # a draft's (a message received says none)
    subject: str
    text: str
    attachments: tuple[Attachment, ...]
    html: bool  # it has an HTML body, which `html` gives cleaned
    remote_images: bool  # its HTML shows images from the network (not loaded unasked)
    head: str  # the header section as it arrived, for "All headers"
    verdicts: Verdicts | None  # what our SMTP listener's checks found (None: not checked)
    author: str | None  # the first From: address
    reply_to: tuple[str, ...]  # where a reply goes: Reply-To, else From
    others: tuple[str, ...]  # the To: and Cc: addresses (a reply to all adds them)
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    calendar: str | None = None  # its text/calendar part (an invitation, a reply)

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags


@dataclass(frozen=True)
class Found:
    """A message a search found, and its folder."""

    mailbox: str
    message: Listed


class MailView:
    def __init__(
        self,
        database: Database,
        fetch: MessageFetch,
        messages: Messages,
        mailboxes: Mailboxes,
        search: MailSearch,
        events: EventHub,
        hostname: str,
    ) -> None:
        self._events = events
        self._hostname = hostname  # whose Authentication-Results fields count
        self._db = database
        self._fetch = fetch
        self._messages = messages
        self._mailboxes = mailboxes
        self._search = search

    def window(
        self,
        actor: Principal,
        mailbox: str,
        *,
        before: int | None = None,
        size: int = 50,
        sort: str = ARRIVAL,
        page: int = 0,
    ) -> Window:
        """The `size` newest messages of `mailbox` below UID `before` (None: the newest),
        read by keyset on UID; or, sorted by sender, subject or size (SORTS), window
        number `page` (by offset: the sort is the database's, over the folder's rows)."""
        user_id = own_mailboxes(actor)
        size = max(1, min(size, MAX_WINDOW))
        if sort not in SORTS:
            raise InvalidInput(f"messages cannot be sorted by {sort!r}")
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            query = _LISTED.where(Message.mailbox_id == box.id)
            if sort == ARRIVAL:
                if before is not None:
                    before = max(1, min(before, MAX_UID + 1))  # whatever a URL says
                    query = query.where(Message.uid < before)
                query = query.order_by(Message.uid.desc())
            else:
                page = max(0, min(page, MAX_PAGE))
                query = query.order_by(*SORTS[sort], Message.uid.desc()).offset(page * size)
            rows = session.execute(query.limit(size + 1)).all()
        listed = tuple(_listed(row) for row in rows[:size])
        more = len(rows) > size
        if sort == ARRIVAL:
            return Window(listed, older=listed[-1].uid if more else None)
        return Window(listed, next_page=page + 1 if more else None)

    def neighbours(self, actor: Principal, mailbox: str, uid: int) -> tuple[int | None, int | None]:
        """The UIDs of the messages just newer and just older than `uid` in the list's
        order (None at either end): where j and k go from the reader."""
        user_id = own_mailboxes(actor)
        uid = max(0, min(uid, MAX_UID))
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            mine = Message.mailbox_id == box.id
            newer = session.scalar(select(func.min(Message.uid)).where(mine, Message.uid > uid))
            older = session.scalar(select(func.max(Message.uid)).where(mine, Message.uid < uid))
        return newer, older

    def conversation(self, actor: Principal, mailbox: str, uid: int) -> list[Found]:
        """The messages of message `uid`'s conversation in all of the user's folders
        (replies kept in Sent too), oldest first; [] when it has none but itself."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            box = mailbox_by_name(session, user_id, normalize_name(mailbox))
            thread = session.scalar(
                select(Message.thread).where(Message.mailbox_id == box.id, Message.uid == uid)
            )
            if thread is None:
                return []
            rows = session.execute(
                select(Mailbox.name, *_LISTED.selected_columns)
                .join(Mailbox, Mailbox.id == Message.mailbox_id)
                .where(Mailbox.user_id == user_id, Message.thread == thread)
                .limit(MAX_CONVERSATION)
            ).all()
        found = [Found(row[0], _listed(row[1:])) for row in rows]
        found.sort(key=lambda f: f.message.date)
        return found if len(found) > 1 else []

    def watch(
        self, actor: Principal, listener: Callable[[MailboxEvent], None]
    ) -> Callable[[], None]:
        """Call `listener` (in the publishing thread: it must not block) with every
        change to the user's mail from now on; returns the function that stops it."""
        return self._events.subscribe(own_mailboxes(actor), listener)

    def search(self, actor: Principal, text: str, *, limit: int = 100) -> list[Found]:
        """The newest `limit` messages matching the search box's `text` (query.py), in
        every folder (one query for all) unless it names one with `in:`; newest first."""
        query = parse_query(text)
        found: list[Found] = []
        if query.folder is None:
            columns = list(_LISTED.selected_columns)
            found = [
                Found(row[0], _listed(row[1:]))
                for row in self._search.newest(actor, query.key, columns, limit)
            ]
        else:
            uids = self._search.search(actor, query.folder, query.key)[-limit:]
            if uids:
                user_id = own_mailboxes(actor)
                with self._db.read() as session:
                    box = mailbox_by_name(session, user_id, normalize_name(query.folder))
                    found = [
                        Found(box.name, _listed(row))
                        for row in session.execute(
                            _LISTED.where(Message.mailbox_id == box.id, Message.uid.in_(uids))
                        )
                    ]
        found.sort(key=lambda f: f.message.date, reverse=True)
        return found

    def open(self, actor: Principal, mailbox: str, uid: int) -> Opened:
        """Message `uid` of `mailbox`, marked \\Seen; NotFound when there is none."""
        summary, parsed, content = self._whole(actor, mailbox, uid)
        flags = summary.flags
        if SEEN not in flags:
            self._messages.store_flags(actor, mailbox, [uid], "add", [SEEN])
            flags = flags | {SEEN}
        html = html_part(parsed.body)
        head = content[: parsed.body.body_start].decode("utf-8", "replace")
        return Opened(
            uid=uid,
            flags=flags,
            date=parsed.sent_date or summary.internal_date,
            sender=address_text(parsed.from_),
            to=address_text(parsed.to),
            cc=address_text(parsed.cc),
            bcc=address_text(parsed.bcc),
            subject=parsed.subject,
            text=extract_text(content, parsed.body),
            attachments=tuple(
                _attachment(section, part) for section, part in attachments(parsed.body)
            ),
            html=html is not None,
            remote_images=html is not None and has_remote_images(content, html),
            head=head,
            verdicts=our_verdicts(head, self._hostname),
            author=next(iter(_plain(parsed.from_)), None),
            reply_to=_plain(parsed.reply_to or parsed.from_),
            others=_plain((*parsed.to, *parsed.cc)),
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            calendar=calendar_text(content, parsed.body),
        )

    def html(self, actor: Principal, mailbox: str, uid: int, *, remote: bool = False) -> str:
        """The HTML body of message `uid`, cleaned (mime/html.py), with its own images
        and with remote ones if `remote`; NotFound when there is no such message or it
        has none. Reading it changes no flag: opening does."""
        _, parsed, content = self._whole(actor, mailbox, uid)
        part = html_part(parsed.body)
        if part is None:
            raise NotFound(f"message {uid} has no HTML")
        return clean_html(content, part, parsed.body, remote=remote)

    def attachment(self, actor: Principal, mailbox: str, uid: int, section: str) -> Download:
        """The attachment at `section` of message `uid`, decoded; NotFound when the
        message has no attachment there."""
        _, parsed, content = self._whole(actor, mailbox, uid)
        for number, part in attachments(parsed.body):
            if _section_text(number) == section:
                return Download(_attachment(number, part).filename, _decoded(content, part))
        raise NotFound(f"no attachment {section} in message {uid}")

    def files(self, actor: Principal, mailbox: str, uid: int) -> list[File]:
        """Every attachment of message `uid`, decoded, as a message being written
        carries them on (a forward, a draft taken up); one read, no flag changed."""
        _, parsed, content = self._whole(actor, mailbox, uid)
        return [
            File(_attachment(number, part).filename, part.mime_type, _decoded(content, part))
            for number, part in attachments(parsed.body)
        ]

    def source(self, actor: Principal, mailbox: str, uid: int) -> bytes:
        """Message `uid` as it is stored, for "Show source" and "as attachment"."""
        return self._whole(actor, mailbox, uid)[2]

    def _whole(
        self, actor: Principal, mailbox: str, uid: int
    ) -> tuple[Summary, ParsedMessage, bytes]:
        """Message `uid` with its stored parse and its bytes; NotFound when there is none
        (a UID no message can have included)."""
        if 0 < uid <= MAX_UID:
            found = self._fetch.summaries(actor, mailbox, [uid], parse=True, content=True)
            if found and found[0].parsed is not None and found[0].content is not None:
                return found[0], found[0].parsed, found[0].content
        raise NotFound(f"no message {uid} in {mailbox}")

    # -- what a reader does with messages ----------------------------------------------

    def mark(
        self, actor: Principal, mailbox: str, uids: Sequence[int], flag: str, *, on: bool
    ) -> None:
        """Set or clear `flag` (SEEN or FLAGGED) on `uids`, as every client then sees."""
        if flag not in (SEEN, FLAGGED):
            raise InvalidInput(f"{flag} is not a flag the reader sets")
        mode = "add" if on else "remove"
        self._messages.store_flags(actor, mailbox, _sane(uids), mode, [flag])

    def move(self, actor: Principal, mailbox: str, uids: Sequence[int], target: str) -> None:
        """Move `uids` to the user's folder `target` (NotFound when there is none)."""
        if normalize_name(target) != normalize_name(mailbox):
            self._messages.copy(actor, mailbox, _sane(uids), target, move=True)

    def file(self, actor: Principal, mailbox: str, uids: Sequence[int], use: str) -> str:
        """Move `uids` to the user's folder of special use `use` (TRASH, ARCHIVE, JUNK,
        RFC 6154) and return its name. Deleting in the Trash deletes for good.
        NotFound when the user has no such folder."""
        uids = _sane(uids)
        target = self._mailboxes.special_folder(actor, use)
        if target is None:
            raise NotFound(f"no {use} folder")
        if target == normalize_name(mailbox):
            if use == TRASH:
                self._messages.delete(actor, mailbox, uids)
            return target
        self._messages.copy(actor, mailbox, uids, target, move=True)
        return target


# A list row: the state, the date written, sender and subject (columns kept for sorting)
# and the stored parse, for its count of attachments.
_LISTED = select(
    *STATE_COLUMNS,
    Message.sent_date,
    Message.from_,
    Message.subject,
    Message.parsed,
    Message.thread,
)
# Control characters (C0, C1) and the bidirectional controls that make "exe.pdf" of
# "pdf.exe": never in a file name shown or saved.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ATTACHMENTS = re.compile(r'"attachments":\s*([1-9])')  # in ParsedMessage.to_json's JSON


def _listed(row: Any) -> Listed:
    """A row of `_LISTED` as a list shows it."""
    uid, _, bits, keywords, octets, arrived, sent, sender, subject, parsed, thread = row
    files = _ATTACHMENTS.search(parsed or "") is not None
    flags = flag_names(bits, keywords)
    return Listed(uid, flags, octets, sent or arrived, sender, subject, files, thread)


def by_conversation(messages: Sequence[Listed]) -> tuple[Listed, ...]:
    """`messages` with each conversation's messages gathered under its first (newest)
    one, which says which they are (`together`) and whether any is unread."""
    groups: dict[object, list[Listed]] = {}
    for message in messages:
        groups.setdefault(message.thread or ("alone", message.uid), []).append(message)
    return tuple(
        replace(
            group[0],
            together=tuple(m.uid for m in group),
            any_unread=any(not m.seen for m in group),
        )
        for group in groups.values()
    )


def _attachment(section: tuple[int, ...], part: BodyPart) -> Attachment:
    """How the reader lists a part: its own name, else one made of its number and type."""
    size = part.size * 3 // 4 if part.encoding.lower() == "base64" else part.size
    kind = part.mime_type
    name = _CONTROLS.sub("", " ".join((part.filename or "").split()))
    name = name.replace("/", "_").replace("\\", "_").strip(" .")
    if not name:
        extension = ".eml" if kind == "message/rfc822" else mimetypes.guess_extension(kind) or ""
        name = f"attachment-{_section_text(section)}{extension}"
    return Attachment(_section_text(section), name[:200], kind, size)


def _decoded(content: bytes, part: BodyPart) -> bytes:
    """A part's content decoded (in an encoding nobody knows: the octets as they are)."""
    raw = content[part.body_start : part.body_end]
    decoded = decode_transfer(raw, part.encoding)
    return raw if decoded is None else decoded


def _section_text(section: tuple[int, ...]) -> str:
    return ".".join(map(str, section))


def _sane(uids: Sequence[int]) -> list[int]:
    """The UIDs that can name a message (a URL or a form may say anything)."""
    return [uid for uid in uids if 0 < uid <= MAX_UID]


def _plain(addresses: Sequence[Address]) -> tuple[str, ...]:
    """The addresses themselves ("a@b"), each once, group markers left out."""
    found = (f"{a.mailbox}@{a.host}" for a in addresses if a.mailbox and a.host)
    return tuple(dict.fromkeys(found))
