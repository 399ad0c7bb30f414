"""Web sessions over a real socket: kept on the server, revocable, listed, expiring, and
carried by a cookie that holds nothing but an opaque token.

Regressions: a cookie copied before logout worked for 12 hours,
the TOTP secret and new app passwords rode (readable) in the signed cookie, and
nothing could end another browser's session.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.request
import zlib
from datetime import timedelta
from http.client import HTTPResponse

import pyotp
from sqlalchemy import func, select

from groupware.model.base import utcnow
from groupware.model.websessions import WebSession
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served
from tests.integration.test_web import Browser

USER = "wanda@example.test"
PASSWORD = "Wanda-pass-12345"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
SIGN_OUT = re.compile(r'action="(/account/sessions/[0-9a-f]{64}/sign-out)"')


class RecordingBrowser(Browser):
    """A Browser that keeps every Set-Cookie header it is sent, redirects included."""

    def __init__(self, base: str, user_agent: str = "") -> None:
        super().__init__(base)
        self.set_cookies: list[str] = []
        recorder = _Recorder(self.set_cookies)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), recorder
        )
        if user_agent:
            self.opener.addheaders = [("User-Agent", user_agent)]


class _Recorder(urllib.request.BaseHandler):
    handler_order = 1000  # after the cookie processor

    def __init__(self, into: list[str]) -> None:
        self.into = into

    def http_response(self, request: urllib.request.Request, response: HTTPResponse) -> object:
        self.into.extend(response.headers.get_all("Set-Cookie") or [])
        return response


def browser(served: Served, login: str = USER, password: str = PASSWORD, **kw: str) -> Browser:
    client = RecordingBrowser(served.base_url, **kw)
    status, body = client.log_in(login, password)
    assert status == 200 and 'id="login-form"' not in body, body
    return client


def copy_of(client: Browser) -> Browser:
    """Another client holding the same cookies (a stolen cookie)."""
    copy = Browser(client.base)
    for cookie in client.jar:
        copy.jar.set_cookie(cookie)
    return copy


def logged_in(client: Browser) -> bool:
    status, _, body = client.request("/account")
    return status == 200 and 'id="login-form"' not in body


def post(client: Browser, action: str, **form: str) -> tuple[int, str]:
    status, _, body = client.request(action, {"csrf_token": client.csrf("/account"), **form})
    return status, body


def sessions_of(served: Served, address: str) -> int:
    with served.runtime.database.read() as session:
        user = served.services.directory.get_user(SYSTEM, address)
        count = session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id)
        )
        return int(count or 0)


def age_sessions(served: Served, address: str, **columns: timedelta) -> None:
    """Move the user's session timestamps into the past by the given amounts."""
    user = served.services.directory.get_user(SYSTEM, address)
    with served.runtime.database.write() as session:
        for row in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
            for name, delta in columns.items():
                setattr(row, name, getattr(row, name) - delta)


def readable(cookie_value: str) -> str:
    """What anyone holding the cookie can read from it: a Flask/itsdangerous payload is
    base64 JSON (zlib-compressed when it starts with "."), readable without the key."""
    payload = cookie_value.lstrip(".").split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return ""
    if cookie_value.startswith("."):
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            return ""
    return raw.decode("utf-8", "replace")


