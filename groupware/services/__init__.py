"""Services: the directory, access, authentication and audit (and, later, mail, delivery,
calendars). Each takes the `Database` and returns DTOs; `Services` bundles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from groupware.config import Config
from groupware.services.aliases import Aliases
from groupware.services.audit import Audit
from groupware.services.auth import Auth
from groupware.services.credentials import Credentials
from groupware.services.directory import Directory
from groupware.services.groups import Groups
from groupware.services.roles import Roles
from groupware.store import Database


@dataclass(frozen=True)
class Services:
    directory: Directory
    aliases: Aliases
    groups: Groups
    roles: Roles
    credentials: Credentials
    auth: Auth
    audit: Audit


def build_services(config: Config, database: Database) -> Services:
    return Services(
        directory=Directory(database, config.auth.min_password_length),
        aliases=Aliases(database),
        groups=Groups(database),
        roles=Roles(database),
        credentials=Credentials(database, issuer=config.hostname),
        auth=Auth(database, config.auth),
        audit=Audit(database),
    )
