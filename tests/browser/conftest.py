"""Headless Chromium (Debian's build) driven by Playwright, per TESTING.md.

Browser tests run on SQLite only: the database paths are covered on both backends by
the integration tests. Without /usr/bin/chromium they skip, except in CI (CI=true).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'groupware.db'}"


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """One Chromium for the browser tests. Package scope, not session: Playwright's sync API
    keeps its event loop marked running in the main thread while it is open, so every later
    test's `asyncio.run` would fail ("cannot be called from a running event loop")."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: object, tmp_path: Path) -> Iterator[object]:
    """A factory of pages, each in its own context (its own cookies)."""
    contexts = []

    def make(**options: object) -> object:
        """`options` go to new_context: viewport, color_scheme, user_agent…"""
        context = browser.new_context(**options)  # type: ignore[attr-defined]
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves screenshots of key pages for a reviewer."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder
