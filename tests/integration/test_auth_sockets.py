"""An attacker on another address against a user, over real sockets (IMAP and the web):
the attacker's wrong passwords lock only the attacker; the user keeps logging in from where
she logged in before, and from a new address after a short, bounded wait; an admin sees
and clears the lock in the console; with a stolen password, wrong codes lock the second
factor. 127.0.0.2 is the attacker: another loopback address
is another client to the server.
"""

from __future__ import annotations

import imaplib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from groupware import runtime as runtime_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_web import Browser

ALICE = "alice@example.test"
PASSWORD = "Alice-pass-1234"
ATTACKER = "127.0.0.2"


class IMAPFrom(imaplib.IMAP4):
    """imaplib connecting from a given loopback address."""

    def __init__(self, port: int, source: str) -> None:
        self.source = source
        super().__init__("127.0.0.1", port, timeout=10)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout, source_address=(self.source, 0)
        )


def imap_login(served: Served, source: str, password: str = PASSWORD) -> str:
    """Log alice in over IMAP from `source`: "OK", or the NO's response code."""
    client = IMAPFrom(served.ports["imap"], source)
    try:
        client.login(ALICE, password)
    except imaplib.IMAP4.error as refusal:
        client.shutdown()
        return re.sub(r"^.*\[([A-Z]+)\].*$", r"\1", str(refusal))
    client.logout()
    return "OK"


def serve(tmp_path: Path, database_url: str, **listeners: str) -> Iterator[Served]:
    # A back-off small for the attacker's first failures, but whose cap (reached by the
    # account's sixth failure) outlasts any stall of a loaded machine between two logins.
    # Every attempt through the whole check: a remembered login would skip the account's
    # wait (test_login_cache.py says how).
    config = make_config(tmp_path, database_url, backoff_base=0.1, backoff_max=3.0, login_cache=0)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, **listeners)) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        yield served


@pytest.fixture
def imap_server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from serve(tmp_path, database_url, imap="on")


