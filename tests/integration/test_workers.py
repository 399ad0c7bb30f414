"""`[server] workers = 2`: a supervisor and two worker processes serving the same ports
(groupware/supervisor.py). An IDLE on either worker hears a delivery the other took in
(the supervisor's socket carries events on SQLite, NOTIFY on PostgreSQL); a worker
killed is started again while the other keeps its connections; SIGHUP replaces both
(unless the new ones cannot start); SIGTERM ends them all.
"""

from __future__ import annotations

import http.client
import imaplib
import os
import re
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import config as config_module
from groupware import tlscerts
from tests.conftest import ADMIN_PASSWORD
from tests.integration.imapservers import PASSWORD, PATIENCE, USER, Idler, ImapServer, deliver

WORKERS = '[server]\nworkers = 2\n[store]\nblobs = "database"\n'
MAX_CONNECTIONS = 40  # opened until both workers hold one


def workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(int(child) for child in children)


def owner(workers: list[int], server_port: int, client_port: int) -> int | None:
    """Which worker holds the server side of the connection from `client_port`."""
    wanted = f":{server_port:04X} " + r"[0-9A-F]+:" + f"{client_port:04X} "
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        if re.search(wanted, line):
            inode = line.split()[9]
    if inode is None:
        return None
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ImapServer]:
    served = ImapServer(tmp_path / "server", database_url, WORKERS)
    served.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    with served:
        served.start()
        yield served


def idlers_on_both(server: ImapServer, workers: list[int]) -> dict[int, list[Idler]]:
    """IDLE connections, opened until each worker holds at least one."""
    held: dict[int, list[Idler]] = {pid: [] for pid in workers}
    for _ in range(MAX_CONNECTIONS):
        idler = Idler(server.imap_port)
        pid = owner(workers, server.imap_port, idler.sock.getsockname()[1])
        assert pid is not None, "no worker holds the connection"
        held[pid].append(idler)
        if all(held.values()):
            return held
    raise AssertionError(f"the kernel gave every connection to one worker: {held}")


