"""Shared fixtures: a database on SQLite and on PostgreSQL, a config, a runtime, services.

Tests that touch the database take `database_url`, which runs them on both backends;
PostgreSQL tests each get a schema of their own, dropped afterwards. In CI PostgreSQL
must be there (a missing server fails); elsewhere GROUPWARE_TEST_POSTGRES=off skips it.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from groupware import runtime as runtime_module
from groupware.config import AuthConfig, Config, ListenConfig, TLSConfig
from groupware.runtime import Runtime
from groupware.services import Services

POSTGRES_URL = os.environ.get(
    "GROUPWARE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_ENABLED = os.environ.get("GROUPWARE_TEST_POSTGRES", "on") != "off"


def postgres_schema_url(schema: str) -> str:
    """The test database URL with search_path set to one schema (psycopg `options`)."""
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL, dropped afterwards; yields its URL."""
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
