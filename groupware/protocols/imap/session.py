"""One IMAP connection's state without its socket: who is logged in, what is enabled and
selected, and the responses waiting to go out. The server owns the socket (a Channel);
handlers talk to the session only, so transcript tests can drive it without one."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from groupware.blocking import Blocking
from groupware.cache import TimedCache
from groupware.errors import GroupwareError
from groupware.protocols.imap import wire
from groupware.protocols.imap.contexts import SearchContext
from groupware.protocols.imap.loopevents import LoopEvents
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.selected import SelectedView
from groupware.protocols.tally import Tally
from groupware.services import Services
from groupware.services.core.access import Principal
from groupware.services.core.events import Expunged, MailboxEvent, MessageAdded

P = ParamSpec("P")
T = TypeVar("T")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class ConnectionClosed(Exception):
    """The connection ends now, whatever command runs: dispatch lets it through to the
    server, which says `bye` (if any) in a "* BYE" and closes. A channel raises it (data
    pipelined behind STARTTLS, a line without end), and so may the server's reading."""

    def __init__(self, reason: str, bye: str | None = None) -> None:
        super().__init__(reason)
        self.bye = bye


class Channel(Protocol):
    """What the server gives a session: bytes out, lines in, TLS on demand. A channel whose
    socket fails or must close raises ConnectionClosed (or the socket's own errors)."""

    peer: str
    secure: bool

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def readline(self) -> bytes: ...  # one line without CRLF; b"" at end of stream
    async def start_tls(self) -> None: ...
    def compress(self) -> None: ...


class Notifier(Protocol):
    """What a session needs of its NOTIFY SET (notify.py): the user's events as they
    come, and an end."""

    def receive(self, event: MailboxEvent) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    """Configurable bounds (imap section of the configuration)."""

    max_line: int = 64 * 1024
    max_literal: int = 64 * 1024 * 1024  # the largest message APPEND takes
    memory_literal: int = 256 * 1024  # bigger literals are spooled to a file
    idle_timeout: float = 30 * 60  # RFC 9051 §5.4: at least 30 minutes
    autologout: float = 30 * 60  # for a command (lines and literals) while logged in
    login_timeout: float = 3 * 60  # from connecting to logging in, however it trickles
    compress: bool = True  # offer COMPRESS=DEFLATE
    max_per_user: int = 100  # logged-in connections per account