def test_two_workers_share_news_survive_a_death_and_stop_together(server: ImapServer) -> None:
    deadline = time.monotonic() + PATIENCE
    while len(workers := workers_of(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2
    events = server.data_dir / "events.sock"  # SQLite's carrier: the server's user only
    assert not events.exists() or events.stat().st_mode & 0o077 == 0

    held = idlers_on_both(server, workers)
    try:
        deliver(server, "First")  # taken in by one of them
        for idlers in held.values():
            for idler in idlers:
                idler.until(rb"^\* 1 EXISTS")
    finally:
        for idlers in held.values():
            for idler in idlers:
                idler.close()

    # One worker dies: the supervisor starts another; the survivor's IDLE never noticed.
    survivor, victim = workers
    idler = Idler(server.imap_port)
    while owner(workers, server.imap_port, idler.sock.getsockname()[1]) != survivor:
        idler.close()
        idler = Idler(server.imap_port)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        now = workers_of(server.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.05)
    assert len(now) == 2 and survivor in now and victim not in now
    time.sleep(0.5)  # the new worker's ports and event channel are up
    for number in (2, 3, 4):  # some land on the new worker
        deliver(server, f"After the death {number}")
    idler.until(rb"^\* 4 EXISTS")
    idler.close()

    # SIGHUP: a new set of workers (the configuration and certificates read again), then
    # the old ones stop; the ports never go unserved.
    os.kill(server.pid, signal.SIGHUP)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        fresh = workers_of(server.pid)
        if len(fresh) == 2 and not set(fresh) & set(now):
            break
        time.sleep(0.05)
    assert len(fresh) == 2 and not set(fresh) & set(now)
    deliver(server, "After the reload")
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as client:
        client.login(USER, PASSWORD)
        assert client.select("INBOX", readonly=True)[1] == [b"5"]
    now = fresh

    # A reload whose workers cannot start (a certificate that is not there) leaves the
    # running ones serving.
    good = server.config_path.read_text()
    server.config_path.write_text(good + '[tls]\ncert = "/nonexistent/cert.pem"\n')
    os.kill(server.pid, signal.SIGHUP)
    time.sleep(3)  # the new ones start, fail and are given up
    server.config_path.write_text(good)
    assert workers_of(server.pid) == now
    deliver(server, "After a failed reload")
    with imaplib.IMAP4("127.0.0.1", server.imap_port) as client:
        client.login(USER, PASSWORD)
        assert client.select("INBOX", readonly=True)[1] == [b"6"]
    assert "the old ones stay" in server.log(200_000)

    assert server.stop() == 0
    for pid in now:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_workers_end_with_a_killed_supervisor(server: ImapServer) -> None:
    """SIGKILL leaves the supervisor no time to stop anyone: the kernel tells the workers
    (PR_SET_PDEATHSIG), and none is left serving alone."""
    deadline = time.monotonic() + PATIENCE
    while len(workers := workers_of(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(workers) == 2
    server.kill()
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


LIMITED = WORKERS + "[imap]\nmax_connections_per_ip = 8\nmax_connections_per_user = 5\n"


def test_connection_limits_are_the_servers_not_each_workers(
    database_url: str, tmp_path: Path
) -> None:
    """Eight connections from one address, spread over both workers, are the address's
    whole allowance (protocols/tally.py): a ninth is turned away by either worker, and
    a place freed on one can be taken on the other. Logged-in connections of one
    account count alike."""
    served = ImapServer(tmp_path / "server", database_url, LIMITED)
    served.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    with served:
        served.start()
        deadline = time.monotonic() + PATIENCE
        while len(workers := workers_of(served.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for _attempt in range(10):  # until the kernel spreads the eight over both
            held = [connect(served.imap_port) for _ in range(8)]
            owners = {owner(workers, served.imap_port, s.getsockname()[1]) for s in held}
            if owners == set(workers):
                break
            for sock in held:
                sock.close()
            wait_until_free(served)
        assert owners == set(workers), "the kernel gave every connection to one worker"
        for _ in range(6):  # whichever worker takes them
            with connect(served.imap_port, greeting=b"* BYE Too many connections") as sock:
                pass
        held.pop().close()
        wait_until_free(served, expected=7)
        held.append(connect(served.imap_port))
        for sock in held:
            sock.close()

        wait_until_free(served)
        idlers = [Idler(served.imap_port) for _ in range(5)]  # the account's five
        try:
            with (
                imaplib.IMAP4("127.0.0.1", served.imap_port) as client,
                pytest.raises(imaplib.IMAP4.error, match="(?i)too many"),
            ):
                client.login(USER, PASSWORD)
        finally:
            for idler in idlers:
                idler.close()


def connect(port: int, greeting: bytes = b"* OK") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    said = sock.makefile("rb").readline()
    assert said.startswith(greeting), said
    return sock


def wait_until_free(server: ImapServer, expected: int = 0) -> None:
    """Until the workers hold `expected` connections to IMAP: a client's close is seen
    by the server a moment later."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        held = [
            line
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if line.split()[1].endswith(f":{server.imap_port:04X}")
            and line.split()[3] in ("01", "08")  # established, or closed by the client only
        ]
        if len(held) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{len(held)} connections still open, {expected} expected")


def test_a_reload_keeps_open_sessions_and_serves_new_ones_the_new_certificate(
    server: ImapServer,
) -> None:
    """SIGHUP with a new certificate: new connections get it from the new workers, while
    a session opened before stays with its old worker, which takes no new connection,
    hears news and ends only once that session has (nothing dropped)."""
    deadline = time.monotonic() + PATIENCE
    while len(old := workers_of(server.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    config = server.config
    before = certificate_of(server.imap_port)
    idler = Idler(server.imap_port)
    holder = owner(old, server.imap_port, idler.sock.getsockname()[1])
    assert holder in old

    config.tls.cert.unlink()
    config.tls.key.unlink()
    tlscerts.ensure_certificate(config.tls.cert, config.tls.key, config.hostname)
    os.kill(server.pid, signal.SIGHUP)
    deadline = time.monotonic() + PATIENCE
    while server.log(200_000).count("draining: new connections go") < 2:
        assert time.monotonic() < deadline, "the old workers were not told to drain"
        time.sleep(0.1)
    for _ in range(10):  # every new connection: the new workers, the new certificate
        assert certificate_of(server.imap_port) != before

    deliver(server, "During the drain")  # the old worker's session hears it, as ever
    idler.until(rb"^\* 1 EXISTS")
    deadline = time.monotonic() + PATIENCE
    while other := [pid for pid in old if pid != holder and Path(f"/proc/{pid}").exists()]:
        assert time.monotonic() < deadline, f"the idle old worker {other} did not end"
        time.sleep(0.1)
    assert Path(f"/proc/{holder}").exists()  # still serving its session
    idler.close()
    deadline = time.monotonic() + PATIENCE
    while holder in workers_of(server.pid):
        assert time.monotonic() < deadline, "the old worker stayed after its last session"
        time.sleep(0.1)
    assert len(workers_of(server.pid)) == 2


def certificate_of(port: int) -> bytes:
    """The certificate a new IMAP connection is given at STARTTLS."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with imaplib.IMAP4("127.0.0.1", port, timeout=PATIENCE) as client:
        client.starttls(context)
        der = client.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        assert der is not None
        return der


def test_a_reload_keeps_one_worker_per_core_and_the_portal_serving(
    database_url: str, tmp_path: Path
) -> None:
    """`workers` left at 0 (one per core) across a reload, with the portal on: the new
    set has as many workers, the old ones drain and end without an error, and the
    portal answers throughout."""
    served = ImapServer(tmp_path / "server", database_url, "[server]\nworkers = 0\n", http=True)
    if config_module.worker_count(served.config) < 2:
        pytest.skip("one core: one process, no supervisor")
    served.initialise(ADMIN_PASSWORD, [USER], PASSWORD)
    with served:
        served.start()
        count = config_module.worker_count(served.config)
        deadline = time.monotonic() + PATIENCE
        while len(old := workers_of(served.pid)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(old) == count
        portal = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=PATIENCE)
        portal.request("GET", "/login")
        assert portal.getresponse().status == 200
        os.kill(served.pid, signal.SIGHUP)
        while set(now := workers_of(served.pid)) & set(old) or len(now) != count:
            assert time.monotonic() < deadline + PATIENCE, f"workers {now}, before {old}"
            time.sleep(0.1)
        portal.close()
        portal = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=PATIENCE)
        portal.request("GET", "/login")
        assert portal.getresponse().status == 200
        portal.close()
        assert served.stop() == 0
        log = served.log(200_000)
        assert "Traceback" not in log and log.count("draining: new connections go") == count
