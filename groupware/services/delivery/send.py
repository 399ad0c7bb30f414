"""Mail a user writes in the portal, sent as SMTP submission sends what a client wrote:
the same author check (services/transport/submission.py), the router for every
recipient, full mailboxes reported to the sender, and a copy in the user's Sent folder.
Everything is durable before `send` returns, so "sent" is said only then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

from groupware import spool
from groupware.errors import GroupwareError, InvalidInput, NotFound
from groupware.mime.compose import MAX_SUBJECT, File, compose_message
from groupware.services.core.access import Principal
from groupware.services.core.addresses import normalize_address
from groupware.services.delivery.bounces import Bounces
from groupware.services.delivery.local import LocalDelivery
from groupware.services.delivery.route import MailRouter
from groupware.services.directory.accounts import Directory
from groupware.services.mail.mailboxes import Mailboxes
from groupware.services.mail.messages import Messages
from groupware.services.transport import provenance
from groupware.services.transport.submission import Submission

log = logging.getLogger(__name__)
MAX_TEXT = 1024 * 1024  # characters of a message's text
SENT = "\\Sent"


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


class WebSending:
    def __init__(
        self,
        local: LocalDelivery,
        router: MailRouter,
        bounces: Bounces,
        submission: Submission,
        directory: Directory,
        mailboxes: Mailboxes,
        messages: Messages,
        max_recipients: int,
        max_message_bytes: int,
    ) -> None:
        self._local = local
        self._router = router
        self._bounces = bounces
        self._submission = submission
        self._directory = directory
        self._mailboxes = mailboxes
        self._messages = messages
        self._max_recipients = max_recipients  # as one SMTP transaction takes
        self.max_message_bytes = max_message_bytes  # as SMTP takes (attachments grow 4/3)

    def send(self, actor: Principal, draft: Draft) -> bool:
        """Send `draft` from the user's own address; InvalidInput (nothing sent) for a
        recipient that is not an address, an unknown local one, none or too many, or a
        message bigger than SMTP would take. Once
        it is sent, what follows cannot unsend it: False when the copy in Sent could
        not be kept (the user's quota), a failed report of full mailboxes is logged."""
        to, cc, bcc = (addresses(field) for field in (draft.to, draft.cc, draft.bcc))
        everyone = list(dict.fromkeys((*to, *cc, *bcc)))
        if not everyone:
            raise InvalidInput("add at least one recipient")
        if len(everyone) > self._max_recipients:
            raise InvalidInput(f"at most {self._max_recipients} recipients")
        if len(draft.subject) > MAX_SUBJECT or len(draft.body) > MAX_TEXT:
            raise InvalidInput("the subject or the message is too long")
        recipients = []
        for address in everyone:
            try:
                recipients.append(self._local.resolve(address))
            except NotFound:
                raise InvalidInput(f"no such recipient: {address}") from None
        name = self._directory.get_user(actor, actor.address).display_name
        data = compose_message(
            actor.address,
            name,
            to,
            cc,
            draft.subject,
            draft.body,
            draft.in_reply_to,
            draft.references,
            files=draft.files,
        )
        if len(data) > self.max_message_bytes:
            megabytes = self.max_message_bytes // 1_000_000
            raise InvalidInput(f"the message is too big: at most {megabytes} MB with attachments")
        authors = self._submission.check_authors(actor, data)
        origin = provenance.submitted(actor.address, authors)
        path, out = spool.create(self._router.spool_folder, "web-")
        try:
            with out:
                out.write(data)
            report = self._router.route(path, recipients, actor.address, origin)
            if report.over_quota:
                failures = [(user, "", "452 4.2.2 Mailbox full") for user in report.over_quota]
                try:
                    self._bounces.report(actor.address, data, failures)
                except Exception:
                    log.exception("report of full mailboxes to <%s> failed", actor.address)
            return self._keep_copy(actor, path)
        finally:
            path.unlink(missing_ok=True)

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


def addresses(field: str) -> tuple[str, ...]:
    """The addresses of a recipient field as typed; InvalidInput for one that is not."""
    found = []
    for name, address in getaddresses([field.replace("\n", " ")]):
        if not address and not name:
            continue
        try:
            found.append(normalize_address(address))
        except InvalidInput:
            raise InvalidInput(f"not an e-mail address: {address or name}") from None
    return tuple(found)
