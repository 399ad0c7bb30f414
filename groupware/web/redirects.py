"""Where the portal may send a browser it was asked to send back (`?next=` after a login
or a password confirmation): only to a page of its own that a GET may open.

Anything else (another host, a scheme, a path browsers read as another host once they
drop tabs or turn backslashes into slashes, control characters) is refused as a whole:
the caller goes to its default instead.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

MAX_NEXT = 2000


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path (with an optional query and fragment) of one of our
    own routes, else None."""
    if not target or len(target) > MAX_NEXT or not _plain(target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    # Checked again once decoded: "/%09/x" and "/%5C/x" are what browsers may turn into
    # "//x" after following the redirect (WHATWG URL: tabs dropped, "\" read as "/").
    try:
        path = unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        return None
    if path.startswith("//") or not _plain(path):
        return None
    if not _printable(unquote(parts.query)) or not _printable(unquote(parts.fragment)):
        return None
    return target if _is_our_page(path) else None


def _is_our_page(path: str) -> bool:
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    # The host plays no part in our routes; the one the request named is not trusted.
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        return False  # e.g. a missing trailing slash: not a path we answer as given
    except HTTPException:
        return False  # not found, or not a page a GET opens
    return True


def _plain(text: str) -> bool:
    """No whitespace, control or backslash: nothing a browser would drop or rewrite."""
    return all(c.isprintable() and not c.isspace() and c != "\\" for c in text)


def _printable(text: str) -> bool:
    return all(c.isprintable() or c == " " for c in text)
