"""Corrections to Radicale where bad input makes it answer 500: each one wraps the helper
at fault, is installed once by app.build, and goes when Radicale itself is fixed.
"""

from __future__ import annotations

import sys
from typing import Any

from radicale.app import put as radicale_put

_installed = False


def refuse_untyped_collections() -> None:
    """A PUT body is checked by app/put.py `prepare`, which hands its exception back (the
    PUT then answers 400). But a PUT of a whole collection whose body names no
    VCALENDAR or VCARD, without a Content-Type, makes it raise ValueError("Can't
    determine collection tag") before its own try: a 500. That one is handed back too."""
    global _installed
    if _installed:
        return
    original = radicale_put.prepare

    def prepare(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except ValueError:
            return iter(()), None, None, None, sys.exc_info()

    radicale_put.prepare = prepare
    _installed = True
