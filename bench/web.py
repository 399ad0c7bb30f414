"""Web portal benchmark: logins (argon2id checks) and admin pages, with server memory.

Starts `groupware serve` on a temporary SQLite data directory, seeds a directory of
USERS accounts, then measures with 1 and 8 concurrent clients:
  login      POST /login with the right password (argon2id verify + audit row)
  users      GET /admin/users as admin (the whole user list)
  account    GET /account as a plain user
and prints ops/s, p50 and p99 per row, the server's resident memory, and a JSON line.
With --calendar, the calendar, contacts and free/busy pages instead (bench/calendarweb.py
says what and how: month and week views of 2,000 events, saving one, search-as-you-type in
5,000 contacts, free/busy of 10 people for a week).
Usage: python bench/web.py [--users 200] [--seconds 5]
       python bench/web.py --calendar [--events 2000] [--series 200] [--cards 5000]

"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

PASSWORD = "Bench-pass-1234"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import calendarweb  # noqa: E402  (after the path: run as a script)

GROUPWARE = [sys.executable, "-m", "groupware"]


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode()

    def log_in(self, login: str) -> None:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', self.get("/login"))
        assert token is not None
        form = {"csrf_token": token.group(1), "login": login, "password": PASSWORD}
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=60) as response:
            response.read()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(operation: str, clients: list[Client], seconds: float, action) -> dict[str, object]:
    """Each client thread repeats `action(client)` until time is up; latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(client: Client) -> None:
        mine = []
        while time.monotonic() < deadline:
            start = time.perf_counter()
            action(client)
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "operation": operation,
        "clients": len(clients),
        "count": len(latencies),
        "ops_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--calendar", action="store_true", help="calendar, contacts, free/busy")
    calendarweb.arguments(parser)
    args = parser.parse_args()
    if args.calendar:
        print(json.dumps(calendarweb.run(args)))
        return 0

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = Path(folder) / "groupware.toml"
        config.write_text(
            f'hostname = "mail.bench.test"\ndata_dir = "{folder}/var"\n'
            f'[listen]\nhttp = "127.0.0.1:{port}"\n'
            "[auth]\nmax_failures_per_ip = 1000000\n"
            "[server]\nworkers = 1\n"  # as measured before workers came
        )
        env = {**os.environ, "GROUPWARE_CONFIG": str(config)}
        subprocess.run(
            [*GROUPWARE, "init", "--admin-password", PASSWORD],
            env=env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        seed = "\n".join(f"user{i}@bench.test" for i in range(args.users))
        subprocess.run(
            [sys.executable, "-c", SEED_SCRIPT, str(config), PASSWORD],
            input=seed,
            text=True,
            env=env,
            check=True,
            cwd=ROOT,
        )
        server = subprocess.Popen(
            [*GROUPWARE, "serve"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/login", timeout=1).read()
                    break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.1)
            idle_kib = rss_kib(server.pid)
            rows = []
            for concurrency in (1, 8):
                clients = [Client(base) for _ in range(concurrency)]
                rows.append(
                    run("login", clients, args.seconds, lambda c: c.log_in("user1@bench.test"))
                )
                admins = [Client(base) for _ in range(concurrency)]
                for client in admins:
                    client.log_in("admin@bench.test")
                rows.append(
                    run(
                        f"users ({args.users})",
                        admins,
                        args.seconds,
                        lambda c: c.get("/admin/users"),
                    )
                )
                users = [Client(base) for _ in range(concurrency)]
                for client in users:
                    client.log_in("user2@bench.test")
                rows.append(run("account", users, args.seconds, lambda c: c.get("/account")))
            busy_kib = rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(30)

    print(f"{'operation':<14}{'clients':>8}{'count':>8}{'ops/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(
            f"{row['operation']:<14}{row['clients']:>8}{row['count']:>8}{row['ops_per_s']:>9}"
            f"{row['p50_ms']:>9}{row['p99_ms']:>9}"
        )
    print(f"server RSS: {idle_kib / 1024:.1f} MiB idle, {busy_kib / 1024:.1f} MiB after the run")
    print(
        json.dumps(
            {"bench": "web", "rows": rows, "rss_idle_kib": idle_kib, "rss_after_kib": busy_kib}
        )
    )
    return 0


# Runs in a child process: the seeding uses the services directly (one argon2 hash each).
SEED_SCRIPT = """
import sys
from groupware import config, runtime
from groupware.services.core.access import SYSTEM
built = runtime.build(config.load(sys.argv[1]))
for address in sys.stdin.read().split():
    built.services.directory.add_user(SYSTEM, address, sys.argv[2])
built.close()
"""

if __name__ == "__main__":
    raise SystemExit(main())
