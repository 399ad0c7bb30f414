"""Login storm: many IMAP clients reconnecting at once (a restart, a network back).

Starts `groupware serve` (SQLite on a temporary data directory) with --users accounts,
then --clients threads log in and out over IMAP (plain, loopback; a plain socket client
that sends LOGIN and LOGOUT) --logins times in all, spread over the accounts, as phones
do after a restart; first on a server that has seen none of them, then again on the
same server (every account seen once), then after a restart of the server. Per phase:
wall time, logins/s, p50 and p99 of one LOGIN, and the server's CPU seconds. Target
(issue 16): 10,000 reconnects in <= 30 s.
--workers N: the server as N worker processes (CPU summed over them).
Usage: python bench/logins.py [--users 200] [--logins 10000] [--clients 50] [--no-cache]
       [--workers N]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harness.serverprocess import ServerProcess, free_port  # noqa: E402

PASSWORD = "Bench-pass-1234"


def login_once(port: int, user: str) -> float:
    """Connect, wait for the greeting, LOGIN, LOGOUT: the LOGIN's seconds. A plain socket
    client (as light as a load generator on the server's own cores can be; imaplib spent
    about as much CPU per login as the server did, and asks CAPABILITY first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        lines = sock.makefile("rb")
        if not lines.readline().startswith(b"* OK"):
            raise RuntimeError("no greeting")
        started = time.perf_counter()
        sock.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(), PASSWORD.encode()))
        line = lines.readline()
        while line and not line.startswith(b"a "):
            line = lines.readline()
        spent = time.perf_counter() - started
        if not line.startswith(b"a OK"):
            raise RuntimeError(f"LOGIN refused: {line!r}")
        sock.sendall(b"b LOGOUT\r\n")
        while line and not line.startswith(b"b "):
            line = lines.readline()
        return spent


def storm(port: int, users: list[str], logins: int, clients: int) -> tuple[float, list[float]]:
    times: list[float] = []
    lock = threading.Lock()
    counter = iter(range(logins))
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            try:
                spent = login_once(port, users[number % len(users)])
            except BaseException as error:
                errors.append(error)
                return
            with lock:
                times.append(spent * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, times


def wait_for_port(port: int) -> None:
    """The server answers on its SMTP port first; IMAP starts a moment later."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no IMAP listener on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--logins", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--no-cache", action="store_true", help="auth.login_cache = 0 (before)")
    parser.add_argument("--workers", type=int, default=1, help="[server] workers")
    args = parser.parse_args()
    users = [f"user{n}@example.test" for n in range(args.users)]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-logins-") as folder:
        port = free_port()
        extra = "[imap]\nmax_connections_per_ip = 100000\n[auth]\nmax_failures_per_ip = 1000000\n"
        if args.no_cache:
            extra += "login_cache = 0\n"
        extra += f"[server]\nworkers = {args.workers}\n"
        server = ServerProcess(Path(folder), f"sqlite:///{folder}/g.db", "127.0.0.1:9", extra=extra)
        text = server.config_path.read_text()
        server.config_path.write_text(
            text.replace("[listen]\n", f'[listen]\nimap = "127.0.0.1:{port}"\n', 1)
        )
        print(f"adding {len(users)} accounts…", file=sys.stderr)
        server.initialise(PASSWORD, users, PASSWORD)
        for phase in ("first", "again", "restarted"):
            if phase != "again":
                if server.process is not None:
                    server.stop()
                server.start()
                wait_for_port(port)
            cpu = server.cpu_seconds()
            wall, times = storm(port, users, args.logins, args.clients)
            ordered = sorted(times)
            results[phase] = {
                "seconds": round(wall, 1),
                "per_s": round(len(times) / wall),
                "p50_ms": round(statistics.median(ordered), 1),
                "p99_ms": round(ordered[int(len(ordered) * 0.99)], 1),
                "server_cpu_s": round(server.cpu_seconds() - cpu, 1),
            }
            row = results[phase]
            print(
                f"{phase:<10} {args.logins} logins in {row['seconds']} s ({row['per_s']}/s), "
                f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
                f"server CPU {row['server_cpu_s']} s"
            )
        server.stop()
    print(
        json.dumps(
            {"users": args.users, "clients": args.clients, "workers": args.workers, **results}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