@dataclass
class Session:
    channel: Channel
    services: Services
    blocking: Blocking
    limits: Limits = field(default_factory=Limits)
    state: State = State.NOT_AUTHENTICATED
    principal: Principal | None = None
    enabled: set[str] = field(default_factory=set)  # CONDSTORE, QRESYNC, UTF8=ACCEPT
    view: SelectedView | None = None
    saved_search: tuple[int, ...] = ()  # RFC 5182 "$": UIDs
    contexts: dict[str, SearchContext] = field(default_factory=dict)  # RFC 5267, by tag
    notifier: Notifier | None = None  # RFC 5465 NOTIFY SET
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held while a command runs
    compressed: bool = False
    spool: Path = Path("spool")  # where APPEND literals are written
    hidden: frozenset[str] = frozenset()  # capabilities this account does not see
    tls_available: bool = False  # STARTTLS can be offered
    accounts: Tally = field(default_factory=lambda: Tally(buckets=1024))  # the server's
    # Shared by a listener's sessions: mailbox id -> the UID up to which a session here
    # has claimed new mail as \Recent (or tried: another process may have). The others
    # need not ask the store: one write each, 10,000 at once when a delivery reaches
    # 10,000 IDLE sessions. Kept a minute (SQLite may give a new mailbox an old id).
    loop_events: LoopEvents | None = None  # the listener's: one hand-over per user
    recent_claimed: TimedCache[int, int] = field(default_factory=lambda: TimedCache(1, 60))
    # Shared by a listener's sessions too: ENVELOPEs rendered, by (mailbox id, UIDVALIDITY,
    # UID), which name one message's bytes for ever (RFC 9051 §2.3.1.1), as Dovecot's
    # cache file keeps them for clients that fetch a list again and again.
    envelopes: TimedCache[tuple[int, int, int], bytes] = field(
        default_factory=lambda: TimedCache(1)
    )
    hide: Callable[[str], frozenset[str]] = lambda address: frozenset()
    _unsubscribe: Callable[[], None] | None = None

    # -- talking to services ----------------------------------------------------------

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A service call, off the event loop (the only way handlers reach services)."""
        return await self.blocking.call(fn, *args, **kwargs)

    def plaintext_allowed(self) -> bool:
        """May a password cross this connection (TLS, or loopback when allowed)?"""
        return self.services.auth.plaintext_allowed(self.channel.peer, self.channel.secure)

    @property
    def actor(self) -> Principal:
        if self.principal is None:
            raise Refused("Log in first", bad=True)
        return self.principal

    @property
    def selected(self) -> SelectedView:
        if self.view is None:
            raise Refused("No mailbox selected", bad=True)
        return self.view

    # -- responses ----------------------------------------------------------------------

    def untagged(self, *parts: bytes | str) -> None:
        self.channel.write(b"* " + b"".join(_b(p) for p in parts) + b"\r\n")

    def write(self, data: bytes) -> None:
        self.channel.write(data)

    # -- mailbox names ------------------------------------------------------------------

    @property
    def utf8(self) -> bool:
        """Mailbox names in UTF-8: RFC 6855 UTF8=ACCEPT, or IMAP4rev2 (RFC 9051 §5.1)."""
        return "UTF8=ACCEPT" in self.enabled or self.rev2

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    def mailbox_in(self, text: str) -> str:
        """A mailbox name from the client: modified UTF-7 (RFC 3501 §5.1.3) unless the
        session enabled UTF8=ACCEPT (RFC 6855 §3), where it is UTF-8 as it stands."""
        if self.utf8:
            return text
        try:
            return wire.decode_mutf7(text)
        except ValueError as error:
            raise Refused(f"Invalid modified UTF-7 mailbox name: {error}", "CANNOT") from None

    def mailbox_out(self, name: str) -> bytes:
        """A mailbox name for the wire, as this session reads them."""
        if self.utf8:
            return wire.astring(name, utf8=True)
        return wire.astring(wire.encode_mutf7(name))

    # -- selection ----------------------------------------------------------------------

    def log_in(self, principal: Principal) -> bool:
        """Become `principal`, unless the account has too many connections already."""
        user_id = principal.user_id
        assert user_id is not None
        if self.accounts.count(_account_key(user_id)) >= self.limits.max_per_user:
            return False
        self.accounts.add(_account_key(user_id), 1)
        self.principal = principal
        self.state = State.AUTHENTICATED
        self.hidden = self.hide(principal.address)
        self.start_events()
        return True

    def start_events(self) -> None:
        """Receive the user's mail events (published in service threads) on this loop,
        through the listener's LoopEvents (or one of its own)."""
        user_id = self.actor.user_id
        assert user_id is not None
        events = self.loop_events or LoopEvents(self.services.events)
        self._unsubscribe = events.subscribe(user_id, self._receive)

    def _receive(self, event: MailboxEvent) -> None:
        if self.view is not None:
            self.view.receive(event)
        if self.notifier is not None:
            self.notifier.receive(event)

    def notify(self, notifier: Notifier | None) -> None:
        """Replace the NOTIFY settings (None: NOTIFY NONE)."""
        if self.notifier is not None:
            self.notifier.stop()
        self.notifier = notifier

    async def enable_condstore(self) -> None:
        """RFC 7162 §3.1: the first CONDSTORE-enabling command while a mailbox is
        selected also reports the mailbox's HIGHESTMODSEQ."""
        if "CONDSTORE" in self.enabled:
            return
        self.enabled.add("CONDSTORE")
        if self.view is not None:
            info = await self.call(self.services.mailboxes.get, self.actor, self.view.name)
            self.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % info.highestmodseq)

    async def flush_updates(self, *, expunges: bool = True) -> None:
        """Tell the client what changed in the selected mailbox (RFC 9051 §7.5.1: callers
        pass expunges=False after FETCH, STORE and SEARCH). New mail is \\Recent to the
        first read-write session that claims it (RFC 3501 §2.3.2)."""
        if self.view is not None:
            claimed = False
            arrived = self.view.arrived()
            if arrived:
                arrived = await self._take_in_before(arrived)
            top, box = max(arrived, default=0), self.view.mailbox_id
            if arrived and not self.view.readonly and (self.recent_claimed.get(box) or 0) < top:
                # Noted before the claim: the sessions woken with this one do not ask.
                self.recent_claimed.put(box, top)
                search = self.services.search
                with contextlib.suppress(GroupwareError):  # gone meanwhile: not recent
                    claimed = await self.call(
                        search.claim_recent_upto, self.actor, self.view.name, top
                    )
            results = await self._context_results(expunges) if self.view.pending else {}
            for tag, new in results.items():
                self._write(self.contexts[tag].removals(new, self.view))
            lines = self.view.updates(
                claimed=claimed,
                expunges=expunges,
                condstore="CONDSTORE" in self.enabled,
                qresync="QRESYNC" in self.enabled,
            )
            for line in lines:
                self.channel.write(line)
            for tag, new in results.items():
                self._write(self.contexts[tag].additions(new, self.view))

    async def _take_in_before(self, arrived: list[int]) -> list[int]:
        """New mail is numbered in UID order: messages stored before the newest one
        heard of whose own events have not come yet (they come from other processes,
        later) are read from the store now, so that no number is given twice."""
        view = self.selected
        low = max(view.uids[-1] if view.uids else 0, view.uidnext - 1)
        heard = set(arrived)
        missing = [u for u in range(low + 1, max(arrived)) if u not in heard and view.is_news(u)]
        if not missing:
            return arrived
        with contextlib.suppress(GroupwareError):  # the mailbox went: its event tells
            found = await self.call(self.services.fetch.summaries, self.actor, view.name, missing)
            user_id = self.actor.user_id
            assert user_id is not None
            for summary in found:
                view.flags[summary.uid] = summary.flags
                view.flag_modseqs[summary.uid] = summary.modseq
                view.pending.append(
                    MessageAdded(user_id, view.mailbox_id, summary.uid, summary.modseq)
                )
        return view.arrived()

    def expunged(self, uids: list[int]) -> None:
        """This session expunged `uids`: REMOVEFROM for updating searches (numbered before
        the EXPUNGEs), then the EXPUNGEs (or VANISHED)."""
        view = self.selected
        for context in self.contexts.values():
            kept = context.uids.difference(uids)
            self._write(context.removals(kept, view))
            context.uids = kept
        for line in view.expunge(uids, "QRESYNC" in self.enabled):
            self.channel.write(line)

    async def _context_results(self, expunges: bool) -> dict[str, set[int]]:
        """Each updating search run again (RFC 5267 §4.2), as UIDs the view will hold
        once the pending events are told; an expunge not yet told keeps its message."""
        view = self.selected
        if not self.contexts:
            return {}
        waiting = {u for e in view.pending if isinstance(e, Expunged) for u in e.uids}
        after = set(view.uids) | set(view.arrived())
        if expunges:
            after -= waiting
        results = {}
        search = self.services.search
        for tag, context in self.contexts.items():
            try:
                found = await self.call(search.search, self.actor, view.name, context.key)
            except GroupwareError:  # the mailbox went away: the view ends anyway
                return {}
            new = after.intersection(found)
            if not expunges:
                new |= context.uids & waiting & after
            results[tag] = new
        return results

    def _write(self, line: bytes | None) -> None:
        if line is not None:
            self.channel.write(line)

    def deselect(self) -> None:
        self.view = None
        self.saved_search = ()
        self.contexts.clear()
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    def close(self) -> None:
        """The connection ended: stop receiving events, free the account's slot."""
        self.view = None
        self.notify(None)
        if self.principal is not None and self.principal.user_id is not None:
            self.accounts.add(_account_key(self.principal.user_id), -1)
            self.principal = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _account_key(user_id: int) -> str:
    """The key of an account's logged-in IMAP connections, on both IMAP ports."""
    return f"imap user {user_id}"


def _b(part: Any) -> bytes:
    return part if isinstance(part, bytes) else str(part).encode()
