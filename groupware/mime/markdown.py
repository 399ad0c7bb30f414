"""Formatted mail written in webmail: Markdown (the user's text) made into HTML, then
cleaned with the same allowlist as HTML mail that arrives (mime/html.py), so nothing a
user types (raw HTML included) can put script or a tracker into what others read.
Pure: text in, HTML out.
"""

from __future__ import annotations

import markdown as markdown_library  # type: ignore[import-untyped]  # ships no stubs

from groupware.mime.html import clean

MAX_MARKDOWN = 1024 * 1024  # characters


def markdown_html(text: str) -> str:
    """`text` as a small HTML document: paragraphs, emphasis, lists, links, tables,
    code; a line break where the user broke the line (as in a plain-text mail)."""
    body = markdown_library.markdown(
        text[:MAX_MARKDOWN],
        extensions=["extra", "sane_lists", "nl2br"],
        output_format="html",
    )
    head = '<!doctype html><html><head><meta charset="utf-8"></head>'
    return f"{head}<body>{clean(body)}</body></html>\n"
