"""What guessing from elsewhere and guessing TOTP codes do, on SQLite and PostgreSQL.

An attacker locks only their own (account, address) pair; the account's count merely spaces
attempts from addresses it never logged in from, so its usual devices keep working.
Wrong TOTP codes lock the second factor on keys of their own that a right password never
resets; a code logs in once, even when two sessions race with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyotp
import pytest
from sqlalchemy import func, select

from groupware.errors import AuthFailed, NotFound, PermissionDenied, TryLater
from groupware.model.audit import LoginThrottle
from groupware.runtime import Runtime
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from tests.integration.test_auth import (
    ALICE,
    PASSWORD,
    logins,
    next_totp,
    seed,
    wrong_totp,
)

HOME, EVIL, NEW = "192.0.2.10", "203.0.113.66", "198.51.100.20"
# The back-off of an account's first failure: long enough that the next attempt comes
# within it even on a loaded machine (an argon2 check or two lie between them).
TURN = 2.0
SPACED = {"backoff_base": TURN, "backoff_max": 2 * TURN}


def enrol(services: Services, alice: Principal) -> str:
    enrolment = services.credentials.begin_totp(alice)
    services.credentials.confirm_totp(alice, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    return enrolment.secret


def eventually_logs_in(services: Services, peer: str, bound: float = 20.0) -> int:
    """Log alice in from `peer`, retrying while she is slowed down (never past `bound`
    seconds: a lock would fail); returns how many refusals came first."""
    refused, started = 0, time.monotonic()
    while True:
        try:
            services.auth.authenticate(ALICE, PASSWORD, "imap", peer)
            return refused
        except TryLater as refusal:
            assert "slowed down" in logins(services)[-1].detail
            assert time.monotonic() - started < bound, "slowed down for good: a lock"
            refused += 1
            time.sleep(refusal.retry_after)


# -- finding: anyone could lock anyone out ----------------------------------------------


def test_an_attacker_elsewhere_locks_only_themself(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime().services  # defaults: 5 per (account, address), 20 per address
    seed(services)
    services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)
    for attempt in range(50):
        expected = AuthFailed if attempt < 5 else TryLater
        with pytest.raises(expected):
            services.auth.authenticate(ALICE, f"guess-{attempt}", "imap", EVIL)
    # Alice keeps working from home, over every protocol, and from an address she never
    # used before; the attacker is refused even the right password.
    for service in ("imap", "smtp", "pop3", "web", "dav"):
        services.auth.authenticate(ALICE, PASSWORD, service, HOME)
    services.auth.authenticate(ALICE, PASSWORD, "imap", NEW)
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "imap", EVIL)
    assert [e.outcome for e in logins(services) if e.peer_ip == EVIL] == (
        ["failed"] * 5 + ["throttled"] * 46
    )


def test_account_wide_failures_slow_unknown_addresses_only(
    make_runtime: Callable[..., Runtime],
) -> None:
    services = make_runtime(max_failures=50, **SPACED).services
    seed(services)
    services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)
    with pytest.raises(AuthFailed) as failed:
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    assert failed.value.retry_after == TURN
    # Another address at once, even with the right password: its turn has not come.
    with pytest.raises(TryLater) as slowed:
        services.auth.authenticate(ALICE, PASSWORD, "imap", "203.0.113.67")
    assert 0 < slowed.value.retry_after <= TURN
    assert "account:alice@example.org slowed down" in logins(services)[-1].detail
    services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)  # known: never slowed
    # Slowed, not locked: a new address gets in once its turn comes…
    eventually_logs_in(services, NEW)
    # …and, having logged in, is known from then on.
    time.sleep(TURN + 0.1)  # the attacker's next turn
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    services.auth.authenticate(ALICE, PASSWORD, "imap", NEW)


def test_an_app_password_needs_no_turn(make_runtime: Callable[..., Runtime]) -> None:
    """While the account is guessed at, a phone on a network it never used gets in with
    its app password (unguessable) at once; the account password would wait its turn."""
    services = make_runtime(max_failures=50, **SPACED).services
    alice = seed(services)
    _, phone = services.credentials.add_app_password(alice, ALICE, "phone")
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "imap", NEW)
    assert services.auth.authenticate(ALICE, phone, "imap", NEW).app_password == "phone"
    with pytest.raises(TryLater):  # for the web, app passwords are no password
        services.auth.authenticate(ALICE, phone, "web", "198.51.100.21")


def test_an_address_polling_for_turns_locks_itself_out(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Each attempt that must wait for the account's turn counts against its address:
    polling for the turns (to keep the owner from ever getting one) soon locks the
    poller out, not the account."""
    services = make_runtime(max_failures=50, max_failures_per_ip=5, **SPACED).services
    seed(services)
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    poller = "203.0.113.99"
    for _ in range(5):
        with pytest.raises(TryLater):
            services.auth.authenticate(ALICE, "guess", "imap", poller)
    assert "slowed down" in logins(services)[-1].detail
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, "guess", "imap", poller)
    assert f"ip:{poller} locked" in logins(services)[-1].detail
    eventually_logs_in(services, NEW)  # the owner's turn comes


