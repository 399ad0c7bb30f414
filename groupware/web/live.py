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
from collections.abc import Callable

from groupware.services.core.events import MailboxEvent

# The first thing sent: how long a browser waits before reconnecting (ms), and a
# comment that makes every proxy pass the response's head on at once.
OPENING = b"retry: 3000\n: live\n\n"


class MailFeed:
    """One open page's stream of the changes to one user's mail: `changed` is the
    listener to subscribe, `watching` takes what ends the subscription."""

    def __init__(self) -> None:
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
            unsubscribe, self._unsubscribe, self._send = self._unsubscribe, None, None
            self._stopped = True
        if unsubscribe is not None:
            unsubscribe()

    def changed(self, event: MailboxEvent) -> None:
        send = self._send
        if send is None:
            return
        data = json.dumps({"change": type(event).__name__, "folder": event.mailbox_id})
        if not send(f"event: mail\ndata: {data}\n\n".encode()):
            self.stop()