@pytest.fixture
def web(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from serve(tmp_path, database_url, http="on")


def test_imap_guesses_from_elsewhere_do_not_lock_alice_out(imap_server: Served) -> None:
    assert imap_login(imap_server, "127.0.0.1") == "OK"  # where alice reads her mail
    codes = [imap_login(imap_server, ATTACKER, f"guess-{i}") for i in range(50)]
    assert codes == ["AUTHENTICATIONFAILED"] * 5 + ["UNAVAILABLE"] * 45
    assert imap_login(imap_server, ATTACKER) == "UNAVAILABLE"  # even the right password

    # Alice's usual address is not slowed at all.
    assert imap_login(imap_server, "127.0.0.1") == "OK"
    # A fresh guess from a third address makes the account's next turn wait; alice's new
    # device (a fourth address) waits for it and gets in, rather than being refused.
    assert imap_login(imap_server, "127.0.0.3", "guess") == "AUTHENTICATIONFAILED"
    started = time.monotonic()
    assert imap_login(imap_server, "127.0.0.4") == "OK"
    waited = time.monotonic() - started
    print(f"new address logged in after {waited:.2f} s")  # a measure, not a bound
    entries = imap_server.services.audit.entries(SYSTEM, actor=ALICE, action="login")
    assert ("127.0.0.4", "throttled") in {(e.peer_ip, e.outcome) for e in entries}
    assert [e.outcome for e in entries if e.peer_ip == "127.0.0.4"] == ["ok", "throttled"]


def test_web_guesses_from_elsewhere_do_not_lock_out_alice_nor_the_admin(web: Served) -> None:
    for login, password in ((ALICE, PASSWORD), (ADMIN, ADMIN_PASSWORD)):  # their usual place
        assert Browser(web.base_url).log_in(login, password)[0] == 200
    attacker = Browser(web.base_url, source=ATTACKER)
    statuses = [attacker.log_in(ALICE, f"guess-{i}")[0] for i in range(50)]
    assert statuses == [401] * 5 + [429] * 45
    assert [attacker.log_in(ADMIN, f"guess-{i}")[0] for i in range(7)] == [401] * 5 + [429] * 2
    status, body = attacker.log_in(ADMIN, ADMIN_PASSWORD)
    assert status == 429 and "too many failed logins" in body

    # From 127.0.0.1 both still log in, and the admin sees the locks in the console…
    assert Browser(web.base_url).log_in(ALICE, PASSWORD)[0] == 200
    admin = Browser(web.base_url)
    assert admin.log_in(ADMIN, ADMIN_PASSWORD)[0] == 200
    status, _, page = admin.request("/admin/locks")
    assert status == 200 and 'href="/admin/locks"' in page  # linked from the navigation
    rows = re.findall(r'<tr class="lock-(\w+)">(.*?)</tr>', page, re.S)
    locked = [cells for state, cells in rows if state == "locked"]
    for account in (ALICE, ADMIN):
        (row,) = [cells for cells in locked if f'"Account">{account}</td>' in cells]
        assert f'"Client address">{ATTACKER}</td>' in row and '"Failures">5</td>' in row
        assert f'value="account-ip:{account}|{ATTACKER}"' in row

    # …and clears alice's, after which the right password works from there again.
    form = {"csrf_token": admin.csrf("/admin/locks"), "key": f"account-ip:{ALICE}|{ATTACKER}"}
    status, _, page = admin.request("/admin/locks/clear", form)
    assert status == 200 and f"Cleared account-ip:{ALICE}|{ATTACKER}." in page
    assert attacker.log_in(ALICE, PASSWORD)[0] == 200
    status, _ = Browser(web.base_url, source=ATTACKER).log_in(ADMIN, ADMIN_PASSWORD)
    assert status == 429  # the admin's own lock from there was not cleared
    (unlock,) = web.services.audit.entries(SYSTEM, action="login.unlock")
    assert (unlock.actor, unlock.target, unlock.service, unlock.peer_ip) == (
        ADMIN,
        ALICE,
        "web",
        "127.0.0.1",
    )


def enrol_alice(served: Served) -> tuple[pyotp.TOTP, str]:
    """Turn TOTP on for alice: her codes, and a code that is wrong now."""
    services = served.services
    alice = services.auth.principal(services.directory.get_user(SYSTEM, ALICE).id)
    assert alice is not None
    enrolment = services.credentials.begin_totp(alice)
    services.credentials.confirm_totp(alice, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    totp = pyotp.TOTP(enrolment.secret)
    valid = {totp.at(time.time() + step * 30) for step in (-2, -1, 0, 1, 2)}
    return totp, next(code for code in ("000000", "111111", "222222") if code not in valid)


def code_step(client: Browser, code: str) -> tuple[int, str]:
    """Log alice in with her password, then `code`: the code step's status and page."""
    status, body = client.log_in(ALICE, PASSWORD)
    assert status == 200 and 'id="totp-form"' in body  # the password was right
    status, _, body = client.request(
        "/login/totp", {"csrf_token": client.csrf("/login/totp"), "code": code}
    )
    return status, body


def test_web_code_guesses_with_a_stolen_password_lock_the_second_factor(web: Served) -> None:
    """Regression: each right password step reset the count wrong codes added to."""
    services = web.services
    totp, wrong = enrol_alice(web)

    attacker = Browser(web.base_url, source=ATTACKER)
    assert [code_step(attacker, wrong)[0] for _ in range(5)] == [401] * 5
    # Locked: the right code is refused too, with a page that says why.
    status, body = code_step(attacker, totp.at(time.time() + 30))
    assert status == 429 and "too many wrong codes" in body
    status, body = code_step(Browser(web.base_url), totp.at(time.time() + 30))
    assert status == 429 and "too many wrong codes" in body
    services.login_locks.clear_matching(SYSTEM, ALICE)
    status, body = code_step(Browser(web.base_url), totp.at(time.time() + 30))
    assert status == 200 and 'class="logout"' in body  # logged in


def test_web_code_guesses_from_new_addresses_do_not_keep_alice_out(web: Served) -> None:
    """Regression: five wrong codes from anywhere locked alice's second factor for
    everyone, her own browser at her usual address too (429 for the whole lockout, as
    often as the password holder liked). Her known address now gets in; new ones wait."""
    assert Browser(web.base_url).log_in(ALICE, PASSWORD)[0] == 200  # her usual address
    totp, wrong = enrol_alice(web)
    for number in range(5):  # a new address for each guess
        guesser = Browser(web.base_url, source=f"127.0.0.{10 + number}")
        assert code_step(guesser, wrong)[0] == 401
    status, body = code_step(Browser(web.base_url, source="127.0.0.3"), totp.at(time.time() + 30))
    assert status == 429 and "too many wrong codes" in body

    status, body = code_step(Browser(web.base_url), totp.at(time.time() + 30))
    assert status == 200 and 'class="logout"' in body  # alice, from 127.0.0.1
    status, body = code_step(Browser(web.base_url, source="127.0.0.4"), wrong)
    assert status == 429 and "too many wrong codes" in body  # still locked elsewhere
