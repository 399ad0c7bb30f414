"""`Auth.authenticate` on SQLite and PostgreSQL: passwords, disabled accounts, app
passwords, TOTP; throttling per (account, address) and per address (lock-out even with the
right password, its end, back-off) with each attempt in the audit log; and the throttle
keys (IPv6 /64). What only an attacker elsewhere or wrong codes do: test_auth_throttle.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pyotp
import pytest

from groupware.errors import AuthFailed, InvalidInput, TryLater
from groupware.runtime import Runtime
from groupware.services import Services
from groupware.services.auth.throttle import (
    account_key,
    ip_key,
    pair_key,
    parse_key,
    srs_key,
    totp_pair_key,
)
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.core.audit import AuditRecord

PASSWORD = "S3cret-pass-1"
ALICE = "alice@example.org"
IP = "192.0.2.10"


def seed(services: Services, *others: str) -> Principal:
    """example.org with alice (and `others`); returns alice's principal."""
    services.directory.add_domain(SYSTEM, "example.org")
    alice = services.directory.add_user(SYSTEM, ALICE, PASSWORD)
    for address in others:
        services.directory.add_user(SYSTEM, address, PASSWORD)
    principal = services.auth.principal(alice.id)
    assert principal is not None
    return principal.via("web", IP)


def logins(services: Services, target: str = ALICE) -> list[AuditRecord]:
    """Login audit entries about `target`, oldest first."""
    entries = services.audit.entries(SYSTEM, limit=1000)
    return [e for e in reversed(entries) if e.action.startswith("login") and e.target == target]


def next_totp(secret: str) -> str:
    """The code of the next time step: valid now (one step of drift is allowed) and not
    the step an enrolment just used, since each step logs in only once."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_totp(secret: str) -> str:
    """A six-digit code that is not valid now, nor one step either side."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + step * 30) for step in (-2, -1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


# -- passwords ---------------------------------------------------------------------------


def test_right_password(services: Services) -> None:
    seed(services)
    login = services.auth.authenticate(" Alice@Example.ORG ", PASSWORD, "imap", IP)
    assert login.principal.address == ALICE
    assert (login.principal.service, login.principal.peer_ip) == ("imap", IP)
    assert login.totp_required is False and login.app_password is None
    assert login.principal.grants == ()
    (entry,) = logins(services)
    assert (entry.actor, entry.action, entry.outcome) == (ALICE, "login", "ok")
    assert (entry.service, entry.peer_ip, entry.domain) == ("imap", IP, "example.org")


def test_wrong_password_and_unknown_user(services: Services) -> None:
    seed(services)
    with pytest.raises(AuthFailed) as failed:
        services.auth.authenticate(ALICE, "wrong-password", "smtp", IP)
    assert failed.value.retry_after == 0.0  # the tests' config has no back-off
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "", "smtp", IP)
    with pytest.raises(AuthFailed):
        services.auth.authenticate("nobody@example.org", PASSWORD, "pop3", IP)
    with pytest.raises(AuthFailed):
        services.auth.authenticate("not an address", PASSWORD, "pop3", IP)
    assert [(e.outcome, e.service) for e in logins(services)] == [
        ("failed", "smtp"),
        ("failed", "smtp"),
    ]
    (unknown,) = logins(services, "nobody@example.org")
    assert (unknown.outcome, unknown.service, unknown.peer_ip) == ("failed", "pop3", IP)
    (malformed,) = logins(services, "not an address")
    assert malformed.outcome == "failed" and malformed.domain is None


def test_garbage_login_fails_cleanly(services: Services) -> None:
    """Regression: an over-long malformed login broke the audit insert on PostgreSQL
    (its "domain" did not fit the column), so it escaped as a DataError, uncounted."""
    seed(services)
    garbage = "a@" + "b" * 300
    with pytest.raises(AuthFailed):
        services.auth.authenticate(garbage, PASSWORD, "imap", IP)
    (entry,) = logins(services, garbage)
    assert entry.outcome == "failed" and entry.domain is None
    # A login without "@" is not filed under a domain named like it.
    with pytest.raises(AuthFailed):
        services.auth.authenticate("example.org", PASSWORD, "imap", IP)
    (entry,) = logins(services, "example.org")
    assert entry.domain is None


