"""Prefix conditions on text columns that mean what they say on SQLite and PostgreSQL alike:
"names under this one" (mailbox children, DAV collection trees). Every such query uses these,
never LIKE: its "%" and "_" are wildcards in user-given names, and SQLite's LIKE folds ASCII
case, so a LIKE prefix found look-alikes ("a_c/" found "abc/d", "Foo/" found "foo/bar")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func


def starts_with(column: ColumnElement[str] | Any, prefix: str) -> ColumnElement[bool]:
    """`column` begins with `prefix`, character for character (substr counts characters
    on both databases, as len() does)."""
    return func.substr(column, 1, len(prefix)) == prefix


def one_level_below(column: ColumnElement[str] | Any, parent: str) -> ColumnElement[bool]:
    """`column` is `parent` + "/" + a name holding no further "/"."""
    below = parent + "/"
    rest = func.substr(column, len(below) + 1)
    # A constant pattern: no user text in it, and "/" has no case to fold.
    return starts_with(column, below) & rest.not_like("%/%")
