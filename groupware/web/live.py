"""Live updates for open webmail pages: each change to the user's mail (a delivery, a
flag set over IMAP or in another tab, an expunge, a folder made or removed) becomes a
server-sent event, "event: mail" with the kind of change and the folder's id, which the
page answers by fetching what it shows again (frontend/static/mail.js).

The stream is carried on the asyncio loop (web/eventstreams.py), so an open tab holds
a connection but no thread; a subscriber runs in the publishing thread and only hands
the event to that loop.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from groupware.services.core.events import MailboxEvent

# The first thing sent: how long a browser waits before reconnecting (ms), and a
# comment that makes every proxy pass the response's head on at once.
OPENING = b"retry: 3000\n: live\n\n"


MAX_PER_USER = 10  # open streams of one user (tabs; a browser keeps one per window)
RECHECK = 30.0  # seconds an answer of `alive` is believed


class TooMany(Exception):
    """The user has MAX_PER_USER streams open already."""


class MailFeed:
    """One open page's stream of the changes to one user's mail: `changed` is the
    listener to subscribe, `watching` takes what ends the subscription. `alive` says
    whether the session that opened it still stands: once it ended (a logout, a new
    password), no event is sent and the stream ends."""

    _lock = threading.Lock()
    _open: ClassVar[dict[int, int]] = {}  # user id → streams open

    def __init__(self, user_id: int, alive: Callable[[], bool]) -> None:
        with MailFeed._lock:
            if MailFeed._open.get(user_id, 0) >= MAX_PER_USER:
                raise TooMany(f"at most {MAX_PER_USER} live pages per user")
            MailFeed._open[user_id] = MailFeed._open.get(user_id, 0) + 1
        self._user_id = user_id
        self._alive = alive
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._send: Callable[[bytes], bool] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stopped = False

    def watching(self, unsubscribe: Callable[[], None]) -> None:
        with self._lock:
            stopped, self._unsubscribe = self._stopped, unsubscribe
        if stopped:
            unsubscribe()

    def start(self, send: Callable[[bytes], bool]) -> None:
        with self._lock:
            self._send = send

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            unsubscribe, self._unsubscribe, self._send = self._unsubscribe, None, None
            self._stopped = True
        with MailFeed._lock:
            left = MailFeed._open.get(self._user_id, 1) - 1
            if left > 0:
                MailFeed._open[self._user_id] = left
            else:
                MailFeed._open.pop(self._user_id, None)
        if unsubscribe is not None:
            unsubscribe()

    def changed(self, event: MailboxEvent) -> None:
        send = self._send
        if send is None:
            return
        if time.monotonic() - self._checked > RECHECK:
            self._checked = time.monotonic()
            if not self._alive():
                send(b"event: ended\ndata: {}\n\n")
                self.stop()  # the connection ends at its next write or its lifetime
                return
        data = json.dumps({"change": type(event).__name__, "folder": event.mailbox_id})
        if not send(f"event: mail\ndata: {data}\n\n".encode()):
            self.stop()