def test_disabled_user_refused_even_with_the_right_password(services: Services) -> None:
    seed(services)
    services.directory.update_user(SYSTEM, ALICE, active=False)
    for service in ("web", "imap", "smtp", "dav"):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, PASSWORD, service, IP)
    entries = logins(services)
    assert [(e.outcome, e.detail, e.service) for e in entries] == [
        ("failed", "disabled account", "web"),
        ("failed", "disabled account", "imap"),
        ("failed", "disabled account", "smtp"),
        ("failed", "disabled account", "dav"),
    ]
    # A disabled account has no principal either (web sessions reload it per request).
    assert services.auth.principal(services.directory.get_user(SYSTEM, ALICE).id) is None
    services.directory.update_user(SYSTEM, ALICE, active=True)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)


# -- app passwords and TOTP --------------------------------------------------------------


def test_app_passwords_for_mail_clients_not_for_the_web(services: Services) -> None:
    alice = seed(services)
    credentials = services.credentials
    _, secret = credentials.add_app_password(alice, ALICE, "phone")
    login = services.auth.authenticate(ALICE, secret, "imap", IP)
    assert login.app_password == "phone" and login.principal.address == ALICE
    # Typed on a phone: case, spaces and dashes do not matter.
    services.auth.authenticate(ALICE, secret.upper().replace("-", " "), "smtp", IP)
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, secret, "web", IP)
    (listed,) = credentials.app_passwords(alice, ALICE)
    assert listed.last_used_at is not None
    assert [e.detail for e in logins(services) if e.outcome == "ok"] == [
        "app password phone",
        "app password phone",
    ]

    credentials.revoke_app_password(alice, ALICE, "phone")
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, secret, "imap", IP)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)  # no TOTP: the password works


def test_totp(services: Services) -> None:
    alice = seed(services)
    credentials = services.credentials
    enrolment = credentials.begin_totp(alice)
    assert enrolment.uri.startswith("otpauth://totp/")
    assert "issuer=mail.example.test" in enrolment.uri
    with pytest.raises(InvalidInput, match="does not match"):
        credentials.confirm_totp(alice, enrolment.secret, wrong_totp(enrolment.secret))
    assert not services.directory.get_user(alice, ALICE).totp_enabled
    enrolled = pyotp.TOTP(enrolment.secret).now()  # the code of the step enrolment spends
    credentials.confirm_totp(alice, enrolment.secret, enrolled)
    assert services.directory.get_user(alice, ALICE).totp_enabled
    _, app_secret = credentials.add_app_password(alice, ALICE, "laptop")

    # Mail and DAV clients must now use app passwords; the web asks for a code.
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    assert services.auth.authenticate(ALICE, app_secret, "imap", IP).app_password == "laptop"
    web = services.auth.authenticate(ALICE, PASSWORD, "web", IP)
    assert web.totp_required is True
    # The enrolment's own code is spent (checked with that code, not "now": the slow
    # argon2 checks above may cross a 30 s step); the next step's code works once.
    assert not services.auth.verify_totp(web.principal, enrolled)
    code = next_totp(enrolment.secret)
    assert services.auth.verify_totp(web.principal, code)
    assert not services.auth.verify_totp(web.principal, code)
    assert not services.auth.verify_totp(web.principal, wrong_totp(enrolment.secret))
    assert not services.auth.verify_totp(web.principal, "")
    totp_entries = [(e.action, e.outcome, e.service) for e in logins(services)][-5:]
    assert totp_entries == [
        ("login.totp", "failed", "web"),
        ("login.totp", "ok", "web"),
        ("login.totp", "failed", "web"),
        ("login.totp", "failed", "web"),
        ("login.totp", "failed", "web"),
    ]

    credentials.disable_totp(alice, ALICE)
    assert services.auth.authenticate(ALICE, PASSWORD, "imap", IP).totp_required is False
    assert services.auth.authenticate(ALICE, PASSWORD, "web", IP).totp_required is False


# -- throttling --------------------------------------------------------------------------


