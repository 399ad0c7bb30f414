"""services.search SORT (RFC 5256 §3, RFC 5957) and THREAD=REFERENCES (RFC 5256 §4) on
SQLite and PostgreSQL: every criterion, REVERSE, ties by UID, base subjects, threads
with a reply chain, an orphan, a missing parent and a subject-only reply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from groupware.errors import InvalidInput
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.mail import searchkeys as k
from tests.integration.test_search import append, mail, user


@pytest.fixture
def bob(services: Services) -> Principal:
    services.directory.add_domain(SYSTEM, "example.test")
    return user(services, "bob@example.test")


def sized(data: bytes, size: int) -> bytes:
    """`data` with its body padded to `size` octets in all."""
    assert len(data) < size
    return data[:-2] + b"x" * (size - len(data)) + b"\r\n"


def day(n: int) -> datetime:
    return datetime(2026, 11, n, 12, tzinfo=UTC)


@pytest.fixture
def sortable(services: Services, bob: Principal, tmp_path: Path) -> None:
    nov1, nov3 = "01 Nov 2026 10:00 +0000", "03 Nov 2026 10:00 +0000"
    rows = [  # subject, from, to, cc, Date, internal date (day), size
        ("Re: Beta", "Zed <zed@x.test>", "amy@x.test", None, nov3, 10, 900),
        ("alpha", "amy@x.test", "Bob Jones <bob@x.test>", "carl@x.test", nov1, 12, 700),
        ("[list] Fwd: beta (fwd)", "Mia <bob@x.test>", "zoe@x.test", "al@x.test", None, 2, 800),
        ("ALPHA", "Amy Adams <amy@x.test>", "amy@x.test", None, nov1, 12, 700),
    ]
    for subject, sender, to, cc, sent, internal, size in rows:
        headers = (f"Cc: {cc}",) if cc else ()
        data = mail(subject, sender, to, body="b", date=sent, headers=headers)
        append(services, bob, tmp_path, sized(data, size), when=day(internal))


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([("SUBJECT", False)], [2, 4, 1, 3]),  # alpha, alpha, beta, beta
        ([("SUBJECT", True)], [1, 3, 2, 4]),  # REVERSE turns the key, not the UID ties
        ([("ARRIVAL", False)], [3, 1, 2, 4]),
        ([("ARRIVAL", True)], [2, 4, 1, 3]),
        ([("DATE", False)], [2, 4, 3, 1]),  # #3 has no Date: its internal date counts
        ([("DATE", True)], [1, 3, 2, 4]),
        ([("FROM", False)], [2, 4, 3, 1]),  # amy, amy, bob, zed (the mailbox part)
        ([("DISPLAYFROM", False)], [4, 2, 3, 1]),  # "amy adams" < "amy@x.test" < mia
        ([("TO", False)], [1, 4, 2, 3]),
        ([("DISPLAYTO", False)], [1, 4, 2, 3]),  # amy@x.test twice, "bob jones", zoe
        ([("CC", False)], [1, 4, 3, 2]),  # none sorts first
        ([("SIZE", False)], [2, 4, 3, 1]),
        ([("SIZE", True)], [1, 3, 2, 4]),
        ([("CC", True), ("SIZE", False)], [2, 3, 4, 1]),
        ([("subject", False), ("arrival", True)], [2, 4, 1, 3]),
    ],
)
def test_sort(
    services: Services,
    bob: Principal,
    sortable: None,
    criteria: list[tuple[str, bool]],
    expected: list[int],
) -> None:
    assert services.search.sort(bob, "INBOX", criteria, k.All()) == expected


def test_sort_of_matches_only_and_bad_criteria(
    services: Services, bob: Principal, sortable: None
) -> None:
    search = services.search
    assert search.sort(bob, "INBOX", [("SIZE", False)], k.Not(k.Uids(((1, 1),)))) == [2, 4, 3]
    assert search.sort(bob, "INBOX", [("SIZE", False)], k.Text("nowhere")) == []
    with pytest.raises(InvalidInput):
        search.sort(bob, "INBOX", [("COLOUR", False)], k.All())
    with pytest.raises(InvalidInput):
        search.sort(bob, "INBOX", [], k.All())


@pytest.fixture
def threaded(services: Services, bob: Principal, tmp_path: Path) -> None:
    rows = [  # Message-ID, References, In-Reply-To, subject, day
        ("a", "", "", "Plan", 1),
        ("b", "<a@x>", "<a@x>", "Re: Plan", 2),
        ("c", "<a@x> <b@x>", "", "Re: Plan", 3),
        ("d", "", "", "Orphan", 1),
        ("e", "", "<a@x>", "Re: Plan", 4),  # In-Reply-To only
        ("f", "<missing@x>", "", "Lost", 5),
        ("g", "<missing@x>", "", "Re: Lost", 6),
        ("h", "", "", "Re: Orphan", 7),  # a reply by its subject alone
    ]
    for message_id, references, reply_to, subject, n in rows:
        headers = [f"Message-ID: <{message_id}@x>"]
        headers += [f"References: {references}"] if references else []
        headers += [f"In-Reply-To: {reply_to}"] if reply_to else []
        sent = f"0{n} Nov 2026 {9 + n}:00 +0000"
        append(services, bob, tmp_path, mail(subject, date=sent, headers=tuple(headers)))


def test_thread_references(services: Services, bob: Principal, threaded: None) -> None:
    assert services.search.thread_references(bob, "INBOX", k.All()) == [
        (1, ((2, ((3, ()),)), (5, ()))),
        (4, ((8, ()),)),
        (None, ((6, ()), (7, ()))),  # their parent is not here: a dummy groups them
    ]


def test_thread_of_matches_only(services: Services, bob: Principal, threaded: None) -> None:
    without_root = k.Not(k.Uids(((1, 1), (4, 4))))
    assert services.search.thread_references(bob, "INBOX", without_root) == [
        (None, ((2, ((3, ()),)), (5, ()))),
        (None, ((6, ()), (7, ()))),
        (8, ()),
    ]
    assert services.search.thread_references(bob, "INBOX", k.Uids(((3, 3),))) == [(3, ())]
    assert services.search.thread_references(bob, "INBOX", k.Text("nowhere")) == []


def raw(tmp_path: Path, services: Services, bob: Principal, *headers: str) -> None:
    data = ("\r\n".join(headers) + "\r\n\r\nbody\r\n").encode()
    append(services, bob, tmp_path, data)


def test_sort_by_address_counts_a_group_as_its_name(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """Regression (imaptest sort-addresses): RFC 5256 §3 takes the addr-mailbox of the
    first address, and a group's first ENVELOPE address is its name (RFC 3501 §7.4.2)."""
    raw(tmp_path, services, bob, "Cc: user2@domain2.org (foo bar)")
    raw(tmp_path, services, bob, "Cc: user2: blah@domain1.org;")
    raw(tmp_path, services, bob, "Cc: user1@domain1.org")
    raw(tmp_path, services, bob, "Subject: no Cc")
    search = services.search
    assert search.sort(bob, "INBOX", [("CC", False)], k.All()) == [4, 3, 1, 2]
    assert search.sort(bob, "INBOX", [("CC", True)], k.All()) == [1, 2, 3, 4]


