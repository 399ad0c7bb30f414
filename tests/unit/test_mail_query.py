"""The webmail's search box (services/mail/query.py): words and operators to keys."""

from __future__ import annotations

from datetime import date

import pytest

from groupware.errors import InvalidInput
from groupware.services.mail import searchkeys as k
from groupware.services.mail.query import parse_query


def test_words_and_operators_are_all_required() -> None:
    query = parse_query('from:ann subject:"budget 2027" body:invoice is:unread zebra')
    assert query.folder is None
    assert query.key == k.And(
        (
            k.Header("from", "ann"),
            k.Header("subject", "budget 2027"),
            k.Text("invoice", "body"),
            k.Flag("\\Seen", present=False),
            k.Words("zebra"),
        )
    )


def test_one_term_dates_states_and_a_folder() -> None:
    assert parse_query("zebra").key == k.Words("zebra")
    assert parse_query("::").key == k.Text("::")  # no word: a substring
    assert parse_query("is:flagged").key == k.Flag("\\Flagged")
    assert parse_query("before:2026-12-01").key == k.Date("sent", "before", date(2026, 12, 1))
    assert parse_query("after:2026-11-30").key == k.Date("sent", "since", date(2026, 12, 1))
    only_folder = parse_query("in:Archive")
    assert only_folder.folder == "Archive" and only_folder.key == k.All()
    assert parse_query("http://x.example/a:b").key == k.Words("http://x.example/a:b")
    assert parse_query("size:big").key == k.Words("size:big")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        'subject:"open',
        "is:sleepy",
        "has:cats",
        "before:yesterday",
        "after:9999-12-31",
        "a\x00b",
        "x " * 30,
        "a" * 501,
    ],
)
def test_what_cannot_be_read_is_said(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_query(text)


def test_has_attachment() -> None:
    assert parse_query("has:attachment").key == k.HasAttachments()
    assert parse_query("report has:Attachments").key == k.And(
        (k.Words("report"), k.HasAttachments())
    )
