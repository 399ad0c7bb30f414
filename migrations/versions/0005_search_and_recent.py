"""search and recent: \\Recent bookkeeping per mailbox, full-text index on message texts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000

The full-text objects are not in the models (groupware/store/fulltext.py owns them and
keeps autogenerate from seeing them). On SQLite: an external-content FTS5 table kept in
step by triggers. A later batch_alter_table that copies message_texts drops these
triggers with the old table: such a revision must create them again. On PostgreSQL: a
GIN index on an expression that the queries in store/fulltext.py repeat word for word.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported, so this revision keeps meaning what it meant when written.
SQLITE_UP = [
    "CREATE VIRTUAL TABLE message_texts_fts USING fts5(headers, body, "
    "content='message_texts', content_rowid='message_id', tokenize='unicode61', "
    "detail=column, columnsize=0)",
    "CREATE TRIGGER message_texts_fts_insert AFTER INSERT ON message_texts BEGIN "
    "INSERT INTO message_texts_fts (rowid, headers, body) "
    "VALUES (new.message_id, new.headers, new.body); END",
    "CREATE TRIGGER message_texts_fts_delete AFTER DELETE ON message_texts BEGIN "
    "INSERT INTO message_texts_fts (message_texts_fts, rowid, headers, body) "
    "VALUES ('delete', old.message_id, old.headers, old.body); END",
    "CREATE TRIGGER message_texts_fts_update AFTER UPDATE ON message_texts BEGIN "
    "INSERT INTO message_texts_fts (message_texts_fts, rowid, headers, body) "
    "VALUES ('delete', old.message_id, old.headers, old.body); "
    "INSERT INTO message_texts_fts (rowid, headers, body) "
    "VALUES (new.message_id, new.headers, new.body); END",
    "INSERT INTO message_texts_fts (message_texts_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS message_texts_fts_update",
    "DROP TRIGGER IF EXISTS message_texts_fts_delete",
    "DROP TRIGGER IF EXISTS message_texts_fts_insert",
    "DROP TABLE IF EXISTS message_texts_fts",
]
# Texts past 100,000 characters are indexed as the one word "gwoverlong", which every
# query also asks for: a tsvector over 1 MB is an error, and that would refuse mail.
# "<" becomes a space so that the parser never reads a "tag" and hides the words in it.
POSTGRES_UP = [
    "CREATE INDEX ix_message_texts_fulltext ON message_texts USING gin "
    "((to_tsvector('simple'::regconfig, CASE WHEN length(headers) + length(body) < 100000 "
    "THEN translate(headers || ' ' || body, '<', ' ') ELSE 'gwoverlong' END)))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_message_texts_fulltext"]


def upgrade() -> None:
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_recent_uid", sa.BigInteger(), server_default="1", nullable=False)
        )
    up = {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}
    for statement in up.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    down = {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}
    for statement in down.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_column("first_recent_uid")
