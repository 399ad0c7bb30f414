"""SECURITY.md names a test for every promise: each name must exist, so a renamed or
removed test cannot leave a promise pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# `test_x.py::test_y`, `::test_z` (same file as the one before), `tests/...` paths
REFERENCE = re.compile(r"`((?:tests/)?[\w/.-]*\.(?:py|txt))?(?:::(\w+))?/?`")


def locate(name: str) -> Path:
    direct = ROOT / name
    if direct.exists():
        return direct
    found = sorted(TESTS.rglob(Path(name).name))
    assert len(found) == 1, f"SECURITY.md names {name}: found {found}"
    return found[0]


def references() -> list[tuple[Path, str | None]]:
    text = (ROOT / "SECURITY.md").read_text()
    refs: list[tuple[Path, str | None]] = []
    current: Path | None = None
    for path, test in REFERENCE.findall(text):
        if path:
            current = locate(path)
        elif not test:
            continue
        assert current is not None, f"::{test} names no file before it"
        refs.append((current, test or None))
    return refs


def test_every_test_security_md_names_exists() -> None:
    refs = references()
    assert len(refs) > 40
    for path, test in refs:
        assert path.exists(), path
        if test is not None:
            assert re.search(rf"^(async )?def {test}\(", path.read_text(), re.M), (path, test)


def test_folders_named_hold_tests() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    for folder in re.findall(r"`(tests/[\w/]+)/`", text):
        assert any((ROOT / folder).glob("test_*.py")), folder
