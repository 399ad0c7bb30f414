"""Where the browser goes after logging in: `next` is followed only to a route of ours.

Regression: `POST /login?next=/%09/evil.example` answered
`Location: //evil.example` and `next=/%0d/x` was a 500.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from collections.abc import Iterator

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.runtime import Runtime
from groupware.services.core.access import SYSTEM
from groupware.web import create_app
from tests.conftest import ADMIN, ADMIN_PASSWORD, Served

USER = "nora@example.test"
USER_PASSWORD = "Nora-pass-12345"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def runtime_for_web(config: Config) -> Iterator[Runtime]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    built = runtime_module.build(config)
    try:
        built.services.directory.add_user(SYSTEM, USER, USER_PASSWORD)
        yield built
    finally:
        built.close()


@pytest.fixture
def portal(runtime_for_web: Runtime) -> Flask:
    """The portal's Flask app on an initialised directory (for Flask's test client)."""
    config = runtime_for_web.config
    return create_app(config, runtime_for_web.services, runtime_module.web_secret(config))


def post_login(
    client: FlaskClient, raw_query: str, login: str = USER, password: str = USER_PASSWORD
) -> tuple[int, str]:
    """Log in with `raw_query` appended to /login as is; (status, Location)."""
    page = client.get("/login").get_data(as_text=True)
    token = CSRF.search(page)
    assert token, "no CSRF token on /login"
    form = {"csrf_token": token.group(1), "login": login, "password": password}
    response = client.post("/login?" + raw_query, data=form)
    return response.status_code, response.headers.get("Location", "")


HOSTILE = [
    "next=/%09/evil.example",  # a reported attack: Location //evil.example
    "next=/%0d/x",  # another: a 500
    "next=/%0d%0aSet-Cookie:%20x=1",
    "next=//evil.example",
    "next=///evil.example",
    "next=/%5Cevil.example",  # /\evil.example
    "next=/%5C/evil.example",
    "next=%5C%5Cevil.example",
    "next=https://evil.example/account",
    "next=https:/account",
    "next=//evil.example/account",
    "next=/%2F%2Fevil.example",  # decoded by the query: ///evil.example
    "next=/%252F%252Fevil.example",  # //evil.example once the path is decoded
    "next=/%255Cevil.example",
    "next=/%2509/evil.example",
    "next=javascript:alert(1)",
    "next=JaVaScRiPt:alert(1)",
    "next=data:text/html,hi",
    "next=/%20/evil.example",
    "next=/%00",
    "next=/%E2%80%A8",  # U+2028, a line separator
    "next=account",  # relative, not a path of ours
    "next=/nowhere",  # no such route
    "next=/logout",  # a route, but not one a GET may open
    "next=/account?" + "a" * 3000,  # a long one
    "next=" + "/" * 3000,
]


@pytest.mark.parametrize("raw_query", HOSTILE)
def test_a_hostile_next_goes_to_the_index(portal: Flask, raw_query: str) -> None:
    status, location = post_login(portal.test_client(), raw_query)
    assert (status, location) == (302, "/")


@pytest.mark.parametrize(
    ("raw_query", "location"),
    [
        ("next=/account/calendars", "/account/calendars"),
        ("next=%2Faccount", "/account"),
        ("next=/account?tab=2", "/account?tab=2"),
        ("next=/account%23totp", "/account#totp"),
        ("next=", "/"),
        ("", "/"),
    ],
)
def test_a_next_of_our_own_is_followed(portal: Flask, raw_query: str, location: str) -> None:
    assert post_login(portal.test_client(), raw_query) == (302, location)


def test_an_admin_page_with_its_query_is_followed(portal: Flask) -> None:
    next_url = "/admin/users/" + urllib.parse.quote(USER) + "?x=%C3%A9"
    raw = "next=" + urllib.parse.quote(next_url, safe="")
    status, location = post_login(portal.test_client(), raw, ADMIN, ADMIN_PASSWORD)
    assert status == 302
    assert location == next_url


def test_the_login_gate_sends_next_that_survives_the_login(portal: Flask) -> None:
    client = portal.test_client()
    gate = client.get("/account/calendars")
    assert gate.status_code == 302
    location = urllib.parse.urlsplit(gate.headers["Location"])
    assert location.path == "/login"
    status, after = post_login(client, location.query)
    assert (status, after) == (302, "/account/calendars")


def test_next_survives_the_totp_step_and_is_checked_there_too(
    portal: Flask, runtime_for_web: Runtime
) -> None:
    services = runtime_for_web.services
    cases = [("next=/account/calendars", "/account/calendars"), (HOSTILE[0], "/")]
    for number, (raw, expected) in enumerate(cases):
        login = f"totp{number}@example.test"
        user = services.directory.add_user(SYSTEM, login, USER_PASSWORD)
        me = services.auth.principal(user.id)
        assert me is not None
        secret = pyotp.random_base32()
        enrolled = time.time()
        services.credentials.confirm_totp(me, secret, pyotp.TOTP(secret).at(enrolled))
        client = portal.test_client()
        assert post_login(client, raw, login) == (302, "/login/totp")
        token = CSRF.search(client.get("/login/totp").get_data(as_text=True))
        assert token
        # The enrolment spent its step's code; the step after it is good (drift of one).
        code = pyotp.TOTP(secret).at(enrolled + 30)
        response = client.post("/login/totp", data={"csrf_token": token.group(1), "code": code})
        assert (response.status_code, response.headers.get("Location")) == (302, expected)


def test_the_reported_attacks_over_http(web_server: Served) -> None:
    """The reported requests on a real socket: each is sent home, none is a 500."""
    for raw in ("next=/%09/evil.example", "next=/%0d/x"):
        status, location = raw_login(web_server.ports["http"], raw)
        assert status == 302, raw
        assert urllib.parse.urlsplit(location).path == "/", (raw, location)
        assert urllib.parse.urlsplit(location).netloc in {
            "",
            f"127.0.0.1:{web_server.ports['http']}",
        }


def raw_login(port: int, raw_query: str) -> tuple[int, str]:
    """GET /login and POST it back with `raw_query` (http.client sends it byte for byte)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/login")
        response = connection.getresponse()
        page = response.read().decode()
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        token = CSRF.search(page)
        assert token
        body = urllib.parse.urlencode(
            {"csrf_token": token.group(1), "login": ADMIN, "password": ADMIN_PASSWORD}
        )
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/login?" + raw_query, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.headers.get("Location", "")
    finally:
        connection.close()
