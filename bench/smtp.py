"""SMTP (MX) benchmark: durable messages accepted per second, and latency, against a
`groupware serve` process, next to this machine's fsync rate measured in the same run.

Starts a loopback DNS server (harness/dnsserver.py, in a child process) and the server on a
temporary data directory (SQLite by default; --database-url for PostgreSQL, where a schema
of its own is made and dropped), then for each size and number of connections has every
connection send distinct messages for --seconds:
  kept   one kept-open connection per client, one message per SMTP transaction
  new    a new connection per message (connect, EHLO, MAIL, RCPT, DATA, QUIT)
Each 250 means the blob was fsynced and the row committed (DESIGN.md "Accepted means
durable"). Each figure is the median of --repeat runs; p50/p99 come from the median run.
The fsync rate is 4 KiB appended and fsynced in a loop in the same data directory;
"msg/fsync" is a row's rate over it, "cpu %" and "cpu ms/msg" the server process's CPU
time (user + system, all threads) over the run and per accepted message.
Prints a table, the server's memory and one JSON line; exits 0. CI never runs it.
--workers N runs the server as a supervisor and N worker processes ([server] workers);
CPU time and PSS are then summed over all of them.
Usage: python bench/smtp.py [--seconds 5] [--connections 1,8,32] [--sizes 4096,102400]
       [--modes kept,new] [--repeat 3] [--database-url postgresql+psycopg://…] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import drop_schema, numbers, postgres_schema  # noqa: E402
from harness.serverprocess import ServerProcess  # noqa: E402

PASSWORD = "Bench-pass-1234"
USERS = [f"bench{i}@example.test" for i in range(8)]
SENDER = "sender@elsewhere.example"

# The DNS server runs in a child so its threads do not share the clients' interpreter.
DNS_SCRIPT = """
import sys
from harness.dnsserver import DNSServer
with DNSServer() as dns:
    print(dns.address, flush=True)
    sys.stdin.read()
    print(len(dns.queries), flush=True)
