"""Dovecot's imaptest scripts (../shared/imaptest, run by its Python runner) against our
IMAP server: every script whose capabilities we advertise must pass, and at least the 68
that Dovecot 2.3 passes (all but CONTEXT=SORT and URLAUTH)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, make_config, serving, with_listeners

RUNNER = Path(__file__).resolve().parents[2].parent / "shared" / "imaptest" / "run.py"
PASSWORDS = {"it@example.test": "Imaptest-pass-1", "it2@example.test": "Imaptest-pass-2"}

pytestmark = pytest.mark.skipif(not RUNNER.exists(), reason=f"{RUNNER} is not here")


def test_imaptest_scripts_pass(tmp_path: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, imap="on")) as served:
        for address, password in PASSWORDS.items():
            served.services.directory.add_user(SYSTEM, address, password)
        (user, password), (user2, password2) = PASSWORDS.items()
        port = str(served.ports["imap"])
        command = [sys.executable, str(RUNNER), "--host", "127.0.0.1", "--port", port]
        command += ["--user", user, "--password", password, "--user2", user2]
        command += ["--password2", password2, "--timeout", "20"]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=900,
        )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    print(done.stdout)  # pytest -s shows every script's line
    assert done.returncode == 0 and not failures, "\n".join(failures) or summary
    passed = re.match(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 68, summary
