"""RFC 5256 base subjects (§2.1) and THREAD=REFERENCES (§4) as pure functions: the
subject artifacts one by one, and the linking, pruning and gathering steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from groupware.mime.subject import base_subject
from groupware.mime.threads import ThreadMessage, thread_references


@pytest.mark.parametrize(
    ("subject", "base", "replied"),
    [
        ("Hello", "hello", False),
        ("Re: Hello", "hello", True),
        ("RE:Hello", "hello", True),
        ("re : hello", "hello", True),  # *WSP before the colon
        ("Fw: Hello", "hello", True),
        ("FWD: Re: Hello", "hello", True),
        ("Re[2]: Hello", "hello", True),  # a blob inside subj-refwd
        ("Re: [list] Re: Hello", "hello", True),
        ("[list] Hello", "hello", False),  # a leading blob goes...
        ("[list]", "[list]", False),  # ...unless nothing would stay
        ("[a][b] Re: Hello", "hello", True),
        ("Hello (fwd)", "hello", True),
        ("Hello (FWD) (fwd)  ", "hello", True),
        ("[Fwd: Hello]", "hello", True),
        ("[fwd: Re: Hello (fwd)]", "hello", True),
        ("  Hello\t\tWorld ", "hello world", False),
        ("Reply: Hello", "reply: hello", False),  # "re" must be followed by ":"
        ("Ré: Grüße", "ré: grüsse", False),  # case-folded: ß is ss
        ("Re:", "", True),
        ("", "", False),
        # imaptest sort-subject's subjects (decoded, as the store keeps them)
        ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", True),
        ("Re: [FWD: c]", "c", True),
        ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", True),
        ("Ad: Re: Ad: Re: Ad: x", "ad: re: ad: re: ad: x", False),
        ("b (a)", "b (a)", False),
        ("[xyz]", "[xyz]", False),
        (" ", "", False),  # "=?iso-8859-1?q?_?=", one encoded space
    ],
)
def test_base_subject(subject: str, base: str, replied: bool) -> None:
    assert base_subject(subject) == (base, replied)


START = datetime(2026, 11, 1, tzinfo=UTC)


def msg(
    uid: int,
    message_id: str | None,
    references: str = "",
    subject: str = "Topic",
    hours: int = 0,
    in_reply_to: str | None = None,
) -> ThreadMessage:
    return ThreadMessage(
        uid=uid,
        message_id=message_id,
        references=tuple(references.split()),
        in_reply_to=in_reply_to,
        subject=subject,
        date=START + timedelta(hours=hours if hours else uid),
    )


def test_a_chain_with_branches_in_date_order() -> None:
    threads = thread_references(
        [
            msg(3, "<c@x>", "<a@x> <b@x>", "Re: Topic", hours=5),
            msg(1, "<a@x>"),
            msg(2, "<b@x>", "<a@x>", "Re: Topic", hours=2),
            msg(4, "<d@x>", "<a@x>", "Re: Topic", hours=3),
        ]
    )
    assert threads == [(1, ((2, ((3, ()),)), (4, ())))]


def test_references_win_over_in_reply_to_and_quoting_is_ignored() -> None:
    threads = thread_references(
        [
            msg(1, '<"a"@x>', subject="One"),
            msg(2, "<b@x>", subject="Two"),
            msg(3, "<c@x>", "<a@x>", subject="Three", in_reply_to="<b@x>"),
            msg(4, "<d@x>", subject="Four", in_reply_to="<b@x>"),
        ]
    )
    assert threads == [(1, ((3, ()),)), (2, ((4, ()),))]


def test_duplicates_loops_and_missing_ids() -> None:
    threads = thread_references(
        [
            msg(1, "<a@x>", "<b@x>", subject="One"),
            msg(2, "<b@x>", "<a@x>", subject="Two"),  # would close a loop: not linked
            msg(3, "<a@x>", subject="Three"),  # a duplicate Message-ID: a thread of its own
            msg(4, None, subject="Four"),
            msg(5, "<e@x>", "<e@x>", subject="Five"),  # refers to itself
        ]
    )
    assert threads == [(2, ((1, ()),)), (3, ()), (4, ()), (5, ())]


def test_dummies_are_pruned_or_kept_at_the_root() -> None:
    threads = thread_references(
        [
            msg(1, "<a@x>", "<gone@x> <also-gone@x>", subject="One"),  # one child: promoted
            msg(2, "<b@x>", "<lost@x>", subject="Two"),
            msg(3, "<c@x>", "<lost@x>", subject="Three"),  # two children: a dummy root
        ]
    )
    assert threads == [(1, ()), (None, ((2, ()), (3, ())))]


def test_roots_gathered_by_subject() -> None:
    threads = thread_references(
        [
            msg(1, "<a@x>", subject="Re: Party"),
            msg(2, "<b@x>", subject="Party"),
            msg(3, "<c@x>", subject="Party"),
            msg(4, "<d@x>", subject="Re: Other"),
            msg(5, "<e@x>", subject="Re: other"),
            msg(6, "<f@x>", subject=""),
            msg(7, "<g@x>", subject=""),
        ]
    )
    # "Party" (2) is no reply, so it takes the subject and the reply (1) under it; the
    # other "Party" (3) meets a non-reply: a dummy groups both. Two replies: a dummy.
    # Empty subjects are never gathered.
    assert threads == [
        (None, ((2, ((1, ()),)), (3, ()))),
        (None, ((4, ()), (5, ()))),
        (6, ()),
        (7, ()),
    ]
