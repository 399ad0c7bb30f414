"""RFC 5465 NOTIFY: check the event groups, then hand them to a Notifier (notify.py)."""

from __future__ import annotations

from dataclasses import replace

from groupware.protocols.imap import commands as c
from groupware.protocols.imap.notify import SUPPORTED, Notifier, status_line
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session

BADEVENT = "BADEVENT (" + " ".join(SUPPORTED) + ")"


# RFC 5465 §3 NOTIFY SET / NOTIFY NONE
async def cmd_notify(session: Session, command: c.Notify) -> str | None:
    if command.filters is None:
        session.notify(None)
        return None
    filters = tuple(_checked(session, group) for group in command.filters)
    kinds = [group.kind for group in filters]
    if "SELECTED" in kinds and "SELECTED-DELAYED" in kinds:
        raise Refused("SELECTED and SELECTED-DELAYED exclude each other", bad=True)
    mailboxes = session.services.mailboxes
    infos = await session.call(mailboxes.list_all, session.actor)
    subscribed = set(await session.call(mailboxes.subscriptions, session.actor))
    notifier = Notifier(session, filters, infos, subscribed)
    session.notify(notifier)
    if command.status:  # §3: the current STATUS of every mailbox with message events
        view = session.view
        for info in infos:
            events = notifier.events_for(info.name)
            if "MessageNew" in events and (view is None or view.mailbox_id != info.id):
                session.write(status_line(session, info, "FlagChange" in events))
    return None


def _checked(session: Session, group: c.NotifyFilter) -> c.NotifyFilter:
    """§5: unknown events are NO [BADEVENT]; MessageNew and MessageExpunge come together,
    and FlagChange only with them."""
    events = set(group.events)
    if events - set(SUPPORTED) or group.new_fetch:
        raise Refused("Unsupported event (or MessageNew fetch attributes)", BADEVENT)
    if ("MessageNew" in events) != ("MessageExpunge" in events):
        raise Refused("MessageNew and MessageExpunge go together", bad=True)
    if "FlagChange" in events and "MessageNew" not in events:
        raise Refused("FlagChange needs MessageNew and MessageExpunge", bad=True)
    return replace(group, mailboxes=tuple(session.mailbox_in(m) for m in group.mailboxes))
