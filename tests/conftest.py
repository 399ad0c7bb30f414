"""Shared fixtures: a database on SQLite and on PostgreSQL, a config, a runtime, services.

Tests that touch the database take `database_url`, which runs them on both backends;
PostgreSQL tests each get a schema of their own, dropped afterwards. In CI PostgreSQL
must be there (a missing server fails); elsewhere GROUPWARE_TEST_POSTGRES=off skips it.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from groupware import runtime as runtime_module
from groupware.config import (
    AuthConfig,
    Config,
    Endpoint,
    ListenConfig,
    OutboundConfig,
    TLSConfig,
)
from groupware.runtime import Runtime
from groupware.services import Services
from harness.dnsserver import DNSServer

POSTGRES_URL = os.environ.get(
    "GROUPWARE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_ENABLED = os.environ.get("GROUPWARE_TEST_POSTGRES", "on") != "off"
# Every server under test asks this loopback DNS server (and nothing else): tests add the
# records they need with TEST_DNS.add(name, type, values).
TEST_DNS = DNSServer()


@pytest.fixture(scope="session", autouse=True)
def test_dns() -> Iterator[DNSServer]:
    with TEST_DNS:
        yield TEST_DNS


def postgres_schema_url(schema: str) -> str:
    """The test database URL with search_path set to one schema (psycopg `options`)."""
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL, dropped afterwards; yields its URL."""
    yield from _schema()


@pytest.fixture
def postgres_schema_2() -> Iterator[str]:
    """A second schema, for tests that run two servers."""
    yield from _schema()


def _schema() -> Iterator[str]:
    if not POSTGRES_ENABLED:
        pytest.skip("GROUPWARE_TEST_POSTGRES=off")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'groupware.db'}"
    return str(request.getfixturevalue("postgres_schema"))


def make_config(tmp_path: Path, database_url: str, **auth: object) -> Config:
    """A config for tests: no listeners unless a test sets them, no login back-off delay."""
    no_listeners = {name: None for name in ListenConfig.__dataclass_fields__}
    return Config(
        hostname="mail.example.test",
        data_dir=tmp_path / "var",
        database_url=database_url,
        listen=ListenConfig(**no_listeners),  # type: ignore[arg-type]
        auth=dataclasses.replace(AuthConfig(backoff_base=0.0), **auth),  # type: ignore[arg-type]
        tls=TLSConfig(cert=tmp_path / "var/tls/cert.pem", key=tmp_path / "var/tls/key.pem"),
        # Nothing leaves the machine: other domains go to a closed loopback port.
        outbound=OutboundConfig(
            transport="*=127.0.0.1:9",
            first_retry=1,
            poll_interval=0.2,
            nameservers=TEST_DNS.address,
        ),
        source="tests",
    )


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return make_config(tmp_path, database_url)


@pytest.fixture
def runtime(config: Config) -> Iterator[Runtime]:
    runtime_module.upgrade_database(config)
    built = runtime_module.build(config)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def services(runtime: Runtime) -> Services:
    return runtime.services


@pytest.fixture
def make_runtime(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Runtime]]:
    """Build a runtime with the given [auth] settings (one per test)."""
    built: list[Runtime] = []

    def make(**auth: object) -> Runtime:
        assert not built, "one runtime per test: they share the database"
        config = make_config(tmp_path, database_url, **auth)
        runtime_module.upgrade_database(config)
        built.append(runtime_module.build(config))
        return built[0]

    yield make
    for runtime in built:
        runtime.close()


@dataclass
class Served:
    """A runtime serving on loopback in a background thread; `ports` by listener name."""

    runtime: Runtime
    ports: dict[str, int]

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"


@contextmanager
def serving(config: Config) -> Iterator[Served]:
    """Initialise, start every listener of `config` and stop them all afterwards."""
    runtime_module.upgrade_database(config)
    built = runtime_module.build(config)
    ready = threading.Event()
    thread = threading.Thread(target=built.serve, args=(ready,), name="server", daemon=True)
    thread.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("server did not start")
        yield Served(built, {listener.name: listener.port for listener in built.started})
    finally:
        built.stop()
        thread.join(30)
        built.close()
        assert not thread.is_alive(), "server thread did not stop"


def with_listeners(config: Config, **names: str) -> Config:
    """`config` listening on 127.0.0.1, port 0 (any free one), for each service named."""
    endpoints = {name: Endpoint("127.0.0.1", 0) for name in names}
    return dataclasses.replace(config, listen=dataclasses.replace(config.listen, **endpoints))


@pytest.fixture
def web_server(config: Config) -> Iterator[Served]:
    """The web portal on a free loopback port, with an initialised directory."""
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        yield served


ADMIN = "admin@example.test"
ADMIN_PASSWORD = "Adm1n-Passw0rd"