def test_lockout_after_max_failures_refuses_the_right_password(
    make_runtime: Callable[..., Runtime],
) -> None:
    services = make_runtime(max_failures=3, lockout=600).services
    seed(services)
    for _ in range(3):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
    with pytest.raises(TryLater) as throttled:
        services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    assert 590 <= throttled.value.retry_after <= 600
    assert "too many failed logins" in str(throttled.value)
    # The lock is on the account from that address, over every protocol…
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "web", IP)
    # …not on the account: from another address it works.
    services.auth.authenticate(ALICE, PASSWORD, "web", "198.51.100.99")

    entries = logins(services)
    assert [(e.outcome, e.service, e.peer_ip) for e in entries] == [
        ("failed", "imap", IP),
        ("failed", "imap", IP),
        ("failed", "imap", IP),
        ("throttled", "imap", IP),
        ("throttled", "web", IP),
        ("ok", "web", "198.51.100.99"),
    ]
    assert all(e.actor == ALICE and e.action == "login" for e in entries)
    assert "account-ip:alice@example.org|192.0.2.10 locked" in entries[3].detail


def test_failures_below_the_limit_do_not_lock(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=3).services
    seed(services)
    for _ in range(2):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    # The success cleared that address's count on the account: two more do not lock.
    for _ in range(2):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)


def test_lock_ends_after_lockout_seconds(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=2, lockout=1).services
    seed(services)
    for _ in range(2):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
    with pytest.raises(TryLater) as throttled:
        services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    assert throttled.value.retry_after >= 1.0  # never tells a client to retry at once
    time.sleep(1.2)
    login = services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    assert login.principal.address == ALICE
    # The success reset the address's count on the account: one failure is one again.
    with pytest.raises(AuthFailed):
        services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    assert [e.outcome for e in logins(services)] == [
        "failed",
        "failed",
        "throttled",
        "ok",
        "failed",
        "ok",
    ]


def test_per_ip_throttling_across_accounts(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=10, max_failures_per_ip=3, lockout=600).services
    seed(services, "bob@example.org")
    for login in ("alice@example.org", "bob@example.org", "nobody@example.org"):
        with pytest.raises(AuthFailed):
            services.auth.authenticate(login, "wrong-password", "smtp", "203.0.113.5")
    # That address is locked for every account, even with the right password…
    with pytest.raises(TryLater):
        services.auth.authenticate("bob@example.org", PASSWORD, "smtp", "203.0.113.5")
    (throttled,) = [e for e in logins(services, "bob@example.org") if e.outcome == "throttled"]
    assert (throttled.peer_ip, throttled.service) == ("203.0.113.5", "smtp")
    assert "ip:203.0.113.5" in throttled.detail
    # …while the accounts themselves are fine from elsewhere.
    services.auth.authenticate("bob@example.org", PASSWORD, "smtp", "203.0.113.6")
    services.auth.authenticate(ALICE, PASSWORD, "smtp", "203.0.113.6")


def test_ipv6_peers_are_counted_per_64(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=10, max_failures_per_ip=2, lockout=600).services
    seed(services)
    for peer in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        with pytest.raises(AuthFailed):
            services.auth.authenticate("nobody@example.org", "x", "imap", peer)
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "imap", "2001:db8:1:2::abcd")
    services.auth.authenticate(ALICE, PASSWORD, "imap", "2001:db8:1:3::1")  # next /64


def test_backoff_doubles_up_to_the_cap(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(
        max_failures=20, max_failures_per_ip=20, backoff_base=0.5, backoff_max=3.0
    ).services
    seed(services)
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)  # a known address: not spaced
    delays = []
    for _ in range(5):
        with pytest.raises(AuthFailed) as failed:
            services.auth.authenticate(ALICE, "wrong-password", "imap", IP)
        delays.append(failed.value.retry_after)
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    services.auth.authenticate(ALICE, PASSWORD, "imap", IP)
    # The account's count from there restarts, but the address keeps its own (the worse
    # one counts).
    with pytest.raises(AuthFailed) as failed:
        services.auth.authenticate("bob@example.org", "wrong-password", "imap", IP)
    assert failed.value.retry_after == 3.0


