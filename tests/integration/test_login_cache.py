"""The login cache (Dovecot's auth cache): a right secret pays argon2 once and is then
remembered for IMAP, POP3, SMTP AUTH and DAV alike; every mail login is still audited; a
new password, a revoked app password or a disabled account ends it at once; a wrong
secret is never remembered, and a locked client is refused even the remembered one.
Over real sockets with imaplib, poplib and smtplib.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.errors import AuthFailed, TryLater
from groupware.services.auth import login as login_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_auth_sockets import ATTACKER, IMAPFrom

ALICE, PASSWORD = "alice@example.test", "Alice-pass-1234"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, imap="on", pop3="on", submission="on")) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        yield served


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each argon2 verification the login check makes."""
    made: list[str] = []
    real = login_module.verify_password

    def counted(stored: str, secret: str) -> bool:
        made.append(secret)
        return real(stored, secret)

    monkeypatch.setattr(login_module, "verify_password", counted)
    return made


def imap(served: Served, secret: str, source: str = "127.0.0.1") -> bool:
    client = IMAPFrom(served.ports["imap"], source)
    try:
        client.login(ALICE, secret)
    except imaplib.IMAP4.error:
        client.shutdown()
        return False
    client.logout()
    return True


def pop3(served: Served, secret: str) -> bool:
    client = poplib.POP3("127.0.0.1", served.ports["pop3"], timeout=30)
    try:
        client.user(ALICE)
        client.pass_(secret)
    except poplib.error_proto:
        return False
    else:
        client.quit()
        return True
    finally:
        client.close()


def smtp(served: Served, secret: str) -> bool:
    with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
        try:
            client.login(ALICE, secret)
        except smtplib.SMTPAuthenticationError:
            return False
    return True


def test_one_argon2_check_for_every_protocol_and_each_login_audited(
    server: Served, argon2_checks: list[str]
) -> None:
    assert imap(server, PASSWORD) and imap(server, PASSWORD)
    assert pop3(server, PASSWORD) and smtp(server, PASSWORD)
    assert argon2_checks == [PASSWORD]  # the first login paid; the others were remembered
    logins = server.services.audit.entries(SYSTEM, actor=ALICE, action="login")
    assert [(e.service, e.outcome) for e in reversed(logins)] == [
        ("imap", "ok"),
        ("imap", "ok"),
        ("pop3", "ok"),
        ("smtp", "ok"),
    ]
    assert sum("(remembered)" in e.detail for e in logins) == 3
    # A wrong password is never remembered: each pays argon2 and counts as a failure.
    assert not imap(server, "wrong-guess") and not imap(server, "wrong-guess")
    assert argon2_checks.count("wrong-guess") == 2


def test_a_new_password_a_revoked_app_password_or_a_disabled_account_ends_it(
    server: Served, argon2_checks: list[str]
) -> None:
    services = server.services
    _, app_secret = services.credentials.add_app_password(SYSTEM, ALICE, "phone")
    assert imap(server, PASSWORD) and imap(server, app_secret) and imap(server, app_secret)
    (phone,) = services.credentials.app_passwords(SYSTEM, ALICE)
    assert phone.last_used_at is not None  # noted by the remembered login too
    # (Each refusal below from an address of its own: smtplib tries two mechanisms, and
    # five failures from one address would lock it.)
    services.credentials.revoke_app_password(SYSTEM, ALICE, "phone")
    assert not imap(server, app_secret, "127.0.0.3") and not smtp(server, app_secret)
    services.directory.set_password(SYSTEM, ALICE, "Another-pass-123")
    assert not imap(server, PASSWORD, "127.0.0.4") and not pop3(server, PASSWORD)
    assert imap(server, "Another-pass-123") and imap(server, "Another-pass-123")
    services.directory.update_user(SYSTEM, ALICE, active=False)
    assert not imap(server, "Another-pass-123", "127.0.0.5")


def test_a_locked_client_is_refused_even_a_remembered_password(server: Served) -> None:
    assert imap(server, PASSWORD, ATTACKER)  # remembered, from the attacker's address too
    for n in range(5):
        assert not imap(server, f"guess-{n}", ATTACKER)
    assert not imap(server, PASSWORD, ATTACKER)  # locked there
    assert imap(server, PASSWORD)  # and only there


