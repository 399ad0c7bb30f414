"""Schema migrations: Alembic driven from code, so no alembic.ini is needed anywhere.

New revisions go in ../migrations/versions (see migrations/README); test them in
tests/migrations, which upgrade, downgrade and compare against the models.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from groupware.errors import Unavailable
from groupware.store.database import sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic reads options through ConfigParser, which treats % as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The database's revision; None for an empty (or absent SQLite) database.

    Raises Unavailable when the database cannot be reached.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None  # not created yet: connecting would create an empty file
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise Unavailable(f"cannot reach the database: {exc.orig}") from None
    finally:
        engine.dispose()


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()