def test_parallel_guesses_from_many_addresses_share_one_turn(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Spread over addresses, parallel guesses get one check per turn of the account."""
    services = make_runtime(max_failures=50, **SPACED).services
    seed(services)
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    time.sleep(TURN + 0.1)  # the next turn is free
    attempts = 5
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def guess(index: int) -> None:
        barrier.wait()
        try:
            services.auth.authenticate(ALICE, f"guess-{index}", "imap", f"203.0.113.{index}")
        except (AuthFailed, TryLater) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["AuthFailed"] + ["TryLater"] * (attempts - 1)


def test_known_addresses_can_be_forgotten(make_runtime: Callable[..., Runtime]) -> None:
    """auth.known_address_days = 0 remembers no address: every one is slowed alike."""
    services = make_runtime(known_address_days=0, **SPACED).services
    seed(services)
    services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "imap", EVIL)
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)


# -- finding: wrong TOTP codes never locked anything -------------------------------------


def test_wrong_codes_lock_totp_though_the_password_is_right(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Regression: a right password reset the count that wrong codes added to, so a
    stolen password gave unlimited code guesses (only the per-address limit remained)."""
    services = make_runtime(max_failures=3, lockout=600).services
    secret = enrol(services, seed(services))
    for _ in range(3):  # each guess after a fresh, right password step
        step = services.auth.authenticate(ALICE, PASSWORD, "web", EVIL)
        assert step.totp_required
        assert not services.auth.verify_totp(step.principal, wrong_totp(secret))
    # The second factor is locked, for the right code too, from any address.
    step = services.auth.authenticate(ALICE, PASSWORD, "web", HOME)
    with pytest.raises(TryLater) as locked:
        services.auth.verify_totp(step.principal, next_totp(secret))
    assert "too many wrong codes" in str(locked.value)
    assert "totp:alice@example.org locked" in logins(services)[-1].detail
    # An admin clears it; the right code then logs in.
    cleared = services.login_locks.clear_matching(SYSTEM, ALICE)
    assert {(lock.key, lock.state) for lock in cleared} == {
        ("totp:alice@example.org", "locked"),
        (f"totp-ip:alice@example.org|{EVIL}", "locked"),
    }
    assert services.auth.verify_totp(step.principal, next_totp(secret))


def test_a_code_guesser_with_the_password_does_not_keep_the_owner_out(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Regression: five wrong codes from anywhere locked totp:<account>, and the owner's
    right password and code from where she always logs in got TryLater for the whole
    lockout, as often as the guesser liked. The account-wide lock now spares addresses
    the account logged in from; elsewhere it holds, and (account, address) keys lock
    everywhere."""
    services = make_runtime(lockout=600).services  # auth.max_failures: 5
    alice = seed(services)
    services.auth.authenticate(ALICE, PASSWORD, "imap", HOME)  # a full login: HOME is known
    secret = enrol(services, alice)
    for number in range(5):  # the stolen password, a new address and a wrong code each time
        step = services.auth.authenticate(ALICE, PASSWORD, "web", f"203.0.113.{number + 1}")
        assert not services.auth.verify_totp(step.principal, wrong_totp(secret))
    step = services.auth.authenticate(ALICE, PASSWORD, "web", NEW)
    with pytest.raises(TryLater):  # locked account-wide: the right code is refused here
        services.auth.verify_totp(step.principal, next_totp(secret))
    assert "totp:alice@example.org locked" in logins(services)[-1].detail

    home = services.auth.authenticate(ALICE, PASSWORD, "web", HOME)
    assert services.auth.verify_totp(home.principal, next_totp(secret))  # alice gets in
    # Her login did not lift the guesser's lock: new addresses are still refused.
    step = services.auth.authenticate(ALICE, PASSWORD, "web", "203.0.113.9")
    with pytest.raises(TryLater):
        services.auth.verify_totp(step.principal, wrong_totp(secret))
    states = {lock.key: lock.state for lock in services.login_locks.entries(SYSTEM)}
    assert states["totp:alice@example.org"] == "locked"
    # Wrong codes from HOME lock HOME's own key, known or not.
    for _ in range(5):
        assert not services.auth.verify_totp(home.principal, wrong_totp(secret))
    with pytest.raises(TryLater):
        services.auth.verify_totp(home.principal, next_totp(secret))
    assert f"totp-ip:alice@example.org|{HOME} locked" in logins(services)[-1].detail


def test_a_right_code_resets_the_count_of_wrong_ones(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=3, lockout=600).services
    secret = enrol(services, seed(services))
    step = services.auth.authenticate(ALICE, PASSWORD, "web", HOME)
    for _ in range(2):
        assert not services.auth.verify_totp(step.principal, wrong_totp(secret))
    assert services.auth.verify_totp(step.principal, next_totp(secret))
    for _ in range(2):
        assert not services.auth.verify_totp(step.principal, wrong_totp(secret))
    assert {lock.key: lock.state for lock in services.login_locks.entries(SYSTEM)} == {
        "totp:alice@example.org": "counting",
        f"totp-ip:alice@example.org|{HOME}": "counting",
        f"ip:{HOME}": "counting",
    }


def test_a_code_logs_in_once_even_when_sessions_race(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime().services
    secret = enrol(services, seed(services))
    code = next_totp(secret)
    racers = 4
    steps = [
        services.auth.authenticate(ALICE, PASSWORD, "web", f"198.51.100.{i}") for i in range(racers)
    ]
    barrier = threading.Barrier(racers)
    results: list[bool] = []

    def race(index: int) -> None:
        barrier.wait()
        results.append(services.auth.verify_totp(steps[index].principal, code))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [False] * (racers - 1) + [True]
    assert not services.auth.verify_totp(steps[0].principal, code)  # nor replayed later


def test_the_password_step_alone_does_not_make_an_address_known(
    make_runtime: Callable[..., Runtime],
) -> None:
    services = make_runtime(**SPACED).services
    secret = enrol(services, seed(services))
    services.auth.authenticate(ALICE, PASSWORD, "web", HOME)  # no code given
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "web", EVIL)
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "web", HOME)
    time.sleep(TURN + 0.1)
    step = services.auth.authenticate(ALICE, PASSWORD, "web", HOME)
    assert services.auth.verify_totp(step.principal, next_totp(secret))
    time.sleep(TURN + 0.1)  # the attacker's next turn
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "guess", "web", EVIL)
    services.auth.authenticate(ALICE, PASSWORD, "web", HOME)  # known now


# -- the admins' view --------------------------------------------------------------------


def test_domain_admins_see_and_clear_only_their_domains(
    make_runtime: Callable[..., Runtime],
) -> None:
    services = make_runtime(max_failures=2, lockout=600).services
    seed(services)
    services.directory.add_domain(SYSTEM, "example.net")
    services.directory.add_user(SYSTEM, "nina@example.net", PASSWORD)
    helper = services.directory.add_user(SYSTEM, "helper@example.org", PASSWORD)
    services.roles.grant(SYSTEM, "domain-admin", user="helper@example.org", domain="example.org")
    for login in (ALICE, ALICE, "nina@example.net", "nina@example.net"):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(login, "guess", "imap", EVIL)
    everything = {lock.key: lock.state for lock in services.login_locks.entries(SYSTEM)}
    assert everything == {
        f"account-ip:alice@example.org|{EVIL}": "locked",
        f"account-ip:nina@example.net|{EVIL}": "locked",
        "account:alice@example.org": "counting",
        "account:nina@example.net": "counting",
        f"ip:{EVIL}": "counting",
    }
    helper_principal = services.auth.principal(helper.id)
    assert helper_principal is not None
    seen = {lock.key for lock in services.login_locks.entries(helper_principal)}
    assert seen == {f"account-ip:alice@example.org|{EVIL}", "account:alice@example.org"}
    for key in (f"account-ip:nina@example.net|{EVIL}", f"ip:{EVIL}"):
        with pytest.raises(PermissionDenied):
            services.login_locks.clear(helper_principal, key)
    with pytest.raises(PermissionDenied):
        services.login_locks.clear_matching(helper_principal, EVIL)  # holds nina's too
    cleared = services.login_locks.clear(helper_principal, f"account-ip:alice@example.org|{EVIL}")
    assert (cleared.account, cleared.network, cleared.failures) == (ALICE, EVIL, 2)
    services.auth.authenticate(ALICE, PASSWORD, "imap", EVIL)
    with pytest.raises(NotFound):
        services.login_locks.clear(helper_principal, f"account-ip:alice@example.org|{EVIL}")
    (unlock,) = [e for e in services.audit.entries(SYSTEM) if e.action == "login.unlock"]
    assert (unlock.actor, unlock.target, unlock.domain) == (
        "helper@example.org",
        ALICE,
        "example.org",
    )
    assert unlock.detail == f"account-ip:alice@example.org|{EVIL} (2 failures, locked)"
    # An admin clears a whole client address at once.
    gone = services.login_locks.clear_matching(SYSTEM, EVIL)
    assert {lock.key for lock in gone} == {f"account-ip:nina@example.net|{EVIL}", f"ip:{EVIL}"}
    services.auth.authenticate("nina@example.net", PASSWORD, "imap", EVIL)
    plain = services.auth.principal(services.directory.get_user(SYSTEM, ALICE).id)
    assert plain is not None
    with pytest.raises(PermissionDenied):
        services.login_locks.entries(plain)


def test_a_domain_admin_neither_sees_nor_clears_a_global_admins_locks(
    make_runtime: Callable[..., Runtime],
) -> None:
    """Regression: a domain-admin cleared the locks of a global admin of its domain (the
    domain alone was checked), which helps whoever guesses at the admin's password; the
    rule is a password reset's: the actor must outrank the account's roles."""
    services = make_runtime(max_failures=2, lockout=600).services
    seed(services)
    boss, helper_address = "boss@example.org", "helper@example.org"
    for address in (boss, helper_address):
        services.directory.add_user(SYSTEM, address, PASSWORD)
    services.roles.grant(SYSTEM, "admin", user=boss)
    services.roles.grant(SYSTEM, "domain-admin", user=helper_address, domain="example.org")
    boss_principal = services.auth.principal(services.directory.get_user(SYSTEM, boss).id)
    helper = services.auth.principal(services.directory.get_user(SYSTEM, helper_address).id)
    assert boss_principal is not None and helper is not None
    secret = enrol(services, boss_principal)
    for login in (boss, boss, ALICE, ALICE):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(login, "guess", "imap", EVIL)
    step = services.auth.authenticate(boss, PASSWORD, "web", HOME)
    assert not services.auth.verify_totp(step.principal, wrong_totp(secret))
    bosses = {lock.key for lock in services.login_locks.entries(SYSTEM) if lock.account == boss}
    assert bosses == {
        f"account-ip:{boss}|{EVIL}",
        f"account:{boss}",
        f"totp:{boss}",
        f"totp-ip:{boss}|{HOME}",
    }

    seen = {lock.key for lock in services.login_locks.entries(helper)}
    assert seen == {f"account-ip:{ALICE}|{EVIL}", f"account:{ALICE}"}  # not the boss's
    for key in sorted(bosses):
        with pytest.raises(PermissionDenied, match="holds roles beyond"):
            services.login_locks.clear(helper, key)
    with pytest.raises(PermissionDenied):
        services.login_locks.clear_matching(helper, boss)
    assert {lock.key for lock in services.login_locks.entries(SYSTEM)} >= bosses  # all there
    with pytest.raises(TryLater):
        services.auth.authenticate(boss, PASSWORD, "imap", EVIL)
    # Alice's the helper still clears; the boss's own, the boss does.
    services.login_locks.clear(helper, f"account-ip:{ALICE}|{EVIL}")
    cleared = services.login_locks.clear_matching(boss_principal, boss)
    assert {lock.key for lock in cleared} == bosses


def test_rows_that_count_nothing_are_swept(make_runtime: Callable[..., Runtime]) -> None:
    """A guesser spread over many addresses leaves a row per address and pair; once their
    window is over (and no lock runs) the next new key sweeps them away."""
    runtime = make_runtime(window=5, lockout=1, max_failures=1000, max_failures_per_ip=1000)
    services = runtime.services
    seed(services)
    for number in range(10):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, "wrong", "imap", f"198.51.100.{number}")
    assert rows(runtime) == 21  # a pair and an address each, and the account
    time.sleep(5.5)
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "wrong", "imap", "192.0.2.200")
    assert rows(runtime) == 3  # the new pair, address and account


def rows(runtime: Runtime) -> int:
    with runtime.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(LoginThrottle)) or 0)
