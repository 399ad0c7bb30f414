"""collection properties in our own names

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:40:00.000000

A collection's properties were kept under Radicale's DAV names ("D:displayname", ...);
they are kept in the service's own names now (title, description, components, color),
and dav/properties.py translates. Properties the service does not use keep their names.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OURS = {
    "D:displayname": "title",
    "C:calendar-description": "description",
    "CR:addressbook-description": "description",
    "C:supported-calendar-component-set": "components",
    "ICAL:calendar-color": "color",
}
THEIRS = {
    "title": "D:displayname",
    "components": "C:supported-calendar-component-set",
    "color": "ICAL:calendar-color",
}
COLLECTIONS = sa.table(
    "dav_collections", sa.column("id", sa.Integer), sa.column("tag"), sa.column("props")
)


def _rename(names_for_tag) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    rows = bind.execute(sa.select(COLLECTIONS.c.id, COLLECTIONS.c.tag, COLLECTIONS.c.props))
    for collection_id, tag, props in rows.all():
        names = names_for_tag(tag)
        old = json.loads(props or "{}")
        new = {names.get(key, key): value for key, value in old.items()}
        if new != old:
            bind.execute(
                sa.update(COLLECTIONS)
                .where(COLLECTIONS.c.id == collection_id)
                .values(props=json.dumps(new, sort_keys=True))
            )


def upgrade() -> None:
    _rename(lambda tag: OURS)


def downgrade() -> None:
    def theirs(tag: str) -> dict[str, str]:
        book = tag == "VADDRESSBOOK"
        description = "CR:addressbook-description" if book else "C:calendar-description"
        return {**THEIRS, "description": description}

    _rename(theirs)
