"""Alembic revisions on SQLite and PostgreSQL: every step up, every step down and up again,
the seeded built-in roles, no autogenerate drift from the models; and the store's SQLite
settings (WAL, synchronous=FULL, foreign keys, busy timeout) and unit of work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from groupware import runtime as runtime_module
from groupware.mime.threads import conversation_key
from groupware.model import Base
from groupware.model.directory import Domain, Role, RolePermission, User
from groupware.services.core import access
from groupware.services.core.access import SYSTEM
from groupware.store import Database, fulltext, migrate
from tests.conftest import ADMIN_PASSWORD, make_config


def revisions(url: str) -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    walked = [rev.revision for rev in script.walk_revisions("base", "heads")]
    return list(reversed(walked))


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def drift(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            # As migrations/env.py: the full-text objects (store/fulltext.py) are not
            # in the models, so the comparison leaves them out.
            opts = {"compare_type": True, "include_name": fulltext.include_name}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def builtin_roles(url: str) -> dict[str, frozenset[str]]:
    database = Database(url)
    try:
        with database.read() as session:
            rows = session.execute(
                select(Role.name, RolePermission.permission)
                .join(RolePermission, RolePermission.role_id == Role.id)
                .where(Role.builtin.is_(True))
            ).all()
    finally:
        database.dispose()
    collected: dict[str, set[str]] = {}
    for name, permission in rows:
        collected.setdefault(name, set()).add(permission)
    return {name: frozenset(perms) for name, perms in collected.items()}


def test_there_is_one_head_and_a_linear_history(database_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(database_url))
    assert len(script.get_heads()) == 1
    assert migrate.head_revision() == script.get_current_head()
    ids = revisions(database_url)
    assert ids[-1] == migrate.head_revision()
    for rev in script.walk_revisions("base", "heads"):
        assert not rev.is_merge_point, rev.revision


def test_upgrade_downgrade_upgrade_every_step(database_url: str) -> None:
    ids = revisions(database_url)
    model_tables = set(Base.metadata.tables)
    assert migrate.current_revision(database_url) is None

    for revision in ids:
        migrate.upgrade(database_url, revision)
        assert migrate.current_revision(database_url) == revision
    assert model_tables <= tables(database_url)

    # Some data in the tables must not stop a downgrade.
    database = Database(database_url)
    try:
        with database.write() as session:
            session.add(Domain(name="example.org"))
    finally:
        database.dispose()

    for index in reversed(range(len(ids))):
        target = ids[index - 1] if index else "base"
        migrate.downgrade(database_url, target)
        assert migrate.current_revision(database_url) == (ids[index - 1] if index else None)
    assert tables(database_url) - {"alembic_version"} == set()

    for revision in ids:
        migrate.upgrade(database_url, revision)
        assert migrate.current_revision(database_url) == revision
    assert model_tables <= tables(database_url)
    assert drift(database_url) == []


def test_builtin_roles_are_seeded(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert builtin_roles(database_url) == dict(access.BUILTIN_ROLES)


def test_autogenerate_finds_no_drift(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert drift(database_url) == []


def test_drift_check_sees_a_difference(database_url: str) -> None:
    """The no-drift assertions above would be worthless if the comparison saw nothing."""
    migrate.upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_users_domain_id"))
            connection.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    found = {(diff[0], getattr(diff[1], "name", None)) for diff in drift(database_url)}
    assert ("add_index", "ix_users_domain_id") in found
    assert ("remove_table", "stray") in found


def test_head_upgrade_is_idempotent(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert builtin_roles(database_url) == dict(access.BUILTIN_ROLES)


# -- the store on SQLite -----------------------------------------------------------------


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def pragma(session: Session, name: str) -> Any:
    return session.execute(text(f"PRAGMA {name}")).scalar()


def test_sqlite_pragmas(sqlite_database: Database) -> None:
    for unit in (sqlite_database.read, sqlite_database.write):
        with unit() as session:
            assert str(pragma(session, "journal_mode")).lower() == "wal"
            assert pragma(session, "synchronous") == 2  # FULL
            assert pragma(session, "foreign_keys") == 1
            assert int(pragma(session, "busy_timeout")) > 0


def test_sqlite_enforces_foreign_keys(sqlite_database: Database) -> None:
    with pytest.raises(IntegrityError), sqlite_database.write() as session:
        session.add(User(domain_id=12345, address="ghost@example.org", password_hash="x"))
    with sqlite_database.read() as session:
        assert session.scalar(select(User)) is None


def test_write_commits_and_rolls_back(database_url: str) -> None:
    migrate.upgrade(database_url)
    database = Database(database_url)
    try:
        with database.write() as session:
            session.add(Domain(name="kept.example"))
        with pytest.raises(RuntimeError), database.write() as session:
            session.add(Domain(name="lost.example"))
            session.flush()
            raise RuntimeError("boom")
        with database.read() as session:
            session.add(Domain(name="read-only.example"))
            session.flush()  # written inside the read transaction, then rolled back
        with database.read() as session:
            names = set(session.scalars(select(Domain.name)))
        assert names == {"kept.example"}
    finally:
        database.dispose()


def test_collection_properties_move_to_our_names_and_back(database_url: str) -> None:
    """0011: Radicale's DAV names become the calendar service's own, and back down."""
    migrate.upgrade(database_url, "0010")
    radicale = {
        "tag": "VADDRESSBOOK",
        "D:displayname": "Friends",
        "CR:addressbook-description": "People I know",
        "C:calendar-description": "a calendar's, set by a client: kept as it is",
        "{urn:example}custom": "kept",
    }
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO dav_collections (path, tag, props, sync_seq, generation, "
                    "modified_at) VALUES ('a@example.test/friends', 'VADDRESSBOOK', :props, "
                    "0, 'g', CURRENT_TIMESTAMP)"
                ),
                {"props": json.dumps(radicale)},
            )

        def stored() -> dict[str, str]:
            with engine.connect() as connection:
                props = connection.execute(text("SELECT props FROM dav_collections")).scalar()
            return dict(json.loads(props))

        migrate.upgrade(database_url, "0011")
        assert stored() == {
            "tag": "VADDRESSBOOK",
            "title": "Friends",
            "description": "People I know",
            "C:calendar-description": "a calendar's, set by a client: kept as it is",
            "{urn:example}custom": "kept",
        }
        migrate.downgrade(database_url, "0010")
        assert stored() == radicale
    finally:
        engine.dispose()


def test_conversations_are_keyed_for_messages_stored_before(
    tmp_path: Path, database_url: str
) -> None:
    """0013: messages stored before it get the conversation key their parse gives."""
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    built = runtime_module.build(config)
    try:
        services = built.services
        alice = services.directory.add_user(SYSTEM, "alice@example.test", ADMIN_PASSWORD)
        actor = services.auth.principal(alice.id)
        assert actor is not None
        for number, references in enumerate(("", "<root@x>", "<root@x> <b@x>")):
            spool = tmp_path / f"{number}.eml"
            head = f"Message-ID: <m{number}@x>\r\nSubject: s\r\n"
            head += f"References: {references}\r\n" if references else ""
            spool.write_bytes(head.encode() + b"\r\nbody\r\n")
            services.messages.append(actor, "INBOX", spool)
    finally:
        built.close()

    def keys() -> list[str | None]:
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                found = connection.execute(text("SELECT thread FROM messages ORDER BY id"))
                return [row[0] for row in found]
        finally:
            engine.dispose()

    expected = [
        conversation_key("<m0@x>", (), None),
        conversation_key("<m1@x>", ("<root@x>",), None),
        conversation_key("<m2@x>", ("<root@x>", "<b@x>"), None),
    ]
    assert keys() == expected and expected[1] == expected[2] != expected[0]
    migrate.downgrade(database_url, "0012")
    migrate.upgrade(database_url, "0013")
    assert keys() == expected
