"""Coverage-guided campaigns with atheris (libFuzzer) over the target table, one target
after another, each in its own process for a bounded time: `make fuzz FUZZ_SECONDS=60`, or
`python -m tests.fuzz.campaign --seconds 60 [--scale] [TARGET ...]`.

Each target starts from its kept corpus (tests/fuzz/corpus/<target>/) and its seeds, and
writes what it learns under the work folder (var/fuzz/<target>/: corpus/, crashes/, log).
A crash, hang (-timeout per input) or out-of-memory leaves its input in crashes/: fix the
parser, then copy the input into tests/fuzz/corpus/<target>/ so CI replays it. --scale
also times 100 KiB inputs built from each target's tokens and corpus (super-linear cost).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "fuzz" / "corpus"
INSTRUMENTED = ["groupware", "radicale", "vobject", "icalendar", "aiosmtpd", "tests.fuzz"]
PER_INPUT_SECONDS = 10  # an input running longer is reported as a hang (libFuzzer -timeout)
RSS_LIMIT_MB = 2048
SCALE_SIZE = 100 * 1024  # octets of each --scale input
SCALE_SLOW = 2.0  # seconds: a --scale input slower than this is reported
SCALE_BUDGET = 900  # seconds for all the --scale inputs of one target
_EXECUTED = re.compile(rb"stat::number_of_executed_units: *(\d+)")
_RATE = re.compile(rb"stat::average_exec_per_sec: *(\d+)")


@dataclass
class Outcome:
    target: str
    seconds: float  # wall time, with the start-up (imports, seeds, a server)
    executions: int
    rate: int  # executions per second of fuzzing, as libFuzzer counts them
    corpus: int
    new: int
    crashes: list[str]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--fuzz-one"]:  # a child: the rest goes to libFuzzer as it is
        return _fuzz_child(argv[1], Path(argv[2]), argv[3:])
    if argv[:1] == ["--scale-one"]:
        return _scale_child(argv[1], Path(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target (0: no campaign)")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "fuzz")
    parser.add_argument("--scale", action="store_true", help="time 100 KiB inputs too")
    parser.add_argument("targets", nargs="*", help="names (default: all)")
    args = parser.parse_args(argv)
    from tests.fuzz.targets import TARGETS

    names = args.targets or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {' '.join(TARGETS)}")
    outcomes = []
    for name in names if args.seconds > 0 else ():
        outcome = _campaign(name, args.seconds, args.workdir / name)
        outcomes.append(outcome)
        _print(outcome)
    if args.scale:
        for name in names:
            _scale(name, args.workdir / name)
    _summary(outcomes)
    return 1 if any(o.crashes for o in outcomes) else 0


def _campaign(name: str, seconds: int, work: Path) -> Outcome:
    """One libFuzzer run of `seconds` on `name`, in a child process (atheris exits the
    process when done), seeded from the kept corpus and the target's seeds."""
    from tests.fuzz.targets import TARGETS

    target = TARGETS[name]
    corpus, crashes, seeds = work / "corpus", work / "crashes", work / "seeds"
    for folder in (corpus, crashes, seeds):
        folder.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(target.seeds()):
        (seeds / f"seed-{number:03d}").write_bytes(seed)
    escaped = ("".join(f"\\x{byte:02x}" for byte in token) for token in target.tokens)
    (work / "tokens.dict").write_text("".join(f'"{token}"\n' for token in escaped))
    before_corpus = set(os.listdir(corpus))
    before_crashes = set(os.listdir(crashes))
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.campaign",
        "--fuzz-one",
        name,
        str(work),
        f"-max_total_time={seconds}",
        f"-timeout={PER_INPUT_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={target.max_len}",
        f"-dict={work / 'tokens.dict'}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        str(corpus),
        str(seeds),
    ]
    if (CORPUS / name).is_dir():
        command.append(str(CORPUS / name))
    started = time.monotonic()
    with open(work / "log", "wb") as log:
        subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    output = (work / "log").read_bytes()
    executed, rate = _EXECUTED.findall(output), _RATE.findall(output)
    found = sorted(set(os.listdir(crashes)) - before_crashes)
    after = set(os.listdir(corpus))
    return Outcome(
        name,
        elapsed,
        int(executed[-1]) if executed else 0,
        int(rate[-1]) if rate else 0,
        len(after),
        len(after - before_corpus),
        found,
    )