def test_a_cookie_copied_before_logout_is_dead_after_it(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    owner = browser(web_server)
    thief = copy_of(owner)
    assert logged_in(thief)
    status, body = post(owner, "/logout")
    assert status == 200 and 'id="login-form"' in body
    assert not logged_in(thief)
    assert not logged_in(owner)
    assert sessions_of(web_server, USER) == 0


def test_sign_out_everywhere_ends_every_browsers_session(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    laptop, phone = browser(web_server), browser(web_server)
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    status, body = post(laptop, "/account/sessions/sign-out-everywhere")
    assert status == 200 and 'id="login-form"' in body
    assert not logged_in(phone) and not logged_in(laptop)
    assert logged_in(admin)  # someone else's sessions are not touched
    assert sessions_of(web_server, USER) == 0


def test_the_account_page_lists_sessions_and_signs_one_out(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    laptop, phone = browser(web_server), browser(web_server, user_agent=firefox)
    _, _, page = laptop.request("/account")
    section = page.split('id="sessions"', 1)[1]
    assert "This browser" in section and "Firefox on Linux" in section
    assert section.count(">127.0.0.1</td>") == 2
    [sign_out] = SIGN_OUT.findall(section)  # a button for the other one only

    # Another user cannot end it, even with the id and a good token.
    web_server.services.directory.add_user(SYSTEM, "mallory@example.test", PASSWORD)
    mallory = browser(web_server, "mallory@example.test")
    status, body = post(mallory, sign_out)
    assert status == 200 and "no such session" in body
    assert logged_in(phone)

    status, body = post(laptop, sign_out)
    assert status == 200 and "Signed out" in body
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert SIGN_OUT.findall(laptop.request("/account")[2]) == []


def test_a_password_change_ends_every_session(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    laptop, phone = browser(web_server), browser(web_server)
    old_laptop_cookie = copy_of(laptop)
    status, body = post(laptop, "/account/password", current=PASSWORD, new="Wanda-new-pass-987")
    assert status == 200 and "Password changed." in body
    assert logged_in(laptop)  # the one that changed it goes on, with a new cookie
    assert not logged_in(old_laptop_cookie)
    assert not logged_in(phone)
    assert sessions_of(web_server, USER) == 1

    # An administrator's reset in the console ends them too…
    admin = browser(web_server, ADMIN, ADMIN_PASSWORD)
    page = f"/admin/users/{USER}"
    status, _, body = admin.request(
        page + "/password", {"csrf_token": admin.csrf(page), "password": "Wanda-reset-pass-1"}
    )
    assert status == 200 and "reset" in body
    assert not logged_in(laptop)
    assert sessions_of(web_server, USER) == 0

    # … as does `groupware user passwd` (the CLI calls this with the SYSTEM principal).
    again = browser(web_server, password="Wanda-reset-pass-1")
    services.directory.set_password(SYSTEM, USER, "Wanda-cli-pass-123")
    assert not logged_in(again)
    assert logged_in(admin)


def test_disabling_an_account_ends_its_sessions_for_good(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    services.directory.update_user(SYSTEM, USER, active=False)
    assert sessions_of(web_server, USER) == 0
    services.directory.update_user(SYSTEM, USER, active=True)
    assert not logged_in(client)  # re-enabling does not bring the old cookie back

    client = browser(web_server)
    services.directory.remove_user(SYSTEM, USER)
    assert not logged_in(client)
    with web_server.runtime.database.read() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_sessions_expire_when_idle_and_at_their_age_limit(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    hours = web_server.runtime.config.web.session_hours
    idle = browser(web_server)
    age_sessions(
        web_server,
        USER,
        last_seen_at=timedelta(hours=hours, minutes=1),
        expires_at=timedelta(hours=hours, minutes=1),
    )
    assert not logged_in(idle)

    busy = browser(web_server)
    days = web_server.runtime.config.web.session_max_days
    # Seen a minute ago, but logged in longer ago than any session may live.
    age_sessions(web_server, USER, created_at=timedelta(days=days, minutes=1))
    assert not logged_in(busy)

    # Expired rows go at the next login.
    fresh = browser(web_server)
    assert logged_in(fresh)
    assert sessions_of(web_server, USER) == 1


def test_an_active_session_slides_its_idle_expiry(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    age_sessions(web_server, USER, last_seen_at=timedelta(minutes=5))
    before = utcnow()
    assert logged_in(client)
    with web_server.runtime.database.read() as session:
        last_seen, expires = session.execute(
            select(WebSession.last_seen_at, WebSession.expires_at)
        ).one()
    hours = web_server.runtime.config.web.session_hours
    assert last_seen >= before - timedelta(seconds=1)
    assert expires >= before + timedelta(hours=hours) - timedelta(seconds=1)


def test_no_secret_rides_in_the_cookie(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    assert isinstance(client, RecordingBrowser)
    _, page = post(client, "/account/totp/begin")
    totp_secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert totp_secret, "no TOTP enrolment on the page"
    _, page = post(client, "/account/app-passwords", name="phone")
    app_password = re.search(r'id="new-app-password">([^<]+)<', page)
    assert app_password, "no new app password on the page"

    assert client.set_cookies
    secrets = [totp_secret.group(1), app_password.group(1), "totp", "app_password"]
    for header in client.set_cookies:
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        assert "groupware_session" in name
        assert value == "" or TOKEN.fullmatch(value), header  # an opaque token, or deleted
        for secret in secrets:
            assert secret not in header and secret not in readable(value)
    for cookie in client.jar:
        assert TOKEN.fullmatch(cookie.value or ""), cookie


def test_the_totp_step_keeps_its_state_on_the_server(web_server: Served) -> None:
    services = web_server.services
    services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    _, page = post(client, "/account/totp/begin")
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert found
    totp = pyotp.TOTP(found.group(1))
    _, page = post(client, "/account/totp/confirm", code=totp.now())
    assert "Two-factor login is on" in page
    post(client, "/logout")

    waiting = RecordingBrowser(web_server.base_url)
    status, page = waiting.log_in(USER, PASSWORD)
    assert status == 200 and 'id="totp-form"' in page
    for cookie in waiting.jar:
        assert TOKEN.fullmatch(cookie.value or ""), cookie
        assert "pending" not in readable(cookie.value or "")
    assert not logged_in(waiting)  # the password step alone is no login
    # Nor is such a half-login listed as a session, nor does it count as one.
    assert sessions_of(web_server, USER) == 1


def test_forms_of_the_session_list_need_their_csrf_token(web_server: Served) -> None:
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = browser(web_server)
    status, _, body = client.request("/account/sessions/sign-out-everywhere", {})
    assert status == 400 and "Form expired" in body
    assert logged_in(client)
    status, _, body = client.request("/logout", {})
    assert status == 400
    assert logged_in(client)


def test_a_session_renewed_by_login_is_not_the_anonymous_one(web_server: Served) -> None:
    """No fixation: the token a visitor had before logging in is never a logged-in one."""
    web_server.services.directory.add_user(SYSTEM, USER, PASSWORD)
    client = RecordingBrowser(web_server.base_url)
    client.request("/login")
    before = {cookie.value for cookie in client.jar}
    assert before
    planted = copy_of(client)
    status, _ = client.log_in(USER, PASSWORD)
    assert status == 200 and logged_in(client)
    assert not {cookie.value for cookie in client.jar} & before
    assert not logged_in(planted)


def test_the_session_cookie_in_clear_is_host_only(web_server: Served) -> None:
    """Over plain HTTP (loopback) no __Host- prefix, which browsers accept only with
    Secure; test_web checks the Secure, __Host- one behind a TLS proxy."""
    client = RecordingBrowser(web_server.base_url)
    client.request("/login")
    [header] = client.set_cookies
    assert header.startswith("groupware_session=")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Domain" not in header and "Secure" not in header
