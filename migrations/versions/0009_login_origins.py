"""login origins

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:12:40.112233
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import groupware.model.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_origins",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=72), nullable=False),
        sa.Column("last_login_at", groupware.model.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_origins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "network", name=op.f("pk_login_origins")),
    )


def downgrade() -> None:
    op.drop_table("login_origins")
