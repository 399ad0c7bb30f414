"""SQLAlchemy tables only: no queries, no behaviour.

Every model module registers on `Base`; import it here so Alembic sees all tables.
"""

from groupware.model import (  # noqa: F401  (register the tables)
    audit,
    dav,
    delivery,
    directory,
    mail,
    queue,
    webmail,
    websessions,
)
from groupware.model.base import Base

__all__ = ["Base"]
