"""remembered logins: the login cache shared by processes, nodes and restarts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import groupware.model.base

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remembered_logins",
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("stamp", sa.String(length=64), nullable=False),
        sa.Column("app_password", sa.String(length=100), nullable=True),
        sa.Column("expires_at", groupware.model.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_remembered_logins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_remembered_logins")),
    )
    op.create_index(
        op.f("ix_remembered_logins_user_id"), "remembered_logins", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_remembered_logins_user_id"), table_name="remembered_logins")
    op.drop_table("remembered_logins")
