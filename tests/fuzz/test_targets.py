"""The short fuzz run of CI: every target replays its kept corpus (seeds and the inputs
campaigns found; each was a bug once) and takes a few hundred hypothesis examples, the
same ones each run. Only the parser's own refusals may come out; the long, exploring
runs are `make fuzz` (campaign.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import _schema
from tests.fuzz.strategies import inputs
from tests.fuzz.target import Run, Target
from tests.fuzz.targets import TARGETS

EXAMPLES = 300  # per pure target: the whole module stays well under a minute
SERVED_EXAMPLES = 100  # per target that runs a server (each input is several round trips)
PURE = [name for name, target in TARGETS.items() if target.harness is None]
SERVED = [name for name, target in TARGETS.items() if target.harness is not None]


def test_every_target_has_a_kept_corpus() -> None:
    """Campaigns start from it and CI replays it; a target without one is unfuzzed."""
    assert PURE and SERVED
    for name, target in TARGETS.items():
        assert target.corpus() or target.seeds(), f"{name}: no kept inputs nor seeds"
        assert target.tokens, f"{name}: no tokens to steer its inputs"


@pytest.mark.parametrize("name", PURE)
def test_kept_inputs(name: str, tmp_path: Path) -> None:
    with TARGETS[name].open(tmp_path) as attempt:
        replay(TARGETS[name], attempt)


@pytest.mark.parametrize("name", PURE)
def test_random_inputs(name: str, tmp_path: Path) -> None:
    with TARGETS[name].open(tmp_path) as attempt:
        explore(TARGETS[name], attempt, EXAMPLES)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Run]]:
    """The server targets, each started once per database (a server per module), each on
    a database of its own (SQLite in its folder, or a PostgreSQL schema)."""
    with ExitStack() as stack:
        opened: dict[str, Run] = {}

        def attempt(name: str) -> Run:
            if name not in opened:
                workdir = tmp_path_factory.mktemp(name)
                url = None
                if request.param == "postgres":
                    url = stack.enter_context(_postgres_schema())
                opened[name] = stack.enter_context(TARGETS[name].open(workdir, url))
            return opened[name]

        yield attempt


@contextmanager
def _postgres_schema() -> Iterator[str]:
    yield from _schema()  # skips when GROUPWARE_TEST_POSTGRES=off


@pytest.mark.parametrize("name", SERVED)
def test_served_kept_inputs(name: str, served: Callable[[str], Run]) -> None:
    replay(TARGETS[name], served(name))


@pytest.mark.parametrize("name", SERVED)
def test_served_random_inputs(name: str, served: Callable[[str], Run]) -> None:
    explore(TARGETS[name], served(name), SERVED_EXAMPLES)


def replay(target: Target, attempt: Run) -> None:
    failed = []
    for path in target.corpus():
        try:
            attempt(path.read_bytes())
        except Exception as error:
            failed.append(f"{path.name}: {type(error).__name__}: {str(error)[:200]}")
    assert not failed, f"{target.name}: kept inputs failed:\n" + "\n".join(failed)


def explore(target: Target, attempt: Run, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,  # one nested test for every target: their examples would mix
        derandomize=True,  # the same inputs on every run: CI fails only on a change
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(target))
    def check(data: bytes) -> None:
        attempt(data)

    check()
