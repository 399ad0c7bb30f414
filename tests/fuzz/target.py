"""What a fuzz target is, and the one way both runners feed it: `Target.open` yields a
function that takes any bytes and raises only when the parser did something it must not.

A new target is a `Target(...)` in one of the *_targets.py modules, listed in targets.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
TESTS = CORPUS.parents[1]

Run = Callable[[bytes], object]
# A target that needs a running server: given a work folder and a database URL (None:
# SQLite in the folder), it starts what it needs and yields the function to call.
Harness = Callable[[Path, "str | None"], AbstractContextManager[Run]]


class Finding(AssertionError):
    """A target's own check failed: the parser returned something it must not."""


@dataclass(frozen=True)
class Target:
    """One parser under fuzzing.

    `run` takes any bytes and returns, or raises one of `allowed` (the parser's documented
    refusal, which the front door turns into a clear error); any other exception, or a
    `Finding` from its own checks, is a bug. `tokens` are pieces of valid input that
    steer random bytes deep into the grammar (hypothesis joins them; atheris gets them as
    its dictionary); `seeds` gives more valid inputs (from tests/data, transcripts) to
    start from, besides the kept corpus.
    """

    name: str
    run: Run | None = None
    allowed: tuple[type[Exception], ...] = ()
    tokens: tuple[bytes, ...] = ()
    seeds: Callable[[], list[bytes]] = field(default=list, compare=False)
    max_len: int = 4096
    harness: Harness | None = field(default=None, compare=False)

    def open(self, workdir: Path, database_url: str | None = None) -> AbstractContextManager[Run]:
        """The function to fuzz: `attempt(data)` returns unless `data` found a bug."""
        return _attempts(self, workdir, database_url)

    def corpus(self) -> list[Path]:
        """The kept inputs (seeds and regression cases), replayed by CI."""
        folder = CORPUS / self.name
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def files(pattern: str) -> Callable[[], list[bytes]]:
    """Seeds: the files matching `pattern` under tests/."""
    return lambda: [path.read_bytes() for path in sorted(TESTS.glob(pattern))]


@contextmanager
def _attempts(target: Target, workdir: Path, database_url: str | None) -> Iterator[Run]:
    if target.harness is not None:
        started: AbstractContextManager[Run] = target.harness(workdir, database_url)
    else:
        assert target.run is not None, f"{target.name}: neither run nor harness"
        started = nullcontext(target.run)
    with started as run:

        def attempt(data: bytes) -> None:
            with suppress(target.allowed):
                run(data)

        yield attempt
