"""`groupware serve` with `[server] workers` above 1: a supervisor and its workers.

The supervisor imports what the server runs, then forks the workers, so the code's
memory is shared between them (copy-on-write; gc.freeze keeps the collector from
touching, and so copying, what was there before the fork). Each worker builds its own
runtime (database connections, threads) and serves every port with SO_REUSEPORT; the
kernel shares the connections out. On SQLite the supervisor carries the store's events
between workers (groupware/fanout.py), and only the first worker runs the outbound
queue; on PostgreSQL NOTIFY carries them and every worker claims from the queue.

The supervisor runs one loop and no thread (forking beside threads is unsafe): it
passes events on, and restarts a worker that died (after a second if it died within
a second of starting, so a worker that cannot start does not spin). SIGTERM or SIGINT
stop every worker (each closes its ports and finishes what it took on) and then the
supervisor; SIGHUP starts a new set of workers, with the configuration read again, and
then stops the old ones, so there is always a worker on every port.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import logging
import os
import signal
import time

from groupware import config as config_module
from groupware import logs, runtime
from groupware.config import Config
from groupware.fanout import FanOut

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # how often the loop looks at its children when no event comes
QUICK_DEATH_SECONDS = 1.0
STOP_SECONDS = 60.0  # a worker still running after this is killed
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Supervisor:
    def __init__(self, config: Config, config_path: str | None) -> None:
        self.config = config
        self.config_path = config_path
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, started)
        self.signals: list[int] = []
        self.fanout: FanOut | None = None

    def run(self) -> int:
        _preload()
        if self.config.database_url.startswith("sqlite"):
            self.fanout = FanOut(self.config.data_dir / "events.sock")
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
            while self.children:
                if self.fanout is not None:
                    self.fanout.poll(TICK_SECONDS)
                else:
                    time.sleep(TICK_SECONDS)
                while self.signals:
                    number = self.signals.pop(0)
                    if number == signal.SIGHUP:
                        self._reload()
                    else:
                        return self._stop()
                self._reap(restart=True)
            return 1  # every worker gone without being asked
        finally:
            if self.fanout is not None:
                self.fanout.close()

    def _spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(_work(self.config, index, self.fanout, os.getppid()))
        self.children[pid] = (index, time.monotonic())

    def _reap(self, *, restart: bool) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            gone = self.children.pop(pid, None)
            if gone is None:
                continue
            index, started = gone
            if restart:
                log.error("worker %d (pid %d) ended: %s; starting it again", index, pid, status)
                if time.monotonic() - started < QUICK_DEATH_SECONDS:
                    time.sleep(QUICK_DEATH_SECONDS)
                self._spawn(index)

    def _reload(self) -> None:
        try:
            fresh = config_module.load(self.config_path)
        except config_module.ConfigError as exc:
            log.error("reload refused, the old configuration stays: %s", exc)
            return
        if fresh.server.workers != self.config.server.workers:
            log.warning("server.workers takes effect at the next start, not at a reload")
            fresh = _with_workers(fresh, self.config.server.workers)
        old = list(self.children)
        self.config = fresh
        for index in range(self.config.server.workers):
            self._spawn(index)
        for pid in old:
            _signal(pid, signal.SIGTERM)
        log.info("reload: new workers started, %d old ones stopping", len(old))
        self._wait_for(old)

    def _stop(self) -> int:
        log.info("supervisor stopping %d workers", len(self.children))
        pids = list(self.children)
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        self._wait_for(pids)
        return 0

    def _wait_for(self, pids: list[int]) -> None:
        """Until every one of `pids` has ended (killed after STOP_SECONDS), passing on
        events meanwhile; others that die are started again."""
        deadline = time.monotonic() + STOP_SECONDS
        waiting = set(pids)
        while waiting:
            if self.fanout is not None:
                self.fanout.poll(TICK_SECONDS / 4)
            else:
                time.sleep(TICK_SECONDS / 4)
            for pid in list(waiting):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    waiting.discard(pid)
                    self.children.pop(pid, None)
            if time.monotonic() > deadline:
                for pid in waiting:
                    _signal(pid, signal.SIGKILL)
                deadline = float("inf")


def _work(config: Config, index: int, fanout: FanOut | None, parent: int) -> int:
    """A worker's life, in the forked child."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)  # the runtime sets its own
    _end_with_parent(parent)
    try:
        if fanout is not None:
            fanout.close_inherited()
        built = runtime.build(config)
        built.worker, built.clears_spool = index, False
        built.events_socket = fanout.path if fanout is not None else None
        try:
            built.serve()
        finally:
            built.close()
        return 0
    except BaseException:
        log.exception("worker %d failed", index)
        return 1
    finally:
        logging.shutdown()


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


def _with_workers(config: Config, workers: int) -> Config:
    return dataclasses.replace(config, server=dataclasses.replace(config.server, workers=workers))


def serve(config: Config, config_path: str | None) -> int:
    logs.configure(config.log)
    return Supervisor(config, config_path).run()
