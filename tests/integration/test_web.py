"""The web portal over a real socket: security headers, cookie flags, CSRF, login
throttling with its audit trail, and pages that carry no inline script or style.
"""

from __future__ import annotations

import dataclasses
import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served, make_config, serving, with_listeners


class _ProxiedTLSPolicy(DefaultCookiePolicy):
    def return_ok_secure(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return True


class _FromAddress(urllib.request.HTTPHandler):
    """Connects from a given local address (another loopback address is another client)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(http.client.HTTPConnection, req, source_address=(self.source, 0))


class Browser:
    """A cookie-keeping HTTP client that returns (status, headers, body) for any status;
    `source` is the local address it connects from (127.0.0.2 is another client)."""

    def __init__(self, base: str, source: str = "127.0.0.1") -> None:
        self.base = base
        # The test talks plain HTTP to what a TLS proxy would front: send Secure cookies too.
        self.jar = CookieJar(policy=_ProxiedTLSPolicy())
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _FromAddress(source)
        )

    def request(
        self, path: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def csrf(self, path: str) -> str:
        _, _, body = self.request(path)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def log_in(self, login: str, password: str) -> tuple[int, str]:
        token = self.csrf("/login")
        status, _, body = self.request(
            "/login", {"csrf_token": token, "login": login, "password": password}
        )
        return status, body


def raw_set_cookie(base: str, path: str, headers: dict[str, str] | None = None) -> str:
    req = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as response:
        return ", ".join(response.headers.get_all("Set-Cookie") or [])


def test_security_headers_and_cookie_flags(web_server: Served) -> None:
    client = Browser(web_server.base_url)
    status, headers, body = client.request("/login")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    cookie = raw_set_cookie(web_server.base_url, "/login")
    assert "groupware_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would be lost


def test_session_cookie_is_secure_behind_a_tls_proxy(tmp_path: Path, database_url: str) -> None:
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(
        config, web=dataclasses.replace(config.web, trusted_proxy="127.0.0.1")
    )
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        cookie = raw_set_cookie(served.base_url, "/login", {"X-Forwarded-Proto": "https"})
        assert "Secure" in cookie and "HttpOnly" in cookie
        # Host-only, for the whole site, unsettable by a sibling domain (RFC 6265bis §4.1.3.2).
        assert cookie.startswith("__Host-groupware_session=")
        assert "Path=/" in cookie and "Domain" not in cookie


def test_forms_without_csrf_token_are_refused(web_server: Served) -> None:
    client = Browser(web_server.base_url)
    status, _, body = client.request("/login", {"login": ADMIN, "password": ADMIN_PASSWORD})
    assert status == 400 and "Form expired" in body
    assert client.log_in(ADMIN, ADMIN_PASSWORD)[0] == 200
    status, _, _ = client.request("/admin/domains", {"name": "forged.example"})
    assert status == 400
    assert "forged.example" not in {
        d.name for d in web_server.services.directory.list_domains(SYSTEM)
    }
    token = client.csrf("/admin/domains")
    status, _, body = client.request(
        "/admin/domains", {"csrf_token": token, "name": "real.example"}
    )
    assert status == 200 and "real.example added" in body


def test_pages_have_no_inline_script_or_style(web_server: Served) -> None:
    client = Browser(web_server.base_url)
    assert client.log_in(ADMIN, ADMIN_PASSWORD)[0] == 200
    for path in [
        "/login",
        "/account",
        "/calendar/sharing",
        "/calendar",
        "/calendar?view=month",
        "/calendar?view=agenda",
        "/calendar/event",
        "/admin/domains",
        "/admin/users",
        "/admin/aliases",
        "/admin/groups",
        "/admin/roles",
        "/admin/audit",
        f"/admin/users/{ADMIN}",
    ]:
        status, _, body = client.request(path)
        assert status == 200, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
        assert not re.search(r"\s(style|on[a-z]+)=", body), path


@pytest.fixture
def throttled_config(tmp_path: Path, database_url: str) -> Config:
    return make_config(tmp_path, database_url, max_failures=3, lockout=600)


def test_login_throttling_refuses_even_the_right_password(throttled_config: Config) -> None:
    runtime_module.initialise(throttled_config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(throttled_config, http="on")) as served:
        client = Browser(served.base_url)
        for _ in range(3):
            status, body = client.log_in(ADMIN, "wrong-password")
            assert status == 401 and "Wrong address or password" in body
        status, body = client.log_in(ADMIN, ADMIN_PASSWORD)
        assert status == 429 and "too many failed logins" in body

        attempts = [e for e in served.services.audit.entries(SYSTEM) if e.action == "login"]
        outcomes = [e.outcome for e in reversed(attempts)]
        assert outcomes == ["failed", "failed", "failed", "throttled"]
        assert all(e.service == "web" and e.peer_ip == "127.0.0.1" for e in attempts)
        assert all(e.target == ADMIN for e in attempts)


def test_plain_user_is_refused_the_admin_console(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, "ursula@example.test", "Ursula-pass-123")
    client = Browser(web_server.base_url)
    assert client.log_in("ursula@example.test", "Ursula-pass-123")[0] == 200
    for path in ["/admin/users", "/admin/roles", "/admin/audit", "/admin/domains"]:
        status, _, body = client.request(path)
        assert status == 403, path
        assert "administrative role" in body
    status, _, body = client.request("/account")
    assert status == 200 and "ursula@example.test" in body


def test_passwords_only_cross_tls_unless_loopback_is_trusted(
    tmp_path: Path, database_url: str
) -> None:
    config = make_config(tmp_path, database_url, loopback_is_secure=False)
    config = dataclasses.replace(
        config, web=dataclasses.replace(config.web, trusted_proxy="127.0.0.1")
    )
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, http="on")) as served:
        client = Browser(served.base_url)
        status, _, body = client.request("/login")
        assert status == 403 and "only accepted over HTTPS" in body
        assert served.services.auth.plaintext_allowed("127.0.0.1", tls=True)
        assert not served.services.auth.plaintext_allowed("127.0.0.1", tls=False)
        # Through the TLS-terminating proxy the same login goes through.
        https = {"X-Forwarded-Proto": "https"}
        _, _, page = client.request("/login", headers=https)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None
        form = {"csrf_token": token.group(1), "login": ADMIN, "password": ADMIN_PASSWORD}
        # Over HTTPS, Flask-WTF also wants a same-origin Referer, as browsers send.
        referer = served.base_url.replace("http://", "https://") + "/login"
        status, _, body = client.request("/login", form, headers={**https, "Referer": referer})
        assert status == 200 and "Log out" in body


def test_loopback_may_log_in_in_clear_by_default(web_server: Served) -> None:
    auth = web_server.services.auth
    assert auth.plaintext_allowed("127.0.0.1", tls=False)
    assert auth.plaintext_allowed("::1", tls=False)
    assert not auth.plaintext_allowed("192.0.2.10", tls=False)
    assert not auth.plaintext_allowed("not an address", tls=False)
    assert auth.plaintext_allowed("192.0.2.10", tls=True)


def test_the_first_web_login_makes_the_default_calendars(web_server: Served) -> None:
    calendars = web_server.services.calendars
    assert calendars.collection(f"{ADMIN}/calendar") is None
    assert Browser(web_server.base_url).log_in(ADMIN, ADMIN_PASSWORD)[0] == 200
    made = {c.path.split("/", 1)[1] for c in calendars.children(ADMIN)}
    assert made == {"calendar", "tasks", "contacts"}


def test_a_user_shares_a_calendar_from_the_web(web_server: Served) -> None:
    services = web_server.services
    for address in ("alice@example.test", "bob@example.test"):
        services.directory.add_user(SYSTEM, address, "Alice-pass-123")
    alice = Browser(web_server.base_url)
    assert alice.log_in("alice@example.test", "Alice-pass-123")[0] == 200
    status, _, page = alice.request("/calendar/sharing")
    assert status == 200 and "/dav/" in page and "nobody" in page
    token = alice.csrf("/calendar/sharing")
    form = {
        "csrf_token": token,
        "collection": "alice@example.test/calendar",
        "sharee": "bob@example.test",
        "access": "write",
    }
    status, _, page = alice.request("/account/calendars/shares", form)
    assert status == 200 and "Shared with bob@example.test." in page
    assert "bob@example.test (write)" in page
    bob = Browser(web_server.base_url)
    assert bob.log_in("bob@example.test", "Alice-pass-123")[0] == 200
    assert "Calendar (alice@example.test) — read and write" in bob.request("/calendar/sharing")[2]
    # Not someone else's calendar, even with a forged form.
    forged = dict(form, csrf_token=bob.csrf("/calendar/sharing"), sharee="bob@example.test")
    page = bob.request("/account/calendars/shares", forged)[2]
    assert "permission denied" in page
    path = "/account/calendars/shares/remove/alice@example.test/calendar/bob@example.test"
    status, _, page = alice.request(path, {"csrf_token": alice.csrf("/calendar/sharing")})
    assert status == 200 and "No longer shared with bob@example.test." in page
    assert services.sharing.visible_to("bob@example.test") == []


def test_static_files_are_versioned_and_cached(web_server: Served) -> None:
    """Pages name style.css and the scripts with their content's hash, which are then
    cached for a year: no revalidation on every page."""
    client = Browser(web_server.base_url)
    _, _, page = client.request("/login")
    [css] = re.findall(r'href="(/static/style\.css\?v=[0-9a-f]{12})"', page)
    status, headers, _ = client.request(css)
    assert status == 200 and "max-age=31536000" in headers["Cache-Control"]
    assert headers["X-Content-Type-Options"] == "nosniff"
