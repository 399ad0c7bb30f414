"""mime/authors.py: From: and Sender: read strictly (table-driven), every address either
reader sees, and the malformed cases refused; the topmost Resent- block's Resent-From: and
Resent-Sender: read the same way; a property test that only AuthorError escapes, whatever
the header holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mime.authors import (
    MAX_AUTHORS,
    AuthorError,
    Authors,
    Resenders,
    read_authors,
    read_resenders,
)


def message(*fields: str) -> bytes:
    return ("".join(f + "\r\n" for f in fields) + "\r\nbody\r\n").encode()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["From: Alice <alice@ours.test>"], Authors(("alice@ours.test",))),
        (["from: alice@ours.test (Alice)"], Authors(("alice@ours.test",))),
        (['From: "Doe, Al" <al@ours.test>'], Authors(("al@ours.test",))),
        (["From: =?utf-8?q?victim=40bank.test?= <alice@ours.test>"], Authors(("alice@ours.test",))),
        (["From: Alice\r\n <alice@ours.test>"], Authors(("alice@ours.test",))),  # folded
        # RFC 6854: a group's members are the authors.
        (["From: Team: a@ours.test, b@ours.test;"], Authors(("a@ours.test", "b@ours.test"))),
        (
            ["From: a@ours.test", "Sender: Secretary <s@ours.test>"],
            Authors(("a@ours.test",), ("s@ours.test",)),
        ),
        # Where the readings differ, every address either one sees is returned.
        (
            ["From: alice@ours.test <victim@bank.test>"],
            Authors(("victim@bank.test", "alice@ours.test")),
        ),
        (
            ["From: <victim@bank.test>alice@ours.test"],
            Authors(("victim@bank.test", "alice@ours.test")),
        ),
        (["From: a@ours.test, victim@bank.test"], Authors(("a@ours.test", "victim@bank.test"))),
        # A comment is no address, whatever it holds.
        (["From: victim@bank.test (alice@ours.test)"], Authors(("victim@bank.test",))),
    ],
)
def test_authors(fields: list[str], expected: Authors) -> None:
    assert read_authors(message("Subject: x", *fields, "To: b@x.test")) == expected


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (["Subject: no author"], "no From:"),
        (["From: a@ours.test", "From: victim@bank.test"], "more than one From:"),
        (["From: a@ours.test", "FROM: a@ours.test"], "more than one From:"),
        (
            ["From: a@ours.test", "Sender: a@ours.test", "Sender: b@ours.test"],
            "more than one Sender:",
        ),
        (["From: undisclosed:;"], "no address in From:"),
        (["From: "], "no address in From:"),
        (["From: garbage"], "unreadable address in From:"),
        (["From: Alice Smith"], "unreadable address in From:"),
        (["From: a@ours.test", "Sender: nobody"], "unreadable address in Sender:"),
        (["From: " + ", ".join(f"u{i}@ours.test" for i in range(MAX_AUTHORS + 1))], "more than"),
        # Python's parser ends the header at a line that is no field: From: goes unseen.
        (["Fröm: x", "From: a@ours.test"], "line 1 is no header field"),
        (["X-Note without a colon", "From: a@ours.test"], "line 1 is no header field"),
        # RFC 5322 §4.5 obsolete, and "From " starts the body for Python's parser.
        (["Subject: x", "From :a@ours.test"], "line 2 is no header field"),
    ],
)
def test_refused(fields: list[str], why: str) -> None:
    with pytest.raises(AuthorError, match=why):
        read_authors(message(*fields))


def test_from_in_the_body_is_not_read() -> None:
    with pytest.raises(AuthorError, match="no From:"):
        read_authors(b"Subject: x\r\n\r\nFrom: alice@ours.test\r\n")


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300))
def test_only_author_error_escapes(header: bytes) -> None:
    try:
        authors = read_authors(b"From: " + header + b"\r\n\r\nbody")
    except AuthorError:
        return
    assert authors.from_ and all(authors.from_)


DATE = "Resent-Date: Mon, 6 Jan 2025 10:00:00 +0000"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["From: a@ours.test"], Resenders()),  # not resent
        (
            ["Resent-From: Alice <alice@ours.test>", DATE, "From: victim@bank.test"],
            Resenders(("alice@ours.test",)),
        ),
        (
            ["Received: by x", DATE, "resent-from: a@ours.test", "Resent-Sender: s@ours.test"],
            Resenders(("a@ours.test",), ("s@ours.test",)),
        ),
        # RFC 5322 §3.6.6: each resend adds a block on top; older blocks (a field name
        # seen again, or another field between) are someone else's and not read.
        (
            ["Resent-From: a@ours.test", DATE, "Resent-From: victim@bank.test", DATE],
            Resenders(("a@ours.test",)),
        ),
        (
            ["Resent-From: a@ours.test", "Received: by x", "Resent-From: victim@bank.test"],
            Resenders(("a@ours.test",)),
        ),
        (
            ["Resent-From: a@ours.test <victim@bank.test>"],
            Resenders(("victim@bank.test", "a@ours.test")),
        ),
    ],
)
def test_resenders(fields: list[str], expected: Resenders) -> None:
    assert read_resenders(message("Subject: x", *fields, "From: b@x.test")) == expected


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        # A topmost block without its Resent-From: would leave an older one on top.
        ([DATE, "Resent-To: x@ours.test"], "no Resent-From:"),
        ([DATE, DATE, "Resent-From: victim@bank.test"], "no Resent-From:"),
        (["Resent-From: garbage"], "unreadable address in Resent-From:"),
        (["Resent-From: a@ours.test", "Resent-Sender: nobody"], "unreadable address in Resent"),
        (["Resent-From: undisclosed:;"], "no address in Resent-From:"),
    ],
)
def test_resenders_refused(fields: list[str], why: str) -> None:
    with pytest.raises(AuthorError, match=why):
        read_resenders(message("From: a@ours.test", *fields))


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300))
def test_only_author_error_escapes_resenders(header: bytes) -> None:
    try:
        read_resenders(b"Resent-From: " + header + b"\r\n\r\nbody")
    except AuthorError:
        return
