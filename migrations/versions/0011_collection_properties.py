"""collection properties in our own names

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:40:00.000000

A collection's properties were kept under Radicale's DAV names ("D:displayname", ...);
they are kept in the service's own names now (title, description, components, color),
and dav/properties.py translates. Properties the service does not use keep their names.
"""

import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THEIRS = {
    "title": "D:displayname",
    "components": "C:supported-calendar-component-set",
    "color": "ICAL:calendar-color",
}
# A description is an address book's or a calendar's, as the tag says; the other kind's
# keeps its DAV name.
DESCRIPTIONS = {"VADDRESSBOOK": "CR:addressbook-description", "VCALENDAR": "C:calendar-description"}


def theirs(tag: str) -> dict[str, str]:
    description = DESCRIPTIONS.get(tag)
    return {**THEIRS, "description": description} if description else dict(THEIRS)


def ours(tag: str) -> dict[str, str]:
    return {dav: name for name, dav in theirs(tag).items()}


COLLECTIONS = sa.table(
    "dav_collections", sa.column("id", sa.Integer), sa.column("tag"), sa.column("props")
)


def _rename(names_for_tag: Callable[[str], dict[str, str]]) -> None:
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
    _rename(ours)


def downgrade() -> None:
    _rename(theirs)
