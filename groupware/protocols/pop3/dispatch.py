"""The one POP3 command table: command class → handler and the states that allow it, and
`run`, which checks the state, calls the handler and writes +OK or -ERR."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from groupware.errors import GroupwareError
from groupware.protocols.pop3 import commands as c
from groupware.protocols.pop3.handlers import anystate, authorization, transaction
from groupware.protocols.pop3.replies import Refused, reply_for
from groupware.protocols.pop3.session import Hangup, LineTooLong, Session, State

log = logging.getLogger(__name__)

# A handler returns the text after +OK (None: just +OK), or "" when it answered itself
# (multi-line responses, STLS).
Handler = Callable[[Session, Any], Awaitable[str | None]]
AUTHORIZATION = frozenset({State.AUTHORIZATION})
TRANSACTION = frozenset({State.TRANSACTION})
BOTH = AUTHORIZATION | TRANSACTION


@dataclass(frozen=True)
class Entry:
    handler: Handler
    states: frozenset[State]


COMMANDS: dict[type[c.Command], Entry] = {
    c.Capa: Entry(anystate.cmd_capa, BOTH),
    c.Quit: Entry(anystate.cmd_quit, BOTH),
    c.Stls: Entry(authorization.cmd_stls, AUTHORIZATION),
    c.User: Entry(authorization.cmd_user, AUTHORIZATION),
    c.Pass: Entry(authorization.cmd_pass, AUTHORIZATION),
    c.Auth: Entry(authorization.cmd_auth, AUTHORIZATION),
    c.Stat: Entry(transaction.cmd_stat, TRANSACTION),
    c.List: Entry(transaction.cmd_list, TRANSACTION),
    c.Uidl: Entry(transaction.cmd_uidl, TRANSACTION),
    c.Retr: Entry(transaction.cmd_retr, TRANSACTION),
    c.Top: Entry(transaction.cmd_top, TRANSACTION),
    c.Dele: Entry(transaction.cmd_dele, TRANSACTION),
    c.Rset: Entry(transaction.cmd_rset, TRANSACTION),
    c.Noop: Entry(transaction.cmd_noop, TRANSACTION),
}


async def run(session: Session, command: c.Command) -> None:
    """Run one command and answer it with +OK or -ERR; the connection lives on."""
    entry = COMMANDS[type(command)]
    name = type(command).__name__.upper()
    if session.state not in entry.states:
        session.bad_commands += 1
        session.refuse(Refused(f"{name} is not allowed in the {session.state.value} state"))
        return
    try:
        result = await entry.handler(session, command)
    except Refused as refused:
        session.refuse(refused)
        return
    except GroupwareError as error:
        session.refuse(reply_for(error))
        return
    except LineTooLong:  # a SASL response line
        session.bad_commands += 1
        session.refuse(Refused("Line too long"))
        return
    except (Hangup, ConnectionError, ssl.SSLError):  # the socket's troubles end the connection
        raise
    except Exception:
        log.exception("POP3 %s failed", name)
        session.refuse(Refused("Internal error; the problem was logged", "SYS/TEMP"))
        return
    if result != "":
        session.ok(result or "")
