"""Mail a user writes in the portal, sent as SMTP submission sends what a client wrote:
the same author check (services/transport/submission.py), the router for every
recipient, full mailboxes reported to the sender, and a copy in the user's Sent folder.

A message may be held before it goes: for the user's undo window, or until the time they
chose (scheduled send). It waits in the database (held_messages), so it goes with the
tab closed; the outbound worker calls `release_due`. Undoing it turns it into a draft.
Everything is durable before `send` returns, so "sent" is said only then.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses
from pathlib import Path

from sqlalchemy import delete, func, select, update

from groupware import spool
from groupware.errors import GroupwareError, InvalidInput, NotFound, QuotaExceeded
from groupware.mime.compose import MAX_SUBJECT, File, compose_message
from groupware.mime.markdown import markdown_html
from groupware.model.base import utcnow
from groupware.model.webmail import HeldMessage
from groupware.services.auth.login import Auth
from groupware.services.core.access import Principal
from groupware.services.core.addresses import normalize_address
from groupware.services.delivery.bounces import Bounces
from groupware.services.delivery.identities import Identities
from groupware.services.delivery.local import LocalDelivery, Resolved
from groupware.services.delivery.route import MailRouter
from groupware.services.mail.listing import MailView
from groupware.services.mail.mailboxes import Mailboxes, own_mailboxes
from groupware.services.mail.messages import Messages
from groupware.services.transport import provenance
from groupware.services.transport.submission import Submission
from groupware.store import Database

log = logging.getLogger(__name__)
MAX_TEXT = 1024 * 1024  # characters of a message's text
MAX_HELD = 100  # messages one user may have waiting
HELD_MESSAGES_WORTH = 2  # …and octets: this many messages of the largest size SMTP takes
MAX_SCHEDULE = timedelta(days=366)
SENT, DRAFTS = "\\Sent", "\\Drafts"


@dataclass(frozen=True)
class Draft:
    """What the compose form holds: recipients as typed ("Name <a@b>, c@d")."""

    to: str
    cc: str
    bcc: str
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    files: tuple[File, ...] = ()  # attachments
    sender: str = ""  # the identity to send from ("": the user's default)
    markdown: bool = False  # the body is Markdown: sent as text and as HTML


@dataclass(frozen=True)
class Sent:
    """What became of a message sent: `held` (its id) while it waits until `release_at`;
    once gone, `kept` says whether a copy is in Sent."""

    kept: bool = True
    held: int | None = None
    release_at: datetime | None = None


@dataclass(frozen=True)
class Waiting:
    """A held message, as the user's Outbox lists it."""

    id: int
    subject: str
    recipients: tuple[str, ...]
    release_at: datetime
    scheduled: bool


