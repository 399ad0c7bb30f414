"""What one worker or a command changes about who may log in or reach what holds in
every worker at once, not when a cache there expires: a share revoked (AccessChanged,
carried like mail events: services/core/events.py), a password changed (remembered
logins read the account's credentials on each use: services/auth/remembered.py). The
change is made as `groupware` commands make it: in another process, telling the running
servers (Runtime.telling_servers)."""

from __future__ import annotations

import base64
import http.client
import imaplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD
from tests.integration.imapservers import PASSWORD, PATIENCE, USER, ImapServer
from tests.integration.test_workers import WORKERS, owner, workers_of

BOB = "bob@example.test"
CALENDAR = f"{USER}/calendar"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:secret\r\n"
    "DTSTAMP:20261201T000000Z\r\nDTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\n"
    "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


class Dav:
    """One kept-alive HTTP connection, so that its requests reach one worker."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
        self.connection.connect()
        assert self.connection.sock is not None
        self.local_port = self.connection.sock.getsockname()[1]

    def status(self, user: str, password: str, method: str, path: str, body: str = "") -> int:
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": auth, "Depth": "0"}
        self.connection.request(method, path, body=body.encode(), headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ImapServer]:
    served = ImapServer(tmp_path / "server", database_url, WORKERS, http=True)
    served.initialise(ADMIN_PASSWORD, [USER, BOB], PASSWORD)
    with served:
        served.start()
        yield served


def on_each_worker(server: ImapServer, port: int, open_one):  # type: ignore[no-untyped-def]
    """One connection held by each worker, opened with `open_one(port)`."""
    deadline = time.monotonic() + PATIENCE
    while len(workers := workers_of(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    held: dict[int, object] = {}
    for _ in range(40):
        made = open_one(port)
        pid = owner(workers, port, local_port(made))
        if pid is not None and pid not in held:
            held[pid] = made
        else:
            close(made)
        if len(held) == 2:
            return list(held.values())
    raise AssertionError("the kernel gave every connection to one worker")


def local_port(made: object) -> int:
    if isinstance(made, Dav):
        return made.local_port
    assert isinstance(made, imaplib.IMAP4)
    return int(made.sock.getsockname()[1])


def close(made: object) -> None:
    if isinstance(made, Dav):
        made.connection.close()
    elif isinstance(made, imaplib.IMAP4):
        made.shutdown()


def test_a_revoked_share_and_a_new_password_hold_in_every_worker_at_once(
    server: ImapServer,
) -> None:
    first = Dav(server.http_port)
    assert first.status(USER, PASSWORD, "PROPFIND", f"/dav/{USER}/") == 207  # her home
    assert first.status(USER, PASSWORD, "PUT", f"/dav/{CALENDAR}/secret.ics", EVENT) == 201
    first.connection.close()
    command = server.runtime()  # as `groupware share …` would, from its own process
    try:
        owner_ = command.services.calendars.principal_of(USER)
        assert owner_ is not None
        with command.telling_servers():
            share = command.services.sharing.share(owner_, CALENDAR, BOB, "read")
        shared = f"/dav/{BOB}/shared-{share.id}/secret.ics"
        davs: list[Dav] = on_each_worker(server, server.http_port, Dav)
        for dav in davs:  # each worker now remembers Bob's shares and rights for 2 s
            assert dav.status(BOB, PASSWORD, "GET", shared) == 200
        with command.telling_servers():
            command.services.sharing.unshare(owner_, CALENDAR, BOB)
        for dav in davs:
            assert refused_soon(lambda d=dav: d.status(BOB, PASSWORD, "GET", shared) in (403, 404))

        imaps: list[imaplib.IMAP4] = on_each_worker(server, server.imap_port, imap_of)
        for imap in imaps:
            imap.login(BOB, PASSWORD)  # remembered by each worker
        for dav in davs:
            assert dav.status(BOB, PASSWORD, "PROPFIND", f"/dav/{BOB}/") == 207
        command.services.directory.set_password(SYSTEM, BOB, "A-new-password-5678")
        for dav in davs:
            assert dav.status(BOB, PASSWORD, "PROPFIND", f"/dav/{BOB}/") == 401
            assert dav.status(BOB, "A-new-password-5678", "PROPFIND", f"/dav/{BOB}/") == 207
        for imap in imaps:
            imap.logout()
        for imap in on_each_worker(server, server.imap_port, imap_of):
            with pytest.raises(imaplib.IMAP4.error):
                imap.login(BOB, PASSWORD)
            imap.login(BOB, "A-new-password-5678")
            imap.logout()
        for dav in davs:
            dav.connection.close()
    finally:
        command.close()


def imap_of(port: int) -> imaplib.IMAP4:
    return imaplib.IMAP4("127.0.0.1", port, timeout=PATIENCE)


def refused_soon(check) -> bool:  # type: ignore[no-untyped-def]
    """Whether `check()` holds within a quarter of a second: the event's way to the other
    worker takes milliseconds; the caches it empties would keep their answers 2 s."""
    deadline = time.monotonic() + 0.25
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
