"""`groupware serve` with `[server] workers` above 1: a supervisor and its workers.

The supervisor imports what the server runs, then forks the workers, so the code's
memory is shared between them (copy-on-write; gc.freeze keeps the collector from
touching, and so copying, what was there before the fork). Each worker builds its own
runtime (database connections, threads) and serves every port with SO_REUSEPORT; the
kernel shares the connections out. On SQLite the supervisor carries the store's events
between workers (groupware/fanout.py), and only the first worker runs the outbound
queue; on PostgreSQL NOTIFY carries them and every worker claims from the queue.

The supervisor runs one loop and no thread (forking beside threads is unsafe): it
passes events on, and starts a worker that died again (not before a second has passed
if it died within a second of starting, so a worker that cannot start does not spin).
SIGTERM or SIGINT stop every worker (each closes its ports and finishes what it took
on) and then the supervisor. SIGHUP starts a new set of workers with the configuration
and certificates read again, waits until every one of them serves, and only then tells
the old ones to drain: they take no new connection and end once their open ones have
(up to server.drain_seconds), so a reload drops none. If the new set does not come up,
it is stopped and the old one stays.
A lock on data_dir/serve.lock keeps a second supervisor from sharing the ports.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import gc
import logging
import os
import select
import signal
import threading
import time
from dataclasses import dataclass

from groupware import config as config_module
from groupware import logs, runtime, spool
from groupware.config import Config
from groupware.fanout import SOCKET, FanOut
from groupware.protocols.tally import Tally

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # how often the loop looks at its children when no event comes
QUICK_DEATH_SECONDS = 1.0
READY_SECONDS = 60.0  # for a new set of workers to serve, at a reload
STOP_SECONDS = 60.0  # a worker still running after this is killed
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass
class Child:
    index: int
    started: float
    ready_pipe: int  # the worker writes a byte once all its ports serve
    row: int  # its row of the shared connection counts
    ready: bool = False


class Supervisor:
    def __init__(self, config: Config, config_path: str | None) -> None:
        self.config = config
        self.config_path = config_path
        self.children: dict[int, Child] = {}
        self.retiring: set[int] = set()  # pids asked to stop: not started again
        self.trial: set[int] = set()  # a reload's new workers, until they all serve
        self.trial_failed = False
        self.due: dict[int, float] = {}  # worker index -> when to start it again
        self.draining: dict[int, float] = {}  # old workers at a reload -> when to kill
        self.signals: list[int] = []
        self.fanout: FanOut | None = None
        # Two rows a worker: at a reload the old set and the new one serve together.
        self.tally = Tally(rows=2 * config.server.workers)
        self.free_rows = list(range(self.tally.rows))

    def run(self) -> int:
        lock = os.open(self.config.data_dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.error("another groupware serve runs on %s", self.config.data_dir)
            return 1
        _preload()
        if self.config.database_url.startswith("sqlite"):
            self.fanout = FanOut(self.config.data_dir / SOCKET)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda number, _frame: self.signals.append(number))
        recovering = runtime.build(self.config)  # before any worker takes mail
        try:
            recovering.recover()
        finally:
            recovering.close()
        gc.collect()
        gc.freeze()
        for index in range(self.config.server.workers):
            self._spawn(index)
        log.info("supervisor: %d workers", self.config.server.workers)
        try:
            while True:
                self._turn()
                while self.signals:
                    if self.signals.pop(0) == signal.SIGHUP:
                        self._reload()
                    else:
                        return self._stop()
        finally:
            if self.fanout is not None:
                self.fanout.close()
            os.close(lock)

    def _turn(self, wait: float = TICK_SECONDS) -> None:
        """One round of the loop: events passed on, readiness and deaths noted, workers
        that died started again when due."""
        pipes = {
            c.ready_pipe: pid
            for pid, c in self.children.items()
            if not c.ready and c.ready_pipe >= 0
        }
        if self.fanout is not None:
            self.fanout.poll(wait if not pipes else wait / 4)
        if pipes:
            readable, _, _ = select.select(list(pipes), [], [], 0 if self.fanout else wait)
            for pipe in readable:
                child = self.children[pipes[pipe]]
                try:
                    said = os.read(pipe, 1)
                except OSError:
                    said = b""
                if said:
                    child.ready = True
                else:  # it died before serving: the reaper sees to it
                    os.close(pipe)
                    child.ready_pipe = -1
        elif self.fanout is None:
            time.sleep(wait)
        self._reap()
        now = time.monotonic()
        for pid, until in list(self.draining.items()):
            if until <= now:
                log.error("worker pid %d still draining; killed", pid)
                _signal(pid, signal.SIGKILL)
                del self.draining[pid]
        for index, when in list(self.due.items()):
            if when <= now:
                del self.due[index]
                self._spawn(index)

    def _spawn(self, index: int) -> int:
        if not self.free_rows:  # never expected: reloads retire the draining first
            log.error("no connection-count row free for worker %d; trying again", index)
            self.due[index] = time.monotonic() + QUICK_DEATH_SECONDS
            return -1
        parent = os.getpid()
        row = self.free_rows.pop(0)
        readable, writable = os.pipe()
        # Held back in the child until its runtime listens for it (a drain asked of a
        # worker still starting must not kill it).
        signal.pthread_sigmask(signal.SIG_BLOCK, {runtime.DRAIN_SIGNAL})
        pid = os.fork()
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {runtime.DRAIN_SIGNAL})
        if pid == 0:
            os.close(readable)
            self.tally.use_row(row)
            os._exit(_work(self.config, index, self.fanout, self.tally, parent, writable))
        os.close(writable)
        self.children[pid] = Child(index, time.monotonic(), readable, row)
        return pid

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if child.ready_pipe >= 0:
                os.close(child.ready_pipe)
            self.tally.clear(child.row)  # its connections ended with it
            self.free_rows.append(child.row)
            left = spool.remove_left_by(self.config.data_dir / "spool", pid)
            if left:
                log.info("removed %d spool files worker pid %d left", left, pid)
            self.draining.pop(pid, None)
            if pid in self.retiring:
                self.retiring.discard(pid)
                continue
            if pid in self.trial:  # a reload's new worker: the old set stays instead
                log.error("reload: a new worker (pid %d) ended (%s)", pid, status)
                self.trial.discard(pid)
                self.trial_failed = True
                continue
            log.error("worker %d (pid %d) ended (%s); starting it again", child.index, pid, status)
            quick = time.monotonic() - child.started < QUICK_DEATH_SECONDS
            self.due[child.index] = time.monotonic() + (QUICK_DEATH_SECONDS if quick else 0)

    def _reload(self) -> None:
        try:
            fresh = config_module.load(self.config_path)
        except config_module.ConfigError as exc:
            log.error("reload refused, the old configuration stays: %s", exc)
            return
        if config_module.worker_count(fresh) != self.config.server.workers:
            log.warning("server.workers takes effect at the next start, not at a reload")
        # The count stays (a file saying 0, one per core, means the count this start found).
        server = dataclasses.replace(fresh.server, workers=self.config.server.workers)
        fresh = dataclasses.replace(fresh, server=server)
        if len(self.free_rows) < self.config.server.workers:
            # The last reload's old workers still drain: they stop now.
            self._retire(set(self.draining))
        previous, self.config = self.config, fresh
        new = {self._spawn(index) for index in range(self.config.server.workers)}
        self.trial, self.trial_failed = new - {-1}, -1 in new
        new.discard(-1)
        deadline = time.monotonic() + READY_SECONDS
        try:
            while time.monotonic() < deadline:
                self._turn()
                if self.trial_failed:
                    break
                if all(self.children[pid].ready for pid in new):
                    # Every other worker is old, one started again meanwhile too.
                    self.due.clear()
                    self._drain(set(self.children) - new)
                    log.info("reload: %d new workers serve, the old ones drain", len(new))
                    return
            log.error("reload: the new workers did not all come up; the old ones stay")
            self.config = previous
            self._retire(new & set(self.children))
        finally:
            self.trial = set()

    def _stop(self) -> int:
        log.info("supervisor stopping %d workers", len(self.children))
        self.due.clear()
        self._retire(set(self.children))
        return 0

    def _drain(self, pids: set[int]) -> None:
        """Ask `pids` to take no new connections and end once their open ones have
        (runtime.DRAIN_SIGNAL): a reload drops no connection. The loop goes on meanwhile;
        one still there well after server.drain_seconds is killed."""
        self.retiring |= pids
        until = time.monotonic() + self.config.server.drain_seconds + STOP_SECONDS
        for pid in pids:
            self.draining[pid] = until
            _signal(pid, runtime.DRAIN_SIGNAL)

    def _retire(self, pids: set[int]) -> None:
        """SIGTERM `pids` and wait until they ended (SIGKILL after STOP_SECONDS), passing
        events on meanwhile; a worker that dies meanwhile is started again."""
        self.retiring |= pids
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while pids & set(self.children):
            self._turn(TICK_SECONDS / 4)
            if time.monotonic() > deadline:
                for pid in pids & set(self.children):
                    _signal(pid, signal.SIGKILL)
                deadline = float("inf")


def _work(
    config: Config, index: int, fanout: FanOut | None, tally: Tally, parent: int, ready: int
) -> int:
    """A worker's life, in the forked child."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # the runtime sets its own
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's to handle, not ours
    _end_with_parent(parent)
    try:
        if fanout is not None:
            fanout.close_inherited()
        built = runtime.build(config)
        built.worker, built.clears_spool, built.drains = index, False, True
        built.events_socket = fanout.path if fanout is not None else None
        built.tally = tally
        serving = threading.Event()
        threading.Thread(target=_tell_ready, args=(serving, ready), daemon=True).start()
        try:
            built.serve(serving)
        finally:
            built.close()
        return 0
    except BaseException:
        log.exception("worker %d failed", index)
        return 1
    finally:
        logging.shutdown()


def _tell_ready(serving: threading.Event, pipe: int) -> None:
    serving.wait()
    with contextlib.suppress(OSError):
        os.write(pipe, b"r")
        os.close(pipe)


def _end_with_parent(parent: int) -> None:
    """SIGTERM this worker when the supervisor dies, however (even by SIGKILL): no worker
    is left serving alone, and a new supervisor can take the ports."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("worker cannot follow its supervisor (prctl: errno %d)", ctypes.get_errno())
    if os.getppid() != parent:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def _preload() -> None:
    """Import what every worker runs, once, before the fork."""
    from groupware.dav import app as _dav  # noqa: F401
    from groupware.outbound import worker as _outbound  # noqa: F401
    from groupware.protocols.imap import server as _imap  # noqa: F401
    from groupware.protocols.pop3 import server as _pop3  # noqa: F401
    from groupware.protocols.smtp import server as _smtp  # noqa: F401
    from groupware.web import create_app as _web  # noqa: F401


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, number)


def serve(config: Config, config_path: str | None) -> int:
    logs.configure(config.log)
    return Supervisor(config, config_path).run()
