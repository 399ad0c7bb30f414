"""The composition root: builds the database, services and listeners from a Config, and
runs them on one asyncio loop until a signal stops them.

A new front door adds a `Listener` in `_listeners`; nothing else constructs services.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import ssl
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from groupware import memory, tlscerts
from groupware.blocking import Blocking
from groupware.config import Config
from groupware.dav import patches
from groupware.errors import NotFound
from groupware.fanout import SOCKET, UnixChannel
from groupware.protocols.tally import Tally
from groupware.services import Services, build_services
from groupware.services.core.access import SYSTEM
from groupware.services.core.addresses import normalize_domain
from groupware.services.core.relay import EventRelay
from groupware.services.directory.passwords import check_strength, generate_password
from groupware.store import Database, migrate
from groupware.store.database import sqlite_path
from groupware.store.notifications import PostgresChannel

log = logging.getLogger(__name__)
SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before another may take it
DRAIN_SIGNAL = signal.SIGUSR1  # from the supervisor at a reload: finish, take no more
DRAIN_LOOK_SECONDS = 1.0  # how often a draining worker counts its connections


class Listener(Protocol):
    """A front door the runtime starts and stops."""

    name: str
    port: int  # the bound port (useful when configured as 0)

    async def start(self) -> None: ...
    def stop_accepting(self) -> None: ...  # a draining worker: new connections go elsewhere
    def busy(self) -> int: ...  # connections open that a draining worker waits for
    async def stop(self) -> None: ...


@dataclass
class Runtime:
    config: Config
    database: Database
    services: Services
    started: list[Listener] = field(default_factory=list)  # while serving
    # Delivery (fsync-bound: threads wait on the disk) and mailbox sessions (CPU-bound:
    # more threads than cores only fight over the GIL; bench/imap.py: 3 beat 8 by a
    # third at 8 sessions) get pools of their own.
    blocking: Blocking = field(default_factory=lambda: Blocking(8))
    mailbox_blocking: Blocking = field(default_factory=lambda: Blocking(3))
    # One of several worker processes (groupware/supervisor.py): which one, the
    # supervisor's socket that carries events between them on SQLite, and the counts of
    # open connections they share (for the limits per address and per account).
    worker: int = 0
    events_socket: Path | None = None
    tally: Tally = field(default_factory=Tally)
    clears_spool: bool = True  # a worker does not: others' deliveries are in it
    drains: bool = False  # a supervisor's worker: DRAIN_SIGNAL (blocked till then) drains it
    _tls: ssl.SSLContext | None = None

    def close(self) -> None:
        self.blocking.shutdown()
        self.mailbox_blocking.shutdown()
        self.services.messages.close()
        self.database.dispose()

    def tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tlscerts.server_context(self.config.tls.cert, self.config.tls.key)
        return self._tls

    def web_app(self) -> Any:
        from groupware.dav import app as dav  # Radicale loads only for `serve` too
        from groupware.web import create_app  # Flask loads only for `serve`, not every CLI call

        portal = create_app(self.config, self.services, web_secret(self.config))
        return dav.mount(portal, dav.build(self.services), self.config, self.services)

    def serve(self, ready: threading.Event | None = None) -> None:
        """Run every configured listener until SIGINT/SIGTERM (or `stop()`)."""
        asyncio.run(self._serve(ready))

    def stop(self) -> None:
        loop, event = getattr(self, "_loop", None), getattr(self, "_stopping", None)
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def _serve(self, ready: threading.Event | None) -> None:
        self._loop = asyncio.get_running_loop()
        # The loop thread answers sockets while pool threads run CPU-bound service code;
        # with CPython's default 5 ms GIL hand-over it waits behind them (bench/imap.py:
        # 8 sessions went from ~55 to ~90 ops/s at 1 ms).
        sys.setswitchinterval(SWITCH_INTERVAL)
        memory.return_big_blocks()  # messages of many MiB pass through the pool's threads
        self._stopping, draining = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):  # not the main thread (tests)
                self._loop.add_signal_handler(sig, self._stopping.set)
        if self.drains:
            self._loop.add_signal_handler(DRAIN_SIGNAL, draining.set)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {DRAIN_SIGNAL})
        started = self.started
        relay = self._event_relay()
        if relay is not None:  # before any listener: every subscriber hears the others
            await asyncio.to_thread(relay.start)
        # Before any listener: nothing in the spool can belong to a live connection yet.
        if self.clears_spool:
            await asyncio.to_thread(self.recover)
        try:
            for listener in self._listeners():
                await listener.start()
                started.append(listener)
                self.services.client_setup.bound(listener.name, listener.port)
            # What is built by now lives as long as the server: the collector need not
            # walk it again. Each full collection walked all of Radicale, SQLAlchemy and
            # Flask, a third of a month REPORT's time (bench/dav.py).
            gc.collect()
            gc.freeze()
            log.info("groupware ready on %s", self.config.hostname)
            if ready is not None:
                ready.set()
            await _first(self._stopping.wait(), draining.wait())
            if draining.is_set() and not self._stopping.is_set():
                await self._drain(started)
            log.info("stopping")
        finally:
            gc.unfreeze()  # collectable again (a test process starts many servers)
            for listener in reversed(started):
                await listener.stop()
            started.clear()
            if relay is not None:
                await asyncio.to_thread(relay.stop)

    async def _drain(self, started: list[Listener]) -> None:
        """A reload's old worker (groupware/supervisor.py): take no new connections, and
        serve the open ones until they end, for up to server.drain_seconds, or until
        told to stop."""
        for listener in started:
            listener.stop_accepting()
        log.info("draining: new connections go to the new workers")
        deadline = time.monotonic() + self.config.server.drain_seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if not sum(listener.busy() for listener in started):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), DRAIN_LOOK_SECONDS)

    def recover(self) -> None:
        """What a crash left: spool files (never answered 250), blobs no row names."""
        removed = self.services.messages.recover(self.config.data_dir / "spool")
        if removed:
            log.info("removed %d files left by an earlier crash", removed)

    def _event_relay(self) -> EventRelay | None:
        """Events cross to every process and node serving the database: by NOTIFY on
        PostgreSQL, else through the supervisor's socket when there are several workers."""
        if not self.database.is_sqlite:
            return EventRelay(self.services.events, PostgresChannel(self.database.engine))
        if self.events_socket is not None:
            return EventRelay(self.services.events, UnixChannel(self.events_socket))
        return None

    @contextlib.contextmanager
    def telling_servers(self) -> Iterator[None]:
        """What is published meanwhile (a command's changes) reaches the running servers,
        as their own workers' events do: by NOTIFY on PostgreSQL, through the running
        supervisor's socket on SQLite. With one process and no socket there is nobody to
        tell now: it sees a change within what its caches keep (seconds), or at once
        where it reads the database each time (credentials)."""
        relay, socket = None, self.config.data_dir / SOCKET
        if not self.database.is_sqlite:
            relay = EventRelay(self.services.events, PostgresChannel(self.database.engine))
        elif socket.exists():
            relay = EventRelay(self.services.events, UnixChannel(socket))
        try:
            if relay is not None:
                relay.start(listen=False)
        except Exception as exc:  # no server there (a socket left behind), or no NOTIFY:
            log.warning("running servers not told of this change: %s", exc)  # caches expire
            relay = None
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()

    def _listeners(self) -> list[Listener]:
        from groupware.protocols.smtp.server import SMTPListener

        listeners: list[Listener] = []
        listen = self.config.listen
        for name in ("smtp", "submission", "submissions"):
            endpoint = getattr(listen, name)
            if endpoint is not None:
                listeners.append(
                    SMTPListener(
                        name,
                        endpoint,
                        self.config,
                        self.services,
                        self.blocking,
                        self.tls_context(),
                        self.tally,
                    )
                )
        if self.config.listen.http is not None:
            from groupware.protocols.connections import ConnectionLimits
            from groupware.web.server import WebListener

            web = self.config.web
            limits = ConnectionLimits(
                web.max_connections, web.max_connections_per_ip, self.tally, "http"
            )
            shared = self.config.server.workers > 1
            listeners.append(
                WebListener(self.web_app(), self.config.listen.http, web, limits, shared)
            )
        from groupware.outbound.worker import OutboundWorker

        # Any number may claim from the queue on PostgreSQL (FOR UPDATE SKIP LOCKED); on
        # SQLite, whose one writer gains nothing from a second, the first worker alone.
        if self.worker == 0 or not self.database.is_sqlite:
            listeners.append(
                OutboundWorker(
                    self.config, self.services, self.blocking, self.config.outbound.poll_interval
                )
            )
        from groupware.protocols.imap.server import IMAPListener

        for name in ("imap", "imaps"):
            endpoint = getattr(listen, name)
            if endpoint is not None:
                listeners.append(
                    IMAPListener(
                        name,
                        endpoint,
                        self.config,
                        self.services,
                        self.mailbox_blocking,
                        self.tls_context(),
                        self.tally,
                    )
                )
        from groupware.protocols.pop3.server import POP3Listener

        for name in ("pop3", "pop3s"):
            endpoint = getattr(listen, name)
            if endpoint is not None:
                listeners.append(
                    POP3Listener(
                        name,
                        endpoint,
                        self.config,
                        self.services,
                        self.mailbox_blocking,
                        self.tls_context(),
                        self.tally,
                    )
                )
        return listeners


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def build(config: Config) -> Runtime:
    """Everything the server needs, wired together; the database must be at head."""
    patches.install()  # every recurrence walked in this process is bounded, even parsing's
    database = Database(config.database_url)
    return Runtime(config, database, build_services(config, database))