def test_a_remembered_password_skips_the_wait_of_an_account_being_guessed(
    tmp_path: Path, database_url: str
) -> None:
    """Guesses from elsewhere space out the account's logins from unknown addresses
    (test_auth_sockets.py, where nothing is remembered, shows the wait); a secret already
    proven right is no guess, so a new device with it gets in at once."""
    config = make_config(tmp_path, database_url, backoff_base=0.1, backoff_max=3.0)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, imap="on")) as server:
        server.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        remembered_new_address_logs_in(server)


def remembered_new_address_logs_in(server: Served) -> None:
    assert imap(server, PASSWORD)
    for n in range(5):  # the account is being guessed at, from two addresses
        assert not imap(server, f"guess-{n}", ATTACKER)
    assert not imap(server, "guess", "127.0.0.3")
    assert imap(server, PASSWORD, "127.0.0.4")  # a new address, no turn to wait for
    entries = server.services.audit.entries(SYSTEM, actor=ALICE, action="login")
    assert [e.outcome for e in entries if e.peer_ip == "127.0.0.4"] == ["ok"]


def test_a_secret_checked_while_it_changed_is_not_remembered(
    server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password reset landing while a login's argon2 check runs: the login may pass
    (it was checked against the password then), but what is remembered is the stamp it
    was checked against, so the old password is refused from then on."""
    services = server.services
    real = login_module.verify_password
    reset: list[bool] = []

    def reset_midway(stored: str, secret: str) -> bool:
        if not reset:
            reset.append(True)
            services.directory.set_password(SYSTEM, ALICE, "Another-pass-123")
        return real(stored, secret)

    monkeypatch.setattr(login_module, "verify_password", reset_midway)
    services.auth.authenticate_remembered(ALICE, PASSWORD, "imap", "127.0.0.1")
    with pytest.raises(AuthFailed):
        services.auth.authenticate_remembered(ALICE, PASSWORD, "imap", "127.0.0.1")


def test_spellings_of_one_address_share_an_entry_and_use_never_extends_it(
    tmp_path: Path, database_url: str, argon2_checks: list[str]
) -> None:
    config = make_config(tmp_path, database_url, login_cache=1)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    built = runtime_module.build(config)
    checks = argon2_checks
    try:
        built.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
        auth = built.services.auth
        for spelling in (ALICE, " Alice@Example.TEST", "alice@example.test."):
            auth.authenticate_remembered(spelling, PASSWORD, "imap", "127.0.0.1")
        assert checks == [PASSWORD]
        deadline = time.monotonic() + 1.5  # past its one second, used all along
        while time.monotonic() < deadline:
            auth.authenticate_remembered(ALICE, PASSWORD, "dav", "127.0.0.1")
            time.sleep(0.1)
        assert checks == [PASSWORD, PASSWORD]  # it expired once, and was checked again
    finally:
        built.close()


def test_a_locked_client_gets_the_same_refusal_without_the_secret_being_looked_at(
    server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locked, a remembered right secret and a wrong one are refused alike, and the
    remembered entry is not even consulted (its timing would tell them apart)."""
    auth = server.services.auth
    auth.authenticate_remembered(ALICE, PASSWORD, "imap", ATTACKER)
    for n in range(5):
        with pytest.raises(AuthFailed):
            auth.authenticate_remembered(ALICE, f"guess-{n}", "imap", ATTACKER)
    consulted: list[str] = []
    real = auth.remembered.recall

    def recall(login: str, digest: str) -> object:
        consulted.append(login)
        return real(login, digest)

    monkeypatch.setattr(auth.remembered, "recall", recall)
    refusals = []
    for secret in (PASSWORD, "wrong"):
        with pytest.raises(TryLater) as refused:
            auth.authenticate_remembered(ALICE, secret, "imap", ATTACKER)
        refusals.append(str(refused.value))
    assert refusals[0] == refusals[1] and consulted == []


def test_roles_are_read_afresh_at_each_remembered_login(server: Served) -> None:
    """The cache keeps who proved what secret, never the grants: a role given or taken
    shows at the next login, remembered or not."""
    auth, roles = server.services.auth, server.services.roles
    first = auth.authenticate_remembered(ALICE, PASSWORD, "imap", "127.0.0.1")
    assert "admin" not in first.principal.roles()
    roles.grant(SYSTEM, "admin", user=ALICE)
    granted = auth.authenticate_remembered(ALICE, PASSWORD, "imap", "127.0.0.1")
    assert "admin" in granted.principal.roles()
    roles.revoke(SYSTEM, "admin", user=ALICE)
    revoked = auth.authenticate_remembered(ALICE, PASSWORD, "dav", "127.0.0.1")
    assert "admin" not in revoked.principal.roles()
