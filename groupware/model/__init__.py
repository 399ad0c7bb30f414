"""SQLAlchemy tables only: no queries, no behaviour.

Every model module registers on `Base`; import it here so Alembic sees all tables.
"""

from groupware.model import audit, directory, mail, queue  # noqa: F401  (register the tables)
from groupware.model.base import Base

__all__ = ["Base"]
