"""The admin console: domains, users, aliases, groups, roles and grants, the audit log.

Each page shows only what the viewer's grants cover (services filter by access.can);
the views live in directory.py, groups.py and access.py beside this, on one blueprint.
"""

from groupware.web.admin import access, directory, groups  # noqa: F401  (attach the views)
from groupware.web.admin.views import blueprint

__all__ = ["blueprint"]