def test_sort_display_decodes_names_and_names_groups(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """Regression (imaptest sort-display-to): RFC 5957 §3 sorts by the decoded display
    name, else the addr-spec; a group by its name, an empty group too."""
    for to in (
        "foo bar <a@b.c>",
        "b@c.d",
        "d",
        "=?iso-8859-1?q?foo_aar?= <e@f.g>",
        "=?iso-8859-1?q?foo_car?= <f@g.h>",
        "a: xx@xx.org, yy@yy.org;",
        "z: aa@aa.org, bb@bb.org;",
        "empty:;",
    ):
        raw(tmp_path, services, bob, f"To: {to}")
    expected = [6, 2, 3, 8, 4, 1, 5, 7]
    assert services.search.sort(bob, "INBOX", [("DISPLAYTO", False)], k.All()) == expected
    reverse = services.search.sort(bob, "INBOX", [("DISPLAYTO", True)], k.All())
    assert reverse == expected[::-1]


def test_sort_subject_compares_upper_cased(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """Regression (imaptest sort-subject): i;ascii-casemap upper-cases (RFC 4790 §9.2), so
    "[" and "_" sort after the letters; base subjects per RFC 5256 §2.1."""
    for subject in (
        "a",
        "C",
        "_",
        "[xyz]",
        "Re: [FWD: c]",
        "=?iso-8859-1?q?_?=",  # one encoded space: an empty base subject
        "re: [fwd: [fwd: re: [fwd: babylon]]]",
        "b (a)",
    ):
        raw(tmp_path, services, bob, f"Subject: {subject}")
    sort = services.search.sort(bob, "INBOX", [("SUBJECT", False)], k.All())
    assert sort == [6, 1, 8, 7, 2, 5, 4, 3]