"""


def fsync_rate(folder: Path, seconds: float) -> float:
    """fsyncs per second: append 4 KiB and fsync, in a loop, in `folder`."""
    path = folder / "fsync-probe"
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            os.write(fd, block)
            os.fsync(fd)
            count += 1
        return count / elapsed
    finally:
        os.close(fd)
        path.unlink()


def make_message(size: int, serial: str) -> bytes:
    """A message of about `size` bytes whose bytes no other message has (no blob sharing)."""
    head = (
        f"From: Bench <{SENDER}>\r\nTo: {USERS[0]}\r\nSubject: bench {serial}\r\n"
        f"Message-ID: <{serial}@elsewhere.example>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog; " + serial.encode() + b"\r\n"
    count = max(1, (size - len(head)) // len(line))
    return head + line * count


class Run:
    """`connections` threads sending `size`-byte messages until the deadline."""

    def __init__(self, server: ServerProcess, size: int, connections: int, mode: str) -> None:
        self.server = server
        self.port, self.size, self.connections, self.mode = (
            server.smtp_port,
            size,
            connections,
            mode,
        )
        self.latencies: list[float] = []
        self.errors = 0
        self.reasons: dict[str, int] = {}
        self.lock = threading.Lock()

    def go(self, seconds: float) -> dict[str, object]:
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self._client, args=(index, deadline))
            for index in range(self.connections)
        ]
        started, cpu = time.monotonic(), self.server.cpu_seconds()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        cpu = self.server.cpu_seconds() - cpu
        latencies = sorted(self.latencies)
        return {
            "mode": self.mode,
            "size": self.size,
            "connections": self.connections,
            "count": len(latencies),
            "errors": self.errors,
            "error_kinds": self.reasons,
            "msgs_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99)], 2) if latencies else None,
            "server_cpu_percent": round(100 * cpu / elapsed),
            "server_cpu_ms_per_msg": round(1000 * cpu / len(latencies), 2) if latencies else None,
        }

    def _client(self, index: int, deadline: float) -> None:
        recipient = [USERS[index % len(USERS)]]
        mine: list[float] = []
        errors = 0
        client: smtplib.SMTP | None = None
        prefix = uuid.uuid4().hex[:8]
        number = 0
        try:
            while time.monotonic() < deadline:
                number += 1
                data = make_message(self.size, f"{prefix}-{index}-{number}")
                start = time.perf_counter()
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
                        client.ehlo("bench.example")
                    client.sendmail(SENDER, recipient, data)
                    if self.mode == "new":
                        client.quit()
                        client = None
                except (smtplib.SMTPException, OSError) as error:
                    errors += 1
                    reason = f"{type(error).__name__} {getattr(error, 'smtp_code', '')}".strip()
                    with self.lock:
                        self.reasons[reason] = self.reasons.get(reason, 0) + 1
                    if client is not None:
                        client.close()
                    client = None
                    continue
                mine.append((time.perf_counter() - start) * 1000)
        finally:
            if client is not None:
                client.close()
            with self.lock:
                self.latencies.extend(mine)
                self.errors += errors


def median_run(
    server: ServerProcess, size: int, connections: int, mode: str, args: argparse.Namespace
) -> dict[str, object]:
    runs = [Run(server, size, connections, mode).go(args.seconds) for _ in range(args.repeat)]
    runs.sort(key=lambda row: float(row["msgs_per_s"]))  # type: ignore[arg-type]
    return runs[len(runs) // 2]


def measure(
    server: ServerProcess, modes: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, object]], list[float], dict[str, int]]:
    """Every row, the fsync rates measured around them, and the server's memory (KiB)."""
    server.initialise(PASSWORD, USERS, PASSWORD)
    server.start()
    print(f"server pid {server.pid}, data in {server.data_dir}", file=sys.stderr)
    Run(server, 4096, len(USERS), "kept").go(0.5)  # every INBOX made, warm
    idle, idle_pss = server.rss_kib(), server.pss_kib()
    rows: list[dict[str, object]] = []
    fsyncs = [fsync_rate(server.data_dir, args.fsync_seconds)]
    for mode in modes:
        for size in args.sizes:
            for connections in args.connections:
                row = median_run(server, size, connections, mode, args)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
        fsyncs.append(fsync_rate(server.data_dir, args.fsync_seconds))
    memory = {
        "idle": idle,
        "after": server.rss_kib(),
        "peak": server.rss_kib("VmHWM"),
        "idle_pss_all_processes": idle_pss,
        "after_pss_all_processes": server.pss_kib(),
    }
    server.stop()
    return rows, fsyncs, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure and run")
    parser.add_argument("--connections", type=numbers, default=[1, 8, 32])
    parser.add_argument("--sizes", type=numbers, default=[4096, 102400])
    parser.add_argument("--modes", default="kept,new", help="kept, new or both")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--fsync-seconds", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=1, help="[server] workers")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip() in {"kept", "new"}]

    schema = ""
    database_url = args.database_url
    if database_url:
        schema, database_url = postgres_schema(args.database_url)
    dns = subprocess.Popen(
        [sys.executable, "-c", DNS_SCRIPT],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert dns.stdout is not None and dns.stdin is not None
    try:
        nameserver = dns.stdout.readline().strip()
        with tempfile.TemporaryDirectory(prefix="bench-smtp-") as folder:
            url = database_url or f"sqlite:///{Path(folder) / 'var' / 'groupware.db'}"
            # Every client comes from 127.0.0.1: lift the per-address connection limit.
            limits = "[smtp]\nmax_connections_per_ip = 10000\n"
            limits += f"[server]\nworkers = {args.workers}\n"
            with ServerProcess(Path(folder), url, nameserver, extra=limits) as server:
                rows, fsyncs, memory = measure(server, modes, args)
    finally:
        dns.stdin.close()
        dns_queries = int(dns.stdout.readline().strip() or 0)
        dns.wait(10)
        if schema:
            drop_schema(args.database_url, schema)

    fsync_per_s = statistics.median(fsyncs)
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"SMTP MX on {backend}, {os.cpu_count()} CPUs, {args.workers} worker(s), median of"
        f" {args.repeat} x {args.seconds} s"
    )
    print(
        f"{'mode':<6}{'size':>8}{'conns':>7}{'count':>8}{'errors':>7}{'msg/s':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'msg/fsync':>11}{'cpu %':>7}{'cpu ms/msg':>11}"
    )
    for row in rows:
        ratio = float(row["msgs_per_s"]) / fsync_per_s  # type: ignore[arg-type]
        row["per_fsync"] = round(ratio, 3)
        print(
            f"{row['mode']:<6}{row['size']:>8}{row['connections']:>7}{row['count']:>8}"
            f"{row['errors']:>7}{row['msgs_per_s']:>9}{row['p50_ms']:>9}{row['p99_ms']:>9}"
            f"{ratio:>11.3f}{row['server_cpu_percent']:>7}{row['server_cpu_ms_per_msg']:>11}"
        )
    print(
        f"fsync (4 KiB append + fsync, same directory): {fsync_per_s:.0f}/s "
        f"(runs: {', '.join(f'{f:.0f}' for f in fsyncs)})"
    )
    print(
        f"server RSS: {memory['idle'] / 1024:.1f} MiB idle, {memory['after'] / 1024:.1f} MiB "
        f"after the run, peak {memory['peak'] / 1024:.1f} MiB (the first process); PSS of all"
        f" its processes {memory['idle_pss_all_processes'] / 1024:.1f} MiB idle,"
        f" {memory['after_pss_all_processes'] / 1024:.1f} MiB after; DNS queries: {dns_queries}"
    )
    print(
        json.dumps(
            {
                "bench": "smtp",
                "backend": backend,
                "workers": args.workers,
                "seconds": args.seconds,
                "repeat": args.repeat,
                "fsync_per_s": round(fsync_per_s, 1),
                "rows": rows,
                "rss_kib": memory,
                "dns_queries": dns_queries,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
