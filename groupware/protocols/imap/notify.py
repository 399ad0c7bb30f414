"""RFC 5465 NOTIFY: which of the user's mail events a session hears about, and telling
them as they happen: STATUS for new, expunged or re-flagged messages in mailboxes that are
not selected, LIST for created, renamed and deleted mailboxes and for subscription
changes, and (with a SELECTED filter) the selected mailbox's EXISTS/EXPUNGE/FETCH
between commands rather than only when the next command ends."""

from __future__ import annotations

import asyncio
import logging

from groupware.errors import GroupwareError
from groupware.protocols.imap.commands import NotifyFilter
from groupware.protocols.imap.session import Session
from groupware.services.core.events import (
    Expunged,
    FlagsChanged,
    MailboxCreated,
    MailboxDeleted,
    MailboxEvent,
    MailboxRenamed,
    MessageAdded,
    SubscriptionChanged,
)
from groupware.services.mail.mailboxes import INBOX, SEPARATOR, MailboxInfo

log = logging.getLogger(__name__)

SUPPORTED = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange")
SELECTED_KINDS = frozenset({"SELECTED", "SELECTED-DELAYED"})


def events_for(
    filters: tuple[NotifyFilter, ...], name: str, subscribed: set[str]
) -> frozenset[str]:
    """RFC 5465 §6: the events asked for a mailbox that is not selected, from the first
    filter that names it."""
    for group in filters:
        if group.kind in SELECTED_KINDS:
            continue
        if (
            group.kind == "PERSONAL"
            or (group.kind == "INBOXES" and name == INBOX)
            or (group.kind == "SUBSCRIBED" and name in subscribed)
            or (group.kind == "MAILBOXES" and name in group.mailboxes)
            or (
                group.kind == "SUBTREE"
                and any(name == top or name.startswith(top + SEPARATOR) for top in group.mailboxes)
            )
        ):
            return frozenset(group.events)
    return frozenset()


def status_line(session: Session, info: MailboxInfo, modseq: bool) -> bytes:
    """RFC 5465 §5.2: MESSAGES, UIDNEXT and UIDVALIDITY; HIGHESTMODSEQ with FlagChange."""
    items = b"MESSAGES %d UIDNEXT %d UIDVALIDITY %d" % (
        info.messages,
        info.uidnext,
        info.uidvalidity,
    )
    if modseq:
        items += b" HIGHESTMODSEQ %d" % info.highestmodseq
    return b"* STATUS " + session.mailbox_out(info.name) + b" (" + items + b")\r\n"


class Notifier:
    """One session's NOTIFY SET: filters, the names of the user's mailboxes (events carry
    ids), and a task that writes what needs the database (STATUS) or the session lock
    (updates of the selected mailbox) as soon as it can."""

    def __init__(
        self,
        session: Session,
        filters: tuple[NotifyFilter, ...],
        mailboxes: list[MailboxInfo],
        subscribed: set[str],
    ) -> None:
        self.session = session
        self.filters = filters
        self.names = {m.id: m.name for m in mailboxes}
        self.subscribed = subscribed
        self.selected = next((f for f in filters if f.kind in SELECTED_KINDS), None)
        self.statuses: dict[int, bool] = {}  # mailbox id → with HIGHESTMODSEQ
        self.wake = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def events_for(self, name: str) -> frozenset[str]:
        return events_for(self.filters, name, self.subscribed)

    def stop(self) -> None:
        self.task.cancel()

    # -- events, on the loop --------------------------------------------------------------

    def receive(self, event: MailboxEvent) -> None:
        if isinstance(event, MailboxCreated | MailboxRenamed | MailboxDeleted):
            self._mailbox_name(event)
        elif isinstance(event, SubscriptionChanged):
            self._subscription(event)
        elif isinstance(event, MessageAdded | Expunged | FlagsChanged):
            self._message(event)

    def _mailbox_name(self, event: MailboxCreated | MailboxRenamed | MailboxDeleted) -> None:
        out = self.session.mailbox_out
        if isinstance(event, MailboxCreated):
            self.names[event.mailbox_id] = event.name
            if "MailboxName" in self.events_for(event.name):
                self._write(b'* LIST () "/" ' + out(event.name) + b"\r\n")
        elif isinstance(event, MailboxRenamed):
            self.names[event.mailbox_id] = event.new_name
            events = self.events_for(event.new_name) | self.events_for(event.old_name)
            if "MailboxName" in events:  # RFC 5465 §5.4 with RFC 5258's OLDNAME
                old = b' ("OLDNAME" (' + out(event.old_name) + b"))"
                self._write(b'* LIST () "/" ' + out(event.new_name) + old + b"\r\n")
        else:
            self.names.pop(event.mailbox_id, None)
            if "MailboxName" in self.events_for(event.name):
                self._write(b'* LIST (\\NonExistent) "/" ' + out(event.name) + b"\r\n")

    def _subscription(self, event: SubscriptionChanged) -> None:
        if event.subscribed:
            self.subscribed.add(event.name)
        else:
            self.subscribed.discard(event.name)
        if "SubscriptionChange" in self.events_for(event.name):  # RFC 5465 §5.5
            flags = b"(\\Subscribed)" if event.subscribed else b"()"
            out = self.session.mailbox_out(event.name)
            self._write(b"* LIST " + flags + b' "/" ' + out + b"\r\n")

    def _message(self, event: MessageAdded | Expunged | FlagsChanged) -> None:
        view = self.session.view
        wanted = "FlagChange" if isinstance(event, FlagsChanged) else "MessageNew"
        if view is not None and event.mailbox_id == view.mailbox_id:
            if self.selected is not None and wanted in self.selected.events:
                self.wake.set()  # the view has the event already; flush it when free
            return
        name = self.names.get(event.mailbox_id)
        if name is None:
            return
        events = self.events_for(name)
        if wanted in events:
            self.statuses[event.mailbox_id] = "FlagChange" in events
            self.wake.set()

    def _write(self, line: bytes) -> None:
        self.session.channel.write(line)
        self.wake.set()  # the task drains (under COMPRESS the line waits for a flush)

    # -- the task -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self._statuses()
                await self._selected()
                await self.session.channel.drain()
            except (ConnectionError, OSError):
                return  # the connection went; the session closes and cancels us
            except Exception:  # one bad round must not end NOTIFY for the session
                log.exception("IMAP NOTIFY failed")

    async def _statuses(self) -> None:
        session = self.session
        statuses, self.statuses = self.statuses, {}
        for mailbox_id, modseq in statuses.items():
            name = self.names.get(mailbox_id)
            view = session.view
            if name is None or (view is not None and view.mailbox_id == mailbox_id):
                continue  # RFC 5465 §5.2: never STATUS for the selected mailbox
            try:
                info = await session.call(session.services.mailboxes.get, session.actor, name)
            except GroupwareError:
                continue  # deleted meanwhile: MailboxName tells that
            self._write(status_line(session, info, modseq))

    async def _selected(self) -> None:
        """Between commands only (the lock): a running command tells them itself, and
        SELECTED-DELAYED keeps expunges for a command that allows them (RFC 5465 §5.1)."""
        session = self.session
        view = session.view
        if self.selected is None or view is None or not view.pending or session.lock.locked():
            return
        async with session.lock:
            await session.flush_updates(expunges=self.selected.kind == "SELECTED")