def database_is_current(config: Config) -> bool:
    return migrate.current_revision(config.database_url) == migrate.head_revision()


def upgrade_database(config: Config) -> None:
    _prepare_sqlite_dir(config)
    migrate.upgrade(config.database_url)


@dataclass(frozen=True)
class InitReport:
    domain: str
    admin: str
    domain_created: bool
    admin_created: bool
    generated_password: str | None
    certificate_created: bool


def initialise(
    config: Config, *, admin_password: str | None = None, domain: str | None = None
) -> InitReport:
    """First-run setup, safe to repeat: folders, certificate, schema, domain, admin.

    Inputs are checked before anything is made, so a refused init leaves nothing behind.
    """
    domain_name = normalize_domain(domain or config.primary_domain)
    if admin_password is not None:
        check_strength(admin_password, config.auth.min_password_length)
    for folder in (config.data_dir, config.data_dir / "blobs", config.data_dir / "spool"):
        folder.mkdir(parents=True, exist_ok=True)
    made_cert = tlscerts.ensure_certificate(config.tls.cert, config.tls.key, config.hostname)
    web_secret(config)
    upgrade_database(config)
    runtime = build(config)
    try:
        services = runtime.services
        known = {d.name for d in services.directory.list_domains(SYSTEM)}
        domain_created = domain_name not in known
        if domain_created:
            services.directory.add_domain(SYSTEM, domain_name)
        admin = f"admin@{domain_name}"
        try:
            services.directory.get_user(SYSTEM, admin)
            return InitReport(domain_name, admin, domain_created, False, None, made_cert)
        except NotFound:
            pass
        generated = None if admin_password else generate_password()
        services.directory.add_user(
            SYSTEM, admin, admin_password or generated or "", display_name="Administrator"
        )
        services.roles.grant(SYSTEM, "admin", user=admin)
        return InitReport(domain_name, admin, domain_created, True, generated, made_cert)
    finally:
        runtime.close()


def web_secret(config: Config) -> str:
    """The key that signs web sessions and CSRF tokens: configured, or kept in data_dir."""
    if config.web.secret_key:
        return config.web.secret_key
    path = config.data_dir / "web-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _prepare_sqlite_dir(config: Config) -> None:
    path = sqlite_path(config.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