def _fuzz_child(name: str, work: Path, libfuzzer: list[str]) -> int:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        from tests.conftest import TEST_DNS
        from tests.fuzz.targets import TARGETS
    with TEST_DNS, TARGETS[name].open(_fresh(work / "server")) as attempt:
        atheris.Setup([sys.argv[0], *libfuzzer], attempt)
        atheris.Fuzz()  # exits the process at the end of the run
    return 0


def _scale_child(name: str, work: Path) -> int:
    """Time the --scale inputs of one target, printing each input's name before it runs
    (so that a hang names its input)."""
    from tests.conftest import TEST_DNS
    from tests.fuzz.targets import TARGETS

    target = TARGETS[name]
    with TEST_DNS, target.open(_fresh(work / "server")) as attempt:
        for label, data in _scale_inputs(target.tokens, target.seeds() + _kept(name)):
            print(f"input {label}", flush=True)
            started = time.monotonic()
            attempt(data)
            print(f"time {label} {time.monotonic() - started:.3f}", flush=True)
    return 0


def _fresh(folder: Path) -> Path:
    """An empty folder for a target's server (its database, spool) on each run."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _kept(name: str) -> list[bytes]:
    folder = CORPUS / name
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.is_dir() else []


def _scale_inputs(tokens: tuple[bytes, ...], seeds: list[bytes]) -> list[tuple[str, bytes]]:
    """100 KiB of each token repeated, of each pair of tokens alternating, and of each
    seed repeated (or its middle repeated), where parsers that loop per item would show."""
    inputs = [(f"token {t[:20]!r}", _fill(t)) for t in tokens if t]
    inputs += [(f"tokens {a[:12]!r}+{b[:12]!r}", _fill(a + b)) for a in tokens for b in tokens][
        :: max(1, len(tokens) // 4)
    ]
    for number, seed in enumerate(seeds):
        if seed:
            middle = seed[len(seed) // 3 : 2 * len(seed) // 3] or seed
            inputs.append((f"seed {number} repeated", _fill(seed)))
            inputs.append((f"seed {number} middle", seed + _fill(middle)))
    return inputs


def _fill(piece: bytes) -> bytes:
    return (piece * (SCALE_SIZE // len(piece) + 1))[:SCALE_SIZE]


def _scale(name: str, work: Path) -> None:
    """Run the --scale inputs of `name` in a child bounded by SCALE_BUDGET; print the
    slowest, those over SCALE_SLOW, and the input a failure or a hang stopped at."""
    command = [sys.executable, "-m", "tests.fuzz.campaign", "--scale-one", name, str(work)]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, timeout=SCALE_BUDGET)
        output, status = done.stdout, "ok" if done.returncode == 0 else "FAILED"
    except subprocess.TimeoutExpired as timeout:
        output, status = timeout.stdout or b"", f"HUNG past {SCALE_BUDGET} s"
    lines = output.decode("utf-8", "replace").splitlines()
    timed = []
    for line in lines:
        if line.startswith("time "):
            label, seconds = line[5:].rsplit(" ", 1)
            timed.append((float(seconds), label))
    slowest = max(timed, default=(0.0, "-"))
    slow = [label for seconds, label in timed if seconds > SCALE_SLOW]
    stopped = [line[6:] for line in lines if line.startswith("input ")][-1:]
    print(
        f"scale {name:14} {len(timed):4d} inputs of {SCALE_SIZE // 1024} KiB: slowest "
        f"{slowest[0]:.2f} s ({slowest[1]}); over {SCALE_SLOW} s: {slow or 'none'}; {status}"
        + ("" if status == "ok" else f" at {stopped}"),
        flush=True,
    )


def _print(outcome: Outcome) -> None:
    print(
        f"{outcome.target:14} {outcome.seconds:7.1f} s {outcome.executions:10d} execs "
        f"{outcome.rate:7d}/s  corpus {outcome.corpus:5d} (+{outcome.new})  "
        f"crashes {len(outcome.crashes)} {' '.join(outcome.crashes)}",
        flush=True,
    )


def _summary(outcomes: list[Outcome]) -> None:
    crashed = [o for o in outcomes if o.crashes]
    print(f"{len(outcomes)} targets, {len(crashed)} with findings", flush=True)
    for outcome in crashed:
        print(f"  {outcome.target}: see var/fuzz/{outcome.target}/log and crashes/")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