def test_parallel_failures_are_all_counted(make_runtime: Callable[..., Runtime]) -> None:
    """Regression: concurrent first failures on PostgreSQL collided inserting the throttle
    row (UniqueViolation escaped authenticate) and concurrent updates lost counts, so
    parallel guessing got more tries than max_failures."""
    attempts = 6
    services = make_runtime(max_failures=attempts, lockout=600).services
    seed(services)
    barrier = threading.Barrier(attempts)
    unexpected: list[BaseException] = []

    def guess(index: int) -> None:
        barrier.wait()
        try:
            services.auth.authenticate(ALICE, f"wrong-{index}", "imap", "198.51.100.7")
        except AuthFailed:
            pass
        except BaseException as exc:  # anything else is the bug
            unexpected.append(exc)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert unexpected == []
    assert [e.outcome for e in logins(services)] == ["failed"] * attempts
    with pytest.raises(TryLater):
        services.auth.authenticate(ALICE, PASSWORD, "imap", "198.51.100.7")
    counts = {lock.key: lock.failures for lock in services.login_locks.entries(SYSTEM)}
    assert counts == {
        "account-ip:alice@example.org|198.51.100.7": attempts,
        "ip:198.51.100.7": attempts,
        "account:alice@example.org": attempts,
    }


def test_totp_failures_count_towards_the_lock(make_runtime: Callable[..., Runtime]) -> None:
    services = make_runtime(max_failures=2, lockout=600).services
    alice = seed(services)
    enrolment = services.credentials.begin_totp(alice)
    services.credentials.confirm_totp(alice, enrolment.secret, pyotp.TOTP(enrolment.secret).now())
    web = services.auth.authenticate(ALICE, PASSWORD, "web", IP)
    wrong = wrong_totp(enrolment.secret)
    assert not services.auth.verify_totp(web.principal, wrong)
    assert not services.auth.verify_totp(web.principal, wrong)
    # Locked now: even the right code is refused (the password itself is not locked).
    with pytest.raises(TryLater) as throttled:
        services.auth.verify_totp(web.principal, next_totp(enrolment.secret))
    assert "too many wrong codes" in str(throttled.value)
    assert 590 <= throttled.value.retry_after <= 600
    assert services.auth.authenticate(ALICE, PASSWORD, "web", IP).totp_required
    outcomes = [(e.action, e.outcome) for e in logins(services)]
    assert outcomes[-4:] == [
        ("login.totp", "failed"),
        ("login.totp", "failed"),
        ("login.totp", "throttled"),
        ("login", "ok"),
    ]


# -- throttle keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("192.0.2.1", "ip:192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "ip:2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff::1", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "ip:2001:db8:1:3::/64"),
        ("::1", "ip:::/64"),
        ("::ffff:192.0.2.1", "ip:192.0.2.1"),
        ("", "ip:"),
        ("not-an-ip", "ip:not-an-ip"),
        ("x" * 100, "ip:" + "x" * 64),
    ],
)
def test_ip_key(peer: str, key: str) -> None:
    assert ip_key(peer) == key


def test_srs_key() -> None:
    assert srs_key("2001:db8:1:2:3:4:5:6") == "srs:2001:db8:1:2::/64"
    assert srs_key("::ffff:192.0.2.1") == "srs:192.0.2.1"


def test_account_key() -> None:
    assert account_key(" Alice@Example.ORG ") == "account:alice@example.org"
    assert len(account_key("a" * 1000)) == len("account:") + 320


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("account:alice@example.org", ("account", "alice@example.org", None)),
        ("ip:2001:db8::/64", ("ip", None, "2001:db8::/64")),
        ("srs:192.0.2.1", ("srs", None, "192.0.2.1")),
        ("account-ip:a|b@example.org|192.0.2.1", ("account-ip", "a|b@example.org", "192.0.2.1")),
        ("totp:alice@example.org", ("totp", "alice@example.org", None)),
        ("totp-ip:alice@example.org|::/64", ("totp-ip", "alice@example.org", "::/64")),
        ("account-ip:no-separator", None),
        ("alice@example.org", None),
        ("other:x", None),
        ("ip:", None),
    ],
)
def test_parse_key(key: str, parts: tuple[str, str | None, str | None] | None) -> None:
    parsed = parse_key(key)
    assert (parsed and (parsed.kind, parsed.account, parsed.network)) == parts


def test_pair_keys_survive_a_separator_in_the_peer() -> None:
    key = pair_key("Alice@Example.org", "odd|peer")
    assert key == "account-ip:alice@example.org|odd_peer"
    assert totp_pair_key("alice@example.org", "2001:db8:1:2::9") == (
        "totp-ip:alice@example.org|2001:db8:1:2::/64"
    )
