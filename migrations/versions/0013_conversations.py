"""conversations: messages.thread, the key a message shares with its replies

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:44:42.752243

Webmail's conversation view finds a message's conversation in every folder by this key
(mime/threads.py conversation_key). Messages stored before it get theirs from their
stored parse.
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
CHUNK = 1000


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_thread"), ["thread"], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_thread"))
        batch_op.drop_column("thread")


def _backfill() -> None:
    bind = op.get_bind()
    messages = sa.table("messages", sa.column("id"), sa.column("parsed"), sa.column("thread"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(messages.c.id, messages.c.parsed)
            .where(messages.c.id > last)
            .order_by(messages.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for message_id, parsed in rows:
            key = _key(parsed)
            if key is not None:
                bind.execute(
                    messages.update().where(messages.c.id == message_id).values(thread=key)
                )
        last = rows[-1][0]


def _key(parsed: str | None) -> str | None:
    """Copied, not imported (mime/threads.py conversation_key as this revision was
    written), so that the revision means the same whatever the code becomes."""
    try:
        facts = json.loads(parsed or "{}")
    except ValueError:
        return None
    references = facts.get("references") or []
    root = references[0] if references else facts.get("in_reply_to") or facts.get("message_id")
    if not root:
        return None
    return hashlib.sha256(root.strip().encode("utf-8", "surrogateescape")).hexdigest()[:32]
