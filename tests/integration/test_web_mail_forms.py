"""Webmail's forms against malformed values over HTTP: numbers that are not ASCII
digits, a draft number that is no number, times past the calendar's end: each is
refused or ignored with a page, never a server error, and nothing is sent twice.
"""

from __future__ import annotations

import re

from groupware.services.core.access import SYSTEM
from tests.conftest import Served
from tests.integration.test_web import Browser

NINA, OTTO, PASSWORD = "nina@example.test", "otto@example.test", "Nina-pass-123456"


def logged_in(served: Served) -> Browser:
    for address in (NINA, OTTO):
        served.services.directory.add_user(SYSTEM, address, PASSWORD)
    client = Browser(served.base_url)
    status, _ = client.log_in(NINA, PASSWORD)
    assert status == 200
    return client


def compose_token(client: Browser) -> str:
    _, _, page = client.request("/mail/compose")
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_malformed_numbers_and_times_get_pages_not_errors(web_server: Served) -> None:
    client = logged_in(web_server)
    token = compose_token(client)
    status, _, _ = client.request(
        "/mail/act/INBOX", {"csrf_token": token, "uid": "²", "action": "delete"}
    )
    assert status == 200  # "choose one or more messages first"
    form = {"csrf_token": token, "to": OTTO, "subject": "Once", "body": "x", "sender": NINA}
    for send_at, offset in (("9999-12-31T23:59", "900"), ("0001-01-01T00:00", "-900")):
        status, _, page = client.request(
            "/mail/compose", {**form, "later": "1", "send_at": send_at, "tz_offset": offset}
        )
        assert status == 200 and "choose a date and time" in page
    status, _, page = client.request("/mail/compose", {**form, "draft_uid": "abc"})
    assert status == 200 and "Sent." in page
    status, _, page = client.request("/mail/compose", {**form, "draft_uid": "²"})
    assert status == 200 and "Sent." in page
    # Held for the undo time or sent: two messages, none sent twice by an error.
    services = web_server.services
    otto, nina = (
        services.auth.principal(services.directory.get_user(SYSTEM, address).id)
        for address in (OTTO, NINA)
    )
    assert otto is not None and nina is not None
    arrived = services.mail_view.window(otto, "INBOX").messages
    assert len(arrived) + len(services.sending.waiting(nina)) == 2
