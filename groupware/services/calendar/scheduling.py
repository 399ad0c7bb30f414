"""Invitations (iTIP over iMIP, RFC 5546 and RFC 6047) from calendar changes, and iMIP
mail handed to local users.

The organizer saves an event with attendees: each attendee gets a REQUEST by mail (through
the router: local ones are delivered, others queued), and a local attendee also finds it in
their calendar, needing action. Later changes that matter (times, title, place, the
attendee list, SEQUENCE) send the REQUEST again; a deletion, or an attendee taken off,
sends CANCEL. An attendee answering from their own calendar (their PARTSTAT changes, or
they delete it: declined) sends a REPLY: a local organizer's copy is updated at once, an
external organizer gets it by mail. iMIP mail reaching a local user is read too: a REPLY
updates the organizer's copy, a REQUEST from elsewhere lands in the calendar as needing
action, a CANCEL marks it cancelled.

Calendars tells this service of every change (`item_changed`); the copies it writes are
quiet, so they start nothing further.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from pathlib import Path

from groupware.errors import InvalidInput
from groupware.mime import icalform, imip
from groupware.mime.icalitem import describe_text
from groupware.mime.parse import parse_message
from groupware.mime.text import calendar_text
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.resources import Decision, ResourceInfo, Resources
from groupware.services.calendar.rows import CALENDAR, CollectionRow, ItemRow, NewItem
from groupware.services.delivery.route import MailRouter
from groupware.services.transport.provenance import Provenance

log = logging.getLogger(__name__)
MAX_ATTENDEES = 100  # as many as one SMTP transaction takes ([smtp] max_recipients)
ATTEMPTS = 5  # reads of a copy that keeps changing meanwhile (its owner, another delivery)
_ORGANIZER = re.compile(r"^ORGANIZER[;:]", re.IGNORECASE | re.MULTILINE)


class Scheduling:
    def __init__(self, calendars: Calendars, router: MailRouter, resources: Resources) -> None:
        self._calendars = calendars
        self._router = router
        self._resources = resources

    # -- changes in a calendar ---------------------------------------------------------------

    def item_changed(
        self, collection_id: int, old: ItemRow | None, new: ItemRow | None, by: str | None
    ) -> None:
        if not any(item is not None and _ORGANIZER.search(item.text) for item in (old, new)):
            return  # not scheduled (most saves): nothing parsed
        collection = self._calendars.collection_by_id(collection_id)
        if collection is None:
            return
        owner = collection.owner
        if collection.tag != "VCALENDAR" or owner.startswith("+"):
            return
        if by is not None and by != owner:
            log.info("%s wrote in %s's calendar: no invitations in the owner's name", by, owner)
            return
        before, after = _facts(old), _facts(new)
        facts = after or before
        if facts is None:
            return
        # An event moved between one's own calendars (saved in one, deleted from the
        # other) is neither new nor cancelled: the other copy is what it was before.
        elsewhere = self._calendars.find_uid(owner, facts.uid, besides=collection_id)
        if elsewhere is not None:
            if new is None:
                return
            if old is None:
                old = elsewhere[1]
                before = _facts(old)
        if facts.organizer == owner:
            self._organizer_saved(owner, before, after, old, new)
        elif owner in facts.attendees:
            self._attendee_saved(owner, before, after, old, new)

    def _organizer_saved(
        self,
        owner: str,
        before: imip.Scheduled | None,
        after: imip.Scheduled | None,
        old: ItemRow | None,
        new: ItemRow | None,
    ) -> None:
        facts = after or before
        if facts is not None and owner in facts.by_client:
            return  # the organizer's client sends the invitations itself (RFC 6638 §7.1)
        if after is None or new is None:  # deleted: everyone invited is told
            assert before is not None and old is not None
            self._cancel(owner, before, old.text, list(before.attendees))
            return
        removed = [
            a
            for a in (before.attendees if before else {})
            if a not in after.attendees and a not in (before.by_client if before else ())
        ]
        if removed and old is not None:
            self._cancel(owner, after, old.text, removed)
        changed = before is None or _fingerprint(before, old) != _fingerprint(after, new)
        if len(after.attendees) > MAX_ATTENDEES:
            log.warning(
                "%s: %d attendees, over %d: no invitations sent",
                after.uid,
                len(after.attendees),
                MAX_ATTENDEES,
            )
            return
        request = imip.with_method(new.text, "REQUEST")
        for attendee in after.attendees:
            if attendee == owner or attendee in after.by_client:
                continue
            if not changed and before is not None and attendee in before.attendees:
                continue
            try:
                room = self._resources.get(attendee)
                if room is not None:  # no mail: it answers at once
                    self._book(room, owner, new.text, after)
                    continue
                self._send(owner, attendee, "REQUEST", request, after)
                self._place(attendee, new.text, after)
            except Exception:  # one bad address must not stop the others
                log.exception("invitation of %s to %s failed", after.uid, attendee)

    def _attendee_saved(
        self,
        owner: str,
        before: imip.Scheduled | None,
        after: imip.Scheduled | None,
        old: ItemRow | None,
        new: ItemRow | None,
    ) -> None:
        facts = after or before
        if facts is not None and facts.organizer in facts.by_client:
            return  # the attendee's client answers the organizer itself (RFC 6638 §7.1)
        if after is None or new is None:  # the attendee deleted it: declined
            if before is None or old is None or before.attendees.get(owner) == "DECLINED":
                return
            if "STATUS:CANCELLED" in old.text:  # a cancelled event thrown away
                return
            self._reply(owner, before, imip.set_partstat(old.text, owner, "DECLINED"), "DECLINED")
            return
        answer = after.attendees.get(owner, imip.NEEDS_ACTION)
        previous = before.attendees.get(owner) if before else None
        if answer == imip.NEEDS_ACTION or answer == previous:
            return
        self._reply(owner, after, new.text, answer)

    def _reply(self, attendee: str, facts: imip.Scheduled, text: str, answer: str) -> None:
        if self._calendars.principal_of(facts.organizer) is not None:
            self._update_partstat(facts.organizer, facts.uid, attendee, answer)
            return
        body = imip.reply(text, attendee)
        replying = imip.Scheduled(
            facts.uid,
            facts.organizer,
            {attendee: answer},
            facts.sequence,
            facts.summary,
            facts.start,
            "REPLY",
        )
        self._send(attendee, facts.organizer, "REPLY", body, replying)

    def _cancel(self, owner: str, facts: imip.Scheduled, text: str, attendees: list[str]) -> None:
        body = imip.cancelled(text)
        for attendee in attendees:
            if attendee == owner or attendee in facts.by_client:
                continue
            if self._resources.get(attendee) is None:  # a room reads no mail
                self._send(owner, attendee, "CANCEL", body, facts)
            self._place(attendee, imip.without_method(body), facts, cancel=True)

    # -- proposing another time --------------------------------------------------------------

    def propose(self, attendee: str, text: str, start: datetime, end: datetime) -> None:
        """An attendee's proposal of another time (RFC 5546 §3.2.7 COUNTER) to the
        organizer, by mail (a local organizer reads it in webmail and may take it up);
        the attendee's own copy stays as it is."""
        facts = imip.read(text)
        if attendee not in facts.attendees or attendee == facts.organizer:
            raise InvalidInput("only an attendee proposes another time")
        moved = icalform.with_times(imip.without_method(text), start, end)
        body = imip.reply(moved, attendee, method="COUNTER")
        proposal = imip.Scheduled(
            facts.uid,
            facts.organizer,
            {attendee: facts.attendees[attendee]},
            facts.sequence,
            facts.summary,
            imip.read(body).start,
            "COUNTER",
        )
        self._send(attendee, facts.organizer, "COUNTER", body, proposal)

    # -- rooms and equipment ---------------------------------------------------------------

    def _book(self, room: ResourceInfo, organizer: str, text: str, facts: imip.Scheduled) -> None:
        """A resource invited: resources.py decides (one booking at a time per
        resource); accepted, the event is placed in its calendar with its answer;
        declined, the resource keeps no copy (and drops one it had of this organizer's)
        and the organizer is told why by mail. A copy of the same UID from another
        organizer is not theirs to change: nothing is decided or sent."""
        uid = facts.uid
        with self._resources.lock(room.address):
            found = self._calendars.find_uid(room.address, uid)
            if found is not None:
                kept = _facts(found[1])
                if kept is None or kept.organizer != organizer:
                    log.info("%s: %s holds it from another organizer: left alone", uid, room)
                    return
            event = imip.without_method(text)
            try:
                decision = self._resources.decide(
                    room, self._calendars.principal_of(organizer), event, uid
                )
            except Exception:  # undecided would hold the room: it declines instead
                log.exception("%s: %s could not decide", uid, room.address)
                decision = Decision("DECLINED", "the booking could not be checked")
            answered = imip.set_partstat(event, room.address, decision.answer)
            if decision.answer == "ACCEPTED":
                self._place(room.address, text, facts)
                placed = self._calendars.find_uid(room.address, uid)
                if placed is not None:
                    collection, item = placed
                    self._store(
                        collection,
                        item.href,
                        imip.set_partstat(item.text, room.address, "ACCEPTED"),
                        item.etag,
                    )
            elif found is not None:  # an update that now clashes: the booking goes
                self._calendars.delete_item(found[0].id, found[1].href, quiet=True)
        log.info("%s: %s %s (%s)", uid, room.address, decision.answer, decision.reason)
        if decision.answer == "DECLINED":
            body = imip.reply(answered, room.address, comment=decision.reason)
            replying = imip.Scheduled(
                uid,
                organizer,
                {room.address: "DECLINED"},
                facts.sequence,
                facts.summary,
                facts.start,
                "REPLY",
            )
            self._send(room.address, organizer, "REPLY", body, replying, decision.reason)
        else:
            self._reply(room.address, facts, answered, decision.answer)

    # -- local copies --------------------------------------------------------------------------

    def _place(
        self, attendee: str, text: str, facts: imip.Scheduled, *, cancel: bool = False
    ) -> None:
        """The event in a local attendee's calendar: new ones need action; an update
        keeps their answer unless SEQUENCE rose (RFC 5546 §2.1.5). Two deliveries at once
        (a late REQUEST and its CANCEL) each read, compare and parse with no lock held;
        `_store` writes only over the version compared, so the later one reads again."""
        if self._calendars.principal_of(attendee) is None:
            return
        for _ in range(ATTEMPTS):
            if self._place_once(attendee, text, facts, cancel=cancel):
                return
        log.warning("%s: %s's copy kept changing; not updated", facts.uid, attendee)

    def _place_once(self, attendee: str, text: str, facts: imip.Scheduled, *, cancel: bool) -> bool:
        """False when the attendee changed the copy while it was being compared."""
        self._calendars.ensure_home(attendee)
        found = self._calendars.find_uid(attendee, facts.uid)
        text = imip.without_method(text)
        kept_etag = None
        if found is None:
            if cancel:
                return True
            collection = self._calendars.collection(f"{attendee}/{CALENDAR}")
            if collection is None:
                return True
            href = f"{uuid.uuid4()}.ics"
            asked_again = True
        else:
            collection, item = found
            href, kept_etag = item.href, item.etag
            kept = _facts(item)
            if kept is None or kept.organizer != facts.organizer or kept.organizer == attendee:
                log.info("%s: %s's own item with that UID is left alone", facts.uid, attendee)
                return True  # not an invitation from this organizer: never overwritten
            if kept.sequence > facts.sequence:
                return True  # older news, arrived late (RFC 5546 §2.1.5): what is kept wins
            asked_again = facts.sequence > kept.sequence
            answer = kept.attendees.get(attendee)
            if not cancel and not asked_again and answer:
                text = imip.set_partstat(text, attendee, answer)  # their answer stands
        if not cancel and asked_again:
            text = imip.set_partstat(text, attendee, imip.NEEDS_ACTION)
        return self._store(collection, href, text, kept_etag)

    def _update_partstat(self, organizer: str, uid: str, attendee: str, answer: str) -> None:
        for _ in range(ATTEMPTS):
            if self._update_partstat_once(organizer, uid, attendee, answer):
                return
        log.warning("%s: %s's event kept changing; %s's answer not noted", uid, organizer, attendee)

    def _update_partstat_once(self, organizer: str, uid: str, attendee: str, answer: str) -> bool:
        found = self._calendars.find_uid(organizer, uid)
        if found is None:
            log.info("reply from %s for %s: no such event of %s", attendee, uid, organizer)
            return True
        collection, item = found
        facts = _facts(item)
        if facts is None or attendee not in facts.attendees:
            return True
        text = imip.set_partstat(item.text, attendee, answer)
        return self._store(collection, item.href, text, item.etag)

    def _store(self, collection: CollectionRow, href: str, text: str, expected: str | None) -> bool:
        """Write `text` at `href` under the collection's lock if what is there still has
        the etag it had when read (`expected`, None: nothing); False if it changed, as
        when its owner saved it from a client in between. The text is parsed (and its
        recurrences checked against the limit) before the lock is taken."""
        try:
            facts = describe_text(collection.path, text)
        except (ValueError, RuntimeError) as error:
            log.warning("scheduling: could not store %s/%s: %s", collection.path, href, error)
            return True
        with self._calendars.locks.holding(collection.path):
            now = self._calendars.item(collection.id, href)
            if (now.etag if now is not None else None) != expected:
                return False
            if expected is None and self._calendars.has_uid(collection.id, facts.uid):
                return False  # saved meanwhile (imported from the mail): read it again
            self._calendars.put_item(collection.id, NewItem.of(href, facts), quiet=True)
        return True

    # -- mail --------------------------------------------------------------------------------

    def _send(
        self,
        sender: str,
        recipient: str,
        method: str,
        body: str,
        facts: imip.Scheduled,
        note: str = "",
    ) -> None:
        data = imip.compose(
            method=method,
            sender=sender,
            sender_name="",
            to=recipient,
            body=body,
            facts=facts,
            note=note,
        )
        self._router.send_generated(sender, recipient, data, mail_from=sender)
        log.info("%s: %s from %s to %s", facts.uid, method, sender, recipient)

    def message_delivered(self, spool: Path, addresses: list[str], origin: Provenance) -> None:
        """iMIP in mail delivered to local users (`addresses`). Who sent it is what
        `origin` proves, nothing else: From: and the envelope are the sender's word only
        when checked (our submission, or SPF/DKIM/DMARC for mail from outside), and an
        address of ours never comes proven from outside (RFC 6047 §3: iMIP trusts the
        transport's authentication)."""
        raw = spool.read_bytes()
        if b"text/calendar" not in raw.lower():
            return
        body = _calendar_part(raw)
        if body is None:
            return
        senders = origin.proven
        try:
            facts = imip.read(body)
        except imip.NotScheduling:
            return
        for address in addresses:
            if facts.method == "REPLY" and facts.organizer == address:
                # Only the attendee's own answer counts: its address must be a proven sender.
                for attendee, answer in facts.attendees.items():
                    if attendee in senders:
                        self._update_partstat(address, facts.uid, attendee, answer)
                    else:
                        log.info("REPLY for %s ignored: not proven sent by them", attendee)
            elif facts.method in ("REQUEST", "CANCEL") and address in facts.attendees:
                if self._calendars.principal_of(facts.organizer) is not None:
                    continue  # a local organizer placed it already
                room = self._resources.get(address)
                if room is not None and facts.method == "REQUEST" and facts.organizer in senders:
                    self._book(room, facts.organizer, body, facts)
                    continue
                if facts.organizer not in senders:
                    log.info(
                        "%s of %s ignored: not proven sent by them", facts.method, facts.organizer
                    )
                    continue
                self._place(address, body, facts, cancel=facts.method == "CANCEL")


def _facts(item: ItemRow | None) -> imip.Scheduled | None:
    if item is None:
        return None
    try:
        facts = imip.read(item.text)
    except imip.NotScheduling:
        return None
    return facts if facts.attendees else None


def _fingerprint(facts: imip.Scheduled, item: ItemRow | None) -> tuple[object, ...]:
    """What makes a new REQUEST worth sending: not a mere DTSTAMP or alarm change."""
    text = item.text if item is not None else ""
    keep = ("DTSTART", "DTEND", "DURATION", "RRULE", "EXDATE", "SUMMARY", "LOCATION", "STATUS")
    lines = tuple(
        line
        for line in text.replace("\r\n ", "").splitlines()
        if line.split(":", 1)[0].split(";", 1)[0] in keep
    )
    return (facts.sequence, tuple(sorted(facts.attendees)), lines)


def _calendar_part(raw: bytes) -> str | None:
    """The first text/calendar part of a message, read with the store's parser (mime/,
    at most 1000 parts): the email package took half a millisecond for each part of a
    crafted message, 10 s a MiB, in delivery's thread."""
    return calendar_text(raw, parse_message(raw).body)
