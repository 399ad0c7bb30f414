"""sent day, group names in address columns, subscriptions by name

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000

messages.sent_day: the Date: field's day in its own zone (RFC 3501 §6.4.4 SENT*),
filled from the stored parse, whose sent_date keeps the field's offset ("2007-03-25T
00:00:00+02:00": the first ten characters are that day).

from_addr/to_addr/cc_addr/bcc_addr: rows whose parse holds group syntax are written again
with the group written out, "name: member, ...;", so that searching finds its name.

subscriptions: a table of (user, name) replacing mailboxes.subscribed, because RFC 3501
§6.3.6 lets a subscription name a mailbox that does not exist.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENT_DAY = {
    "sqlite": "UPDATE messages SET sent_day = substr(json_extract(parsed, '$.sent_date'), 1, 10) "
    "WHERE sent_date IS NOT NULL",
    "postgresql": "UPDATE messages SET sent_day = "
    "CAST(substr(CAST(parsed AS json) ->> 'sent_date', 1, 10) AS date) "
    "WHERE sent_date IS NOT NULL",
}
# A group's end marker, as the stored parse writes it (compact JSON, [name, route,
# mailbox, host]): only rows holding one need their address columns written again.
_HAS_GROUP = "%[null,null,null,null]%"
_COLUMNS = {"from_": "from_addr", "to": "to_addr", "cc": "cc_addr", "bcc": "bcc_addr"}


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_day", sa.Date(), nullable=True))
    bind = op.get_bind()
    statement = _SENT_DAY.get(bind.dialect.name)
    if statement is not None:
        op.execute(statement)
    _rewrite_group_addresses(bind)

    op.create_table(
        "subscriptions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "name"),
    )
    op.execute(
        "INSERT INTO subscriptions (user_id, name) "
        "SELECT user_id, name FROM mailboxes WHERE subscribed"
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.drop_column("subscribed")


def downgrade() -> None:
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subscribed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE mailboxes SET subscribed = EXISTS (SELECT 1 FROM subscriptions s "
        "WHERE s.user_id = mailboxes.user_id AND s.name = mailboxes.name)"
    )
    with op.batch_alter_table("mailboxes", schema=None) as batch_op:
        batch_op.alter_column("subscribed", server_default=None)
    op.drop_table("subscriptions")
    # The address columns keep their group syntax: 0005's code reads them the same way.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sent_day")


def _rewrite_group_addresses(bind: sa.Connection) -> None:
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer),
        sa.column("parsed", sa.Text),
        *(sa.column(name, sa.Text) for name in _COLUMNS.values()),
    )
    rows = bind.execute(
        sa.select(messages.c.id, messages.c.parsed).where(messages.c.parsed.like(_HAS_GROUP))
    ).all()
    for message_id, parsed in rows:
        try:
            value = json.loads(parsed)
        except ValueError:
            continue
        columns = {column: _addresses(value.get(key) or []) for key, column in _COLUMNS.items()}
        bind.execute(messages.update().where(messages.c.id == message_id).values(**columns))


# Copied, not imported (services/mail/messages.py _addresses as this revision was written), so
# that this revision keeps meaning what it meant.
def _addresses(addresses: list[list[Any]]) -> str:
    parts: list[str] = []
    group: list[str] | None = None  # the open group's name, then its members
    for name, _route, mailbox, host in addresses:
        if host is not None:
            spec = f"{mailbox}@{host}"
            (parts if group is None else group).append(f"{name} <{spec}>" if name else spec)
            continue
        if group is not None:  # an end marker, or a start closing an unended group
            parts.append(_group(group))
        group = None if mailbox is None else [mailbox]
    if group is not None:
        parts.append(_group(group))
    return ", ".join(parts)


def _group(group: list[str]) -> str:
    return f"{group[0]}: {', '.join(group[1:])};" if group[1:] else f"{group[0]}:;"