class WebSending:
    def __init__(
        self,
        database: Database,
        local: LocalDelivery,
        router: MailRouter,
        bounces: Bounces,
        submission: Submission,
        identities: Identities,
        auth: Auth,
        mailboxes: Mailboxes,
        messages: Messages,
        view: MailView,
        max_recipients: int,
        max_message_bytes: int,
    ) -> None:
        self._db = database
        self._local = local
        self._router = router
        self._bounces = bounces
        self._submission = submission
        self._identities = identities
        self._auth = auth
        self._mailboxes = mailboxes
        self._messages = messages
        self._view = view
        self._max_recipients = max_recipients  # as one SMTP transaction takes
        self.max_message_bytes = max_message_bytes  # as SMTP takes (attachments grow 4/3)

    def send(
        self,
        actor: Principal,
        draft: Draft,
        *,
        hold: timedelta = timedelta(0),
        at: datetime | None = None,
    ) -> Sent:
        """Send `draft` from one of the user's identities, at once, after `hold` (undo)
        or `at` a time (scheduled). InvalidInput (nothing sent) for a recipient that is
        not an address, an unknown local one, none or too many, a message bigger than
        SMTP would take, or a time past or too far. Once it is sent, what follows cannot
        unsend it: a copy in Sent that could not be kept is said, a failed report of
        full mailboxes is logged."""
        now = utcnow()
        if at is not None and not now < at <= now + MAX_SCHEDULE:
            raise InvalidInput("choose a time to send in the coming year")
        data, everyone = self._compose(actor, draft)
        self._resolve(everyone)  # refused now, not when it is released
        release = at or (now + hold if hold > timedelta(0) else None)
        if release is None:
            return Sent(kept=self._dispatch(actor, data, everyone))
        user_id = own_mailboxes(actor)
        quota = self._mailboxes.quota(actor)
        with self._db.write() as session:
            count, held_bytes = session.execute(
                select(
                    func.count(), func.coalesce(func.sum(func.length(HeldMessage.data)), 0)
                ).where(HeldMessage.user_id == user_id)
            ).one()
            if count >= MAX_HELD:
                raise InvalidInput(f"at most {MAX_HELD} messages may wait to be sent")
            # What waits is the user's: it counts against the quota, and a user may hold
            # a few messages' worth at most, whatever the quota.
            waiting = held_bytes + len(data)
            limit = quota.limit_bytes
            if waiting > HELD_MESSAGES_WORTH * self.max_message_bytes or (
                limit and quota.used_bytes + waiting > limit
            ):
                raise QuotaExceeded("no room for one more message waiting to be sent")
            row = HeldMessage(
                user_id=user_id,
                release_at=release,
                subject=" ".join(draft.subject.split())[:200],
                recipients=" ".join(everyone),
                data=data,
                scheduled=at is not None,
            )
            session.add(row)
            session.flush()
            held = row.id
        return Sent(held=held, release_at=release)

    def waiting(self, actor: Principal) -> list[Waiting]:
        """The user's held messages, the soonest first."""
        user_id = own_mailboxes(actor)
        with self._db.read() as session:
            rows = session.execute(
                select(
                    HeldMessage.id,
                    HeldMessage.subject,
                    HeldMessage.recipients,
                    HeldMessage.release_at,
                    HeldMessage.scheduled,
                )
                .where(HeldMessage.user_id == user_id, HeldMessage.state == "held")
                .order_by(HeldMessage.release_at)
            ).all()
        return [Waiting(i, s, tuple(r.split()), at, sch) for i, s, r, at, sch in rows]

    def cancel(self, actor: Principal, held: int) -> int:
        """Take back held message `held`: it becomes a draft in Drafts (with its Bcc
        recipients), whose UID is returned. NotFound once it is gone (or going). If the
        draft cannot be kept (the quota), the message waits on as it was."""
        user_id = own_mailboxes(actor)
        mine = (HeldMessage.id == held) & (HeldMessage.user_id == user_id)
        with self._db.write() as session:
            claimed = session.execute(
                update(HeldMessage).where(mine, HeldMessage.state == "held").values(state="undoing")
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                raise NotFound("that message is sent already")
            data, recipients = session.execute(
                select(HeldMessage.data, HeldMessage.recipients).where(mine)
            ).one()
        try:
            # The message as written, with its blind recipients back as a Bcc: field.
            shown = _visible_recipients(data)
            bcc = [a for a in recipients.split() if a not in shown]
            if bcc:
                data = b"Bcc: " + ",\r\n ".join(f"<{a}>" for a in bcc).encode() + b"\r\n" + data
            uid = self._keep_draft(actor, data)
        except BaseException:
            with self._db.write() as session:
                session.execute(update(HeldMessage).where(mine).values(state="held"))
            raise
        with self._db.write() as session:
            session.execute(delete(HeldMessage).where(mine))
        return uid

    def release_due(self) -> int:
        """Send every held message whose time has come; returns how many went. Each is
        claimed ("sending") before it goes, so an undo can no longer take it."""
        now = utcnow()
        with self._db.read() as session:
            due = session.scalars(
                select(HeldMessage.id).where(
                    HeldMessage.state == "held", HeldMessage.release_at <= now
                )
            ).all()
        sent = 0
        for held in due:
            with self._db.write() as session:
                claimed = session.execute(
                    update(HeldMessage)
                    .where(HeldMessage.id == held, HeldMessage.state == "held")
                    .values(state="sending")
                )
            if claimed.rowcount:  # type: ignore[attr-defined]
                self._release(held)
                sent += 1
        return sent

    def recover(self) -> int:
        """At start: messages a crash caught while sending (or being taken back) wait
        again (sent once more rather than lost); returns how many."""
        with self._db.write() as session:
            result = session.execute(
                update(HeldMessage)
                .where(HeldMessage.state.in_(("sending", "undoing")))
                .values(state="held")
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def save_draft(self, actor: Principal, draft: Draft, replacing: int | None = None) -> int:
        """Keep `draft` in the user's Drafts folder (with its Bcc recipients and files),
        in place of draft `replacing`, whose files it keeps; returns its UID."""
        drafts = self._special(actor, DRAFTS)
        files = draft.files
        if replacing is not None:
            files = (*self._draft_files(actor, drafts, replacing), *files)
        identity = self._identities.choose(actor, draft.sender or actor.address)
        data = compose_message(
            identity.address,
            identity.name,
            addresses(draft.to, strict=False),
            addresses(draft.cc, strict=False),
            draft.subject[:MAX_SUBJECT],
            draft.body[:MAX_TEXT],
            draft.in_reply_to,
            draft.references,
            files=files,
            bcc=addresses(draft.bcc, strict=False),
            html=markdown_html(draft.body[:MAX_TEXT]) if draft.markdown else None,
        )
        uid = self._keep_draft(actor, data)
        if replacing is not None:
            self.discard_draft(actor, replacing)
        return uid

    def discard_draft(self, actor: Principal, uid: int) -> None:
        """Remove draft `uid` (sent, or replaced by a newer version)."""
        drafts = self._special(actor, DRAFTS)
        with contextlib.suppress(NotFound):  # gone already (another tab sent or saved it)
            self._messages.delete(actor, drafts, [uid])

    # -- inside ----------------------------------------------------------------------------

    def _compose(self, actor: Principal, draft: Draft) -> tuple[bytes, list[str]]:
        to, cc, bcc = (addresses(field) for field in (draft.to, draft.cc, draft.bcc))
        everyone = list(dict.fromkeys((*to, *cc, *bcc)))
        if not everyone:
            raise InvalidInput("add at least one recipient")
        if len(everyone) > self._max_recipients:
            raise InvalidInput(f"at most {self._max_recipients} recipients")
        if len(draft.subject) > MAX_SUBJECT or len(draft.body) > MAX_TEXT:
            raise InvalidInput("the subject or the message is too long")
        identity = self._identities.choose(actor, draft.sender or actor.address)
        data = compose_message(
            identity.address,
            identity.name,
            to,
            cc,
            draft.subject,
            draft.body,
            draft.in_reply_to,
            draft.references,
            files=draft.files,
            html=markdown_html(draft.body) if draft.markdown else None,
        )
        if len(data) > self.max_message_bytes:
            megabytes = self.max_message_bytes // 1_000_000
            raise InvalidInput(f"the message is too big: at most {megabytes} MB with attachments")
        self._submission.check_authors(actor, data)
        return data, everyone

    def _resolve(self, everyone: list[str]) -> list[Resolved]:
        recipients = []
        for address in everyone:
            try:
                recipients.append(self._local.resolve(address))
            except NotFound:
                raise InvalidInput(f"no such recipient: {address}") from None
        return recipients

    def _dispatch(self, actor: Principal, data: bytes, everyone: list[str]) -> bool:
        """Route `data` to `everyone` and keep a copy in Sent (False: none was kept)."""
        authors = self._submission.check_authors(actor, data)
        origin = provenance.submitted(actor.address, authors)
        recipients, failures = [], []
        for address in everyone:
            try:
                recipients.append(self._local.resolve(address))
            except NotFound:  # gone while the message was held
                failures.append((address, "", "550 5.1.1 No such recipient"))
        path, out = spool.create(self._router.spool_folder, "web-")
        try:
            with out:
                out.write(data)
            if recipients:
                report = self._router.route(path, recipients, actor.address, origin)
                failures += [(user, "", "452 4.2.2 Mailbox full") for user in report.over_quota]
            if failures:
                try:
                    self._bounces.report(actor.address, data, failures)
                except Exception:
                    log.exception("report of failed recipients to <%s> failed", actor.address)
            return self._keep_copy(actor, path)
        finally:
            path.unlink(missing_ok=True)

    def _release(self, held: int) -> None:
        with self._db.read() as session:
            row = session.get(HeldMessage, held)
            if row is None:
                return
            user_id, data, everyone = row.user_id, row.data, row.recipients.split()
        actor = self._auth.principal(user_id)
        try:
            if actor is not None:  # an account removed meanwhile sends nothing
                self._dispatch(actor, data, everyone)
        except GroupwareError as error:  # the account may no longer send as its author
            log.warning("held message %d of user %d not sent: %s", held, user_id, error)
        with self._db.write() as session:
            session.execute(delete(HeldMessage).where(HeldMessage.id == held))

    def _keep_copy(self, actor: Principal, path: Path) -> bool:
        sent = self._mailboxes.special_folder(actor, SENT)
        if sent is None:
            return False
        try:
            self._messages.append(actor, sent, path, flags=["\\Seen"])
        except GroupwareError as error:
            log.warning("no copy in Sent for %s: %s", actor.address, error)
            return False
        return True

    def _keep_draft(self, actor: Principal, data: bytes) -> int:
        drafts = self._special(actor, DRAFTS)
        path, out = spool.create(self._router.spool_folder, "draft-")
        try:
            with out:
                out.write(data)
            return self._messages.append(actor, drafts, path, flags=["\\Draft", "\\Seen"]).uid
        finally:
            path.unlink(missing_ok=True)

    def _draft_files(self, actor: Principal, drafts: str, uid: int) -> list[File]:
        try:
            return self._view.files(actor, drafts, uid)
        except NotFound:  # gone meanwhile (another tab sent it)
            return []

    def _special(self, actor: Principal, use: str) -> str:
        found = self._mailboxes.special_folder(actor, use)
        if found is None:
            raise NotFound(f"no {use} folder")
        return found


def addresses(field: str, *, strict: bool = True) -> tuple[str, ...]:
    """The addresses of a recipient field as typed; InvalidInput for one that is not
    (or, not `strict`, as for a draft, it is left out)."""
    found = []
    for name, address in getaddresses([field.replace("\n", " ")]):
        if not address and not name:
            continue
        try:
            found.append(normalize_address(address))
        except InvalidInput:
            if strict:
                raise InvalidInput(f"not an e-mail address: {address or name}") from None
    return tuple(found)


def _visible_recipients(data: bytes) -> set[str]:
    """The To: and Cc: addresses of a composed message."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("\r\n ", " ")
    fields = [
        line.split(":", 1)[1] for line in head.split("\r\n") if line[:3].lower() in ("to:", "cc:")
    ]
    return set(addresses(",".join(fields), strict=False))
