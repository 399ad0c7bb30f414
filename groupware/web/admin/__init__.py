"""The admin console: domains, users, aliases, groups, roles and grants, login locks and
the audit log; rooms and equipment.

Each page shows only what the viewer's grants cover (services filter by access.can);
the views live in directory.py, groups.py, access.py and locks.py beside this, on one
blueprint.
"""

from groupware.web.admin import (  # noqa: F401  (attach views)
    access,
    directory,
    groups,
    locks,
    resources,
)
from groupware.web.admin.views import blueprint

__all__ = ["blueprint"]
