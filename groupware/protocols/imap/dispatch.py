"""The one IMAP command table: command class → handler and the states that allow it, and
`run`, which checks the state, calls the handler and writes the tagged reply."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from groupware.errors import GroupwareError
from groupware.protocols.imap import commands as c
from groupware.protocols.imap.handlers import (
    anystate,
    fetch,
    listing,
    login,
    mailboxes,
    messages,
    notify,
    search,
)
from groupware.protocols.imap.replies import Refused, reply_for
from groupware.protocols.imap.session import ConnectionClosed, Session, State

log = logging.getLogger(__name__)

Handler = Callable[[Session, Any], Awaitable[str | None]]
ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
NOT_AUTHENTICATED = frozenset({State.NOT_AUTHENTICATED})
AUTHENTICATED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


@dataclass(frozen=True)
class Entry:
    handler: Handler
    states: frozenset[State]


COMMANDS: dict[type[c.Command], Entry] = {
    c.Capability: Entry(anystate.cmd_capability, ANY),
    c.Noop: Entry(anystate.cmd_noop, ANY),
    c.Logout: Entry(anystate.cmd_logout, ANY),
    c.Id: Entry(anystate.cmd_id, ANY),
    c.Enable: Entry(anystate.cmd_enable, AUTHENTICATED),
    c.Compress: Entry(anystate.cmd_compress, AUTHENTICATED),
    c.StartTLS: Entry(login.cmd_starttls, NOT_AUTHENTICATED),
    c.Login: Entry(login.cmd_login, NOT_AUTHENTICATED),
    c.Authenticate: Entry(login.cmd_authenticate, NOT_AUTHENTICATED),
    c.Select: Entry(mailboxes.cmd_select, AUTHENTICATED),
    c.Create: Entry(mailboxes.cmd_create, AUTHENTICATED),
    c.Delete: Entry(mailboxes.cmd_delete, AUTHENTICATED),
    c.Rename: Entry(mailboxes.cmd_rename, AUTHENTICATED),
    c.Subscribe: Entry(mailboxes.cmd_subscribe, AUTHENTICATED),
    c.List: Entry(listing.cmd_list, AUTHENTICATED),
    c.Namespace: Entry(mailboxes.cmd_namespace, AUTHENTICATED),
    c.Status: Entry(mailboxes.cmd_status, AUTHENTICATED),
    c.GetQuota: Entry(mailboxes.cmd_getquota, AUTHENTICATED),
    c.GetQuotaRoot: Entry(mailboxes.cmd_getquotaroot, AUTHENTICATED),
    c.Append: Entry(messages.cmd_append, AUTHENTICATED),
    c.Idle: Entry(messages.cmd_idle, AUTHENTICATED),
    c.Check: Entry(messages.cmd_check, SELECTED),
    c.Close: Entry(messages.cmd_close, SELECTED),
    c.Unselect: Entry(messages.cmd_unselect, SELECTED),
    c.Expunge: Entry(messages.cmd_expunge, SELECTED),
    c.Store: Entry(messages.cmd_store, SELECTED),
    c.Copy: Entry(messages.cmd_copy, SELECTED),
    c.Move: Entry(messages.cmd_move, SELECTED),
    c.Fetch: Entry(fetch.cmd_fetch, SELECTED),
    c.Search: Entry(search.cmd_search, SELECTED),
    c.Sort: Entry(search.cmd_sort, SELECTED),
    c.Thread: Entry(search.cmd_thread, SELECTED),
    c.CancelUpdate: Entry(search.cmd_cancelupdate, SELECTED),
    c.Notify: Entry(notify.cmd_notify, AUTHENTICATED),
}

# RFC 9051 §7.5.1: no EXPUNGE while the client may be counting by sequence number.
NO_EXPUNGE_AFTER = (c.Fetch, c.Store, c.Search, c.Sort, c.Thread)


async def run(session: Session, command: c.Command) -> None:
    """Run one command and answer it: OK, NO or BAD, with pending updates before."""
    async with session.lock:  # RFC 5465 NOTIFY writes the selected mailbox's news between
        await _run(session, command)


async def _run(session: Session, command: c.Command) -> None:
    entry = COMMANDS[type(command)]
    name = _name(command)
    if session.state not in entry.states:
        _reply(session, command.tag, "BAD", f"{name} is not allowed {session.state.value}")
        return
    try:
        result = await entry.handler(session, command)
    except Refused as refused:
        await _updates(session, command)
        status = "BAD" if refused.bad else "NO"
        code = f"[{refused.code}] " if refused.code else ""
        _reply(session, command.tag, status, code + refused.text)
        return
    except GroupwareError as error:
        await _updates(session, command)
        mapped = reply_for(error)
        _reply(session, command.tag, "NO", f"[{mapped.code}] {mapped.text}")
        return
    except (ConnectionClosed, ConnectionError, ssl.SSLError):
        # The socket's troubles end the connection: a NO written here would go on in
        # clear after a STARTTLS whose handshake never happened (RFC 9051 §6.2.1).
        raise
    except Exception:
        log.exception("IMAP %s failed", name)
        _reply(session, command.tag, "NO", "[SERVERBUG] Internal error; the problem was logged")
        return
    if result == "":
        return  # the handler answered itself (STARTTLS, COMPRESS, a BYE)
    await _updates(session, command)
    _reply(session, command.tag, "OK", result or f"{name} completed")


async def _updates(session: Session, command: c.Command) -> None:
    uid = getattr(command, "uid", False) is True
    await session.flush_updates(expunges=uid or not isinstance(command, NO_EXPUNGE_AFTER))
    view = session.view
    if view is not None and view.gone:  # deleted by another session: leave it quietly
        session.deselect()
        session.untagged("OK [CLOSED] The selected mailbox was deleted")


def _reply(session: Session, tag: str, status: str, text: str) -> None:
    session.write(f"{tag} {status} {text}\r\n".encode())


def _name(command: c.Command) -> str:
    """The command's name as the client wrote it (one class serves a few)."""
    if isinstance(command, c.Subscribe) and not command.subscribe:
        return "UNSUBSCRIBE"
    if isinstance(command, c.List) and command.lsub:
        return "LSUB"
    return type(command).__name__.upper()
