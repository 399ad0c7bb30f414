"""The user directory: accounts and domains, aliases, groups, roles, password hashing and
the web sessions a password change ends."""
