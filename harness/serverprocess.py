"""`groupware serve` as a child process, for tests and benchmarks about the process itself
(crash recovery, signals, throughput): its config file, set-up, start, SIGKILL, restart.

The set-up (schema, domain, users) runs in this process through the runtime, which is
what `groupware init` and `groupware user add` call, without a second of imports each.
Use it as a context manager: leaving the block kills the child if it still runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from groupware import config as config_module
from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.runtime import Runtime
from groupware.services.core.access import SYSTEM
from harness import processes

ROOT = Path(__file__).resolve().parents[1]
READY = "groupware ready"


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server: data under `folder`, an MX listener on a free loopback port.

    `nameservers` is the loopback DNS server every lookup goes to ("127.0.0.1:port");
    mail for other domains is routed to a closed port, so nothing leaves the machine.
    `extra` is appended to the config file (more TOML tables).
    """

    def __init__(
        self,
        folder: Path,
        database_url: str,
        nameservers: str,
        *,
        hostname: str = "mail.example.test",
        log_level: str = "info",
        extra: str = "",
    ) -> None:
        self.folder = folder
        self.data_dir = folder / "var"
        self.log_path = folder / "server.log"
        self.smtp_port = free_port()
        self.config_path = folder / "groupware.toml"
        # One process unless a test asks for more (the default is one per core).
        pinned = "" if "[server]" in extra else "[server]\nworkers = 1\n"
        self.config_path.write_text(
            f"hostname = {json.dumps(hostname)}\n"
            f"data_dir = {json.dumps(str(self.data_dir))}\n"
            f"database_url = {json.dumps(database_url)}\n"
            "[listen]\n"
            f'smtp = "127.0.0.1:{self.smtp_port}"\n'
            "[outbound]\n"
            'transport = "*=127.0.0.1:9"\n'
            f"nameservers = {json.dumps(nameservers)}\n"
            "[log]\n"
            f"level = {json.dumps(log_level)}\n"
            f"{pinned}{extra}"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def config(self) -> Config:
        return config_module.load(self.config_path, environ={})

    @property
    def blob_root(self) -> Path:
        return self.data_dir / "blobs"

    def runtime(self) -> Runtime:
        """Services on the same database and data directory (close it when done)."""
        return runtime_module.build(self.config)

    def initialise(self, admin_password: str, users: list[str], password: str) -> None:
        """`groupware init` and `groupware user add` for each address, in this process."""
        runtime_module.initialise(self.config, admin_password=admin_password)
        built = self.runtime()
        try:
            for address in users:
                built.services.directory.add_user(SYSTEM, address, password)
        finally:
            built.close()

    def start(self, timeout: float = 30.0) -> None:
        """Run `groupware serve` and return once the MX port answers with its greeting."""
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE_")}
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "groupware", "--config", str(self.config_path), "serve"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            if self._greets():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start within {timeout} s:\n{self.log()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2) as sock:
                sock.settimeout(2)
                return sock.recv(4).startswith(b"220")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind in the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the exit status (killed if it does not stop in time)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kib(self, field: str = "VmRSS") -> int:
        """Resident memory of the running server (VmHWM: its peak so far)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def pids(self) -> list[int]:
        """The server's process and its descendants (a supervisor's workers)."""
        return processes.tree(self.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server's processes have used so far."""
        return processes.cpu_seconds(self.pid)

    def pss_kib(self) -> int:
        """Proportional set size summed over the server's processes: shared pages count
        once in all (what a second worker really costs)."""
        return processes.memory_kib(self.pid)["pss"]

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
