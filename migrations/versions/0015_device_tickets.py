"""device tickets: one-time links to configuration profiles

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import groupware.model.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("with_password", sa.Boolean(), nullable=False),
        sa.Column("expires_at", groupware.model.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_tickets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_device_tickets_secret_hash")),
    )
    op.create_index(op.f("ix_device_tickets_user_id"), "device_tickets", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_device_tickets_user_id"), table_name="device_tickets")
    op.drop_table("device_tickets")
