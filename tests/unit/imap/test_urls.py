"""RFC 5092 message URLs as CATENATE takes them: what parses, and what is BADURL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.protocols.imap.commands import Section
from groupware.protocols.imap.urls import BadUrl, MessageUrl, parse_message_url

PARSED = [
    ("/INBOX/;UID=5", MessageUrl(None, "INBOX", None, 5, None, None)),
    ("/INBOX;UIDVALIDITY=77/;uid=5", MessageUrl(None, "INBOX", 77, 5, None, None)),
    (
        "/Work/Reports/;UID=12/;SECTION=1.2.MIME",
        MessageUrl(None, "Work/Reports", None, 12, Section((1, 2), "MIME"), None),
    ),
    (
        "/a%20b/;UID=1/;section=header",
        MessageUrl(None, "a b", None, 1, Section((), "HEADER"), None),
    ),
    ("/caf%C3%A9/;UID=1/;PARTIAL=10", MessageUrl(None, "café", None, 1, None, (10, None))),
    ("/INBOX/;UID=1/;PARTIAL=0.100", MessageUrl(None, "INBOX", None, 1, None, (0, 100))),
    (
        "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(FROM%20TO)",
        MessageUrl(None, "INBOX", None, 1, Section((), "HEADER.FIELDS", ("FROM", "TO")), None),
    ),
    (
        "imap://alice%40example.test;AUTH=*@mail.example.test/INBOX/;UID=3",
        MessageUrl("alice@example.test", "INBOX", None, 3, None, None),
    ),
    ("IMAP://mail.example.test:993/INBOX/;UID=3", MessageUrl(None, "INBOX", None, 3, None, None)),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parsed(text: str, expected: MessageUrl) -> None:
    assert parse_message_url(text) == expected


REFUSED = [
    "",
    "INBOX/;UID=1",  # relative to what?
    "/INBOX",  # a mailbox, not a message
    "/INBOX/;UID=0",
    "/INBOX/;UID=-1",
    "/INBOX/;UID=99999999999",
    "/INBOX;UIDVALIDITY=0/;UID=1",
    "/INBOX/;UID=1/;SECTION=1.",
    "/INBOX/;UID=1/;SECTION=FOO",
    "/INBOX/;UID=1/;SECTION=0",
    "/INBOX/;UID=1/;PARTIAL=1.0",
    "/INBOX/;UID=1/;URLAUTH=anonymous:internal:abc",
    "/INBOX/;UID=1?x",
    "/%FF/;UID=1",
    "http://example.test/INBOX/;UID=1",
    "imap://host",
    "/INBOX/;UID=1" + "/" * 9000,
]


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text: str) -> None:
    with pytest.raises(BadUrl):
        parse_message_url(text)


PIECES = ["/", ";UID=", ";uidvalidity=", ";SECTION=", ";PARTIAL=", "1", "0", ".", "%", "%C3"]
PIECES += ["%A9", "INBOX", "imap://", "@", "HEADER", "MIME", "(", " ", "99999999999", "\x00"]


@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=12))
@settings(max_examples=400, deadline=None)
def test_any_text_parses_or_is_badurl(pieces: list[str]) -> None:
    try:
        url = parse_message_url("".join(pieces))
    except BadUrl:
        return
    assert url.uid >= 1 and url.mailbox
