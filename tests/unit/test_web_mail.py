"""The webmail's small display rules: folder order, a sender's name, the list's dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from groupware.services.mail.mailboxes import MailboxInfo
from groupware.web.mail import folder_label, ordered, sender_name, short_date


def box(name: str, special_use: str | None = None) -> MailboxInfo:
    return MailboxInfo(1, name, 1, 1, 1, special_use, True, 0, 0, 0)


def test_inbox_and_special_folders_come_first() -> None:
    folders = [
        box("Zeta"),
        box("Trash", "\\Trash"),
        box("alpha"),
        box("Sent", "\\Sent"),
        box("INBOX"),
        box("Drafts", "\\Drafts"),
        box("Junk", "\\Junk"),
        box("Archive", "\\Archive"),
    ]
    names = [f.name for f in ordered(folders)]
    assert names == ["INBOX", "Drafts", "Sent", "Archive", "Junk", "Trash", "alpha", "Zeta"]
    assert folder_label("INBOX") == "Inbox" and folder_label("Work/2026") == "Work/2026"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Carol Example <carol@x.example>", "Carol Example"),
        ("carol@x.example", "carol@x.example"),
        ('"Doe, Jane" <jane@x.example>', "Doe, Jane"),
        ("Ann <ann@x.example>, Bob <bob@x.example>", "Ann"),
        ("", ""),
    ],
)
def test_a_sender_is_shown_by_name(stored: str, shown: str) -> None:
    assert sender_name(stored) == shown


def test_dates_shorten_with_age() -> None:
    now = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    assert short_date(datetime(2026, 12, 7, 9, 5, tzinfo=UTC), now) == "09:05"
    assert short_date(datetime(2026, 3, 1, 9, 5, tzinfo=UTC), now) == "01 Mar"
    assert short_date(datetime(2025, 3, 1, 9, 5), now) == "2025-03-01"  # naive: UTC
