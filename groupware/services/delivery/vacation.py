"""Each user's vacation auto-reply (RFC 3834): the settings the owner edits, and
`replies` at delivery, which writes the answers to a sender at most once per `days`,
never to a list, a robot or a bounce; the router sends them with the null sender. Extend
`why_not` for more mail that must not be answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from groupware.errors import InvalidInput
from groupware.mime.compose import MAX_SUBJECT, compose_auto_reply, reply_subject
from groupware.mime.headerlines import addr_specs, header_values
from groupware.mime.parse import ParsedMessage
from groupware.model.base import utcnow
from groupware.model.delivery import Vacation as VacationRow
from groupware.model.delivery import VacationReply
from groupware.model.directory import User
from groupware.services.core import audit
from groupware.services.core.access import Principal
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.core.userset import UserSet
from groupware.services.directory.accounts import managed_user
from groupware.store import Database

log = logging.getLogger(__name__)

MAX_BODY = 20_000
MAX_DAYS = 365
# RFC 3834 §2: no replies to list administrivia, daemons or senders that take no answer.
ROBOT_SENDER = re.compile(
    r"(mailer-daemon|postmaster|listserv|majordomo|mailman|bounces?|no-?reply|"
    r"do-?not-?reply|owner-.*|.*-owner|.*-request|.*-bounces?)(\+.*)?\Z"
)
_LIST_FIELDS = (  # RFC 2369 and RFC 2919: a mailing list sent this
    "list-id",
    "list-unsubscribe",
    "list-post",
    "list-owner",
    "list-help",
    "list-subscribe",
    "list-archive",
)


@dataclass(frozen=True)
class VacationSettings:
    enabled: bool = False
    subject: str = ""  # "": "Auto: " and the original subject
    body: str = ""
    start_date: date | None = None  # UTC dates, both inclusive; None: open-ended
    end_date: date | None = None
    days: int = 7  # at most one reply per sender in this many days


@dataclass(frozen=True)
class AutoReply:
    """A reply written for `author` (the away user, its From:) to `recipient`."""

    author: str
    recipient: str
    data: bytes


def why_not(mail_from: str, parsed: ParsedMessage) -> str | None:
    """Why this message must get no auto-reply (RFC 3834 §2), or None if it may."""
    if not mail_from:
        return "null sender (a bounce)"
    local = mail_from.rpartition("@")[0].lower()
    if local.startswith("srs0="):  # a forwarded message: judge the original sender
        local = local.split("=", 4)[-1]
    if ROBOT_SENDER.match(local):
        return "sender is a robot or a list"
    headers = parsed.headers
    auto = [v.split(";")[0].strip().lower() for v in header_values(headers, "auto-submitted")]
    if any(value != "no" for value in auto):
        return "auto-submitted"
    precedence = {v.strip().lower() for v in header_values(headers, "precedence")}
    if precedence & {"bulk", "list", "junk", "auto_reply"}:
        return "precedence " + ", ".join(sorted(precedence))
    if any(header_values(headers, name) for name in _LIST_FIELDS):
        return "mailing list"
    suppress = " ".join(header_values(headers, "x-auto-response-suppress")).lower()
    if any(word in suppress for word in ("all", "oof", "autoreply")):
        return "X-Auto-Response-Suppress"
    if header_values(headers, "x-autoreply") or header_values(headers, "x-autorespond"):
        return "an auto-reply"
    content_type = " ".join(header_values(headers, "content-type")[:1]).lower()
    if content_type.startswith("multipart/report"):  # RFC 6522: DSNs, MDNs, ARF
        return "a delivery or disposition report"
    return None


class Vacation:
    def __init__(self, database: Database) -> None:
        self._db = database
        enabled = select(VacationRow.user_id).where(VacationRow.enabled.is_(True))
        self._users = UserSet(database, enabled)  # most users are not away: no query

    # -- editing (the web settings page) ---------------------------------------------------

    def get(self, actor: Principal, address: str) -> VacationSettings:
        address = normalize_address(address)
        with self._db.read() as session:
            user = managed_user(session, actor, address, "account.manage")
            row = session.get(VacationRow, user.id)
            return VacationSettings() if row is None else _settings(row)

    def set(self, actor: Principal, address: str, settings: VacationSettings) -> VacationSettings:
        """Store the settings; turning the reply on starts afresh (every sender may get
        one again)."""
        address = normalize_address(address)
        settings = _check(settings)
        with self._db.write() as session:
            user = managed_user(session, actor, address, "account.manage")
            row = session.get(VacationRow, user.id)
            if row is None:
                row = VacationRow(user_id=user.id, enabled=False)
                session.add(row)
            if settings.enabled and not row.enabled:
                session.execute(delete(VacationReply).where(VacationReply.user_id == user.id))
            row.enabled = settings.enabled
            row.subject = settings.subject
            row.body = settings.body
            row.start_date = settings.start_date
            row.end_date = settings.end_date
            row.days = settings.days
            row.updated_at = utcnow()
            state = "on" if settings.enabled else "off"
            audit.record(
                session,
                actor,
                "vacation.set",
                target=address,
                domain=domain_of(address),
                detail=state,
            )
        self._users.changed()
        return settings

    # -- delivery --------------------------------------------------------------------------

    def replies(
        self,
        mail_from: str,
        parsed: ParsedMessage,
        reached: Mapping[int, Collection[str]],
        now: datetime | None = None,
    ) -> list[AutoReply]:
        """The answers to a delivered message, one for each user in `reached` (user id →
        the recipient addresses that led to them) whose vacation is on and who was
        addressed in To or Cc, each remembered as sent. Call it after the message is
        stored: a reply that fails is logged, never raised."""
        if not self._users.any_of(reached):
            return []
        try:
            sender = normalize_address(mail_from) if mail_from else ""
        except InvalidInput:
            return []
        reason = why_not(sender, parsed)
        if reason is not None:
            log.debug("no auto-reply to <%s>: %s", mail_from, reason)
            return []
        now = now or utcnow()
        with self._db.read() as session:
            rows = session.execute(
                select(VacationRow, User.address, User.display_name)
                .join(User, User.id == VacationRow.user_id)
                .where(VacationRow.user_id.in_(list(reached)), VacationRow.enabled.is_(True))
            ).all()
            active = [(row.user_id, address, name, _settings(row)) for row, address, name in rows]
        addressed = set(addr_specs((*parsed.to, *parsed.cc, *parsed.bcc)))
        replied = []
        for user_id, address, name, settings in active:
            if not _due(settings, now.date()) or sender == address:
                continue
            # RFC 3834 §2: only when the user is named as a recipient (not Bcc'd by a list).
            if not addressed & {address, *(a.lower() for a in reached[user_id])}:
                continue
            try:
                if self._remember(user_id, sender, settings.days, now):
                    data = compose_auto_reply(
                        from_address=address,
                        from_name=name,
                        to=sender,
                        subject=reply_subject(parsed.subject, settings.subject),
                        body=settings.body,
                        in_reply_to=parsed.message_id,
                        references=parsed.references,
                        now=now,
                    )
                    replied.append(AutoReply(address, sender, data))
            except Exception:  # the message is stored already; a reply is a courtesy
                log.exception("auto-reply of %s to <%s> failed", address, sender)
        return replied

    def _remember(self, user_id: int, sender: str, days: int, now: datetime) -> bool:
        """Record a reply to `sender` now, unless one went within `days` (then False)."""
        try:
            with self._db.write() as session:
                row = session.get(VacationReply, (user_id, sender), with_for_update=True)
                if row is not None and row.last_sent_at > now - timedelta(days=days):
                    return False
                if row is None:
                    session.add(VacationReply(user_id=user_id, sender=sender, last_sent_at=now))
                else:
                    row.last_sent_at = now
        except IntegrityError:
            return False  # a concurrent delivery answered this sender just now
        return True


def _due(settings: VacationSettings, today: date) -> bool:
    if settings.start_date is not None and today < settings.start_date:
        return False
    return settings.end_date is None or today <= settings.end_date


def _check(settings: VacationSettings) -> VacationSettings:
    subject = " ".join(settings.subject.split())
    if len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise InvalidInput(f"the subject takes at most {MAX_SUBJECT} characters")
    body = settings.body.replace("\r\n", "\n").strip("\n")
    if len(body) > MAX_BODY or any(ord(c) < 32 and c not in "\n\t" for c in body):
        raise InvalidInput(f"the message takes at most {MAX_BODY} characters of text")
    if settings.enabled and not body.strip():
        raise InvalidInput("an auto-reply needs a message")
    if not 1 <= settings.days <= MAX_DAYS:
        raise InvalidInput(f"the days between replies to one sender are 1 to {MAX_DAYS}")
    start, end = settings.start_date, settings.end_date
    if start is not None and end is not None and end < start:
        raise InvalidInput("the last day comes before the first")
    return VacationSettings(settings.enabled, subject, body, start, end, settings.days)


def _settings(row: VacationRow) -> VacationSettings:
    return VacationSettings(
        row.enabled, row.subject, row.body, row.start_date, row.end_date, row.days
    )
