"""The only code that opens database sessions or writes blobs.

Services get a `Database` from the composition root and open units of work on it.
"""

from groupware.store.database import Database

__all__ = ["Database"]
