"""What the browser tests share for screenshots: the two widths every page is looked at,
and `shoot`, which saves a page at both widths in light and dark."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 360, "height": 780}


def shoot(page: Page, shots: Path, name: str) -> None:
    """The page at both widths, light and dark."""
    for width, viewport in (("1280", WIDE), ("360", NARROW)):
        page.set_viewport_size(viewport)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=shots / f"{name}-{width}-{scheme}.png", full_page=True)
    page.set_viewport_size(WIDE)
    page.emulate_media(color_scheme="light")
