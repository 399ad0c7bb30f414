"""services.search on SQLite and PostgreSQL: every search key, substrings that stay
substrings (case, LIKE wildcards, Unicode, words the full-text index splits or hides),
day boundaries, \\Recent claims, access, and one statement however many messages.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, insert, select, text

from groupware.config import Config
from groupware.errors import InvalidInput, NotFound
from groupware.model.mail import Mailbox, Message, MessageText
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from groupware.services.mail import searchkeys as k
from groupware.store import fulltext, migrate

WHEN = datetime(2026, 11, 27, tzinfo=UTC)


def mail(
    subject: str = "Note",
    sender: str = "Alice <alice@example.test>",
    to: str = "bob@example.test",
    body: str = "Hello",
    date: str | None = "Fri, 27 Nov 2026 09:00:00 +0000",
    headers: tuple[str, ...] = (),
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", *headers, f"Subject: {subject}"]
    if date:
        lines.append(f"Date: {date}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def user(services: Services, address: str) -> Principal:
    info = services.directory.add_user(SYSTEM, address, "Passw0rd-long")
    principal = services.auth.principal(info.id)
    assert principal is not None
    return principal


def append(
    services: Services,
    actor: Principal,
    tmp_path: Path,
    data: bytes,
    flags: tuple[str, ...] = (),
    when: datetime = WHEN,
    mailbox: str = "INBOX",
) -> int:
    path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.eml"
    path.write_bytes(data)
    return services.messages.append(actor, mailbox, path, flags, when).uid


@pytest.fixture
def bob(services: Services) -> Principal:
    services.directory.add_domain(SYSTEM, "example.test")
    return user(services, "bob@example.test")


@pytest.fixture
def four(services: Services, bob: Principal, tmp_path: Path) -> list[bytes]:
    """Four messages for the key tests (UIDs 1 to 4)."""
    messages = [
        mail(
            "Lunch plans",
            headers=("Cc: Carol <carol@example.test>", "X-Mailer: Thunderbird 115"),
            body="Shall we meet at noon?\r\nViele Grüße",
            date="Thu, 26 Nov 2026 23:00:00 +0000",
        ),
        mail(
            "Budget 100% done",
            sender="Dave Boss <dave@corp.test>",
            body="numbers in a_b form; see https://example.test/report",
            date="Fri, 27 Nov 2026 00:30:00 +0100",
        ),
        mail(
            "Re: Lunch plans",
            sender="bob@example.test",
            to="alice@example.test",
            body="Noon works. <span class=x hidden words> tagged",
            date=None,
        ),
        mail("Report", sender="eve@example.test", body="plain 1000 aXb 100 percent " + "x" * 500),
    ]
    flags = [("\\Seen", "$Important"), ("\\Flagged", "\\Answered"), ("$IMPORTANT",), ()]
    later = [timedelta(seconds=-1), timedelta(0), timedelta(days=1, hours=12), timedelta(days=2)]
    whens = [WHEN + delta for delta in later]
    for data, flag, when in zip(messages, flags, whens, strict=True):
        append(services, bob, tmp_path, data, flag, when)
    return messages


def find(services: Services, actor: Principal, key: k.Key, box: str = "INBOX") -> list[int]:
    return services.search.search(actor, box, key)


def test_flags_keywords_sizes_uids_modseq(
    services: Services, bob: Principal, four: list[bytes]
) -> None:
    assert find(services, bob, k.All()) == [1, 2, 3, 4]
    assert find(services, bob, k.Flag("\\Seen")) == [1]
    assert find(services, bob, k.Flag("\\seen", present=False)) == [2, 3, 4]
    assert find(services, bob, k.Flag("\\Answered")) == [2]
    assert find(services, bob, k.Flag("$important")) == [1, 3]  # keywords ignore case
    assert find(services, bob, k.Flag("$Important", present=False)) == [2, 4]
    assert find(services, bob, k.Flag("$Imp")) == []  # whole keywords only
    size = len(four[3])
    assert find(services, bob, k.Size(larger=True, size=size - 1)) == [4]
    assert find(services, bob, k.Size(larger=True, size=size)) == []
    assert find(services, bob, k.Size(larger=False, size=size)) == [1, 2, 3]
    assert find(services, bob, k.Uids(((3, 1),))) == [1, 2, 3]
    assert find(services, bob, k.Uids(((4, 4), (1, 1), (0, 0)))) == [1, 4]
    assert find(services, bob, k.Uids(((10, 20),))) == []
    singles = tuple((uid, uid) for uid in range(1, 5000, 2))  # more than a statement's params
    assert find(services, bob, k.Uids(singles)) == [1, 3]
    spans = tuple((uid, uid + 1) for uid in range(1, 6000, 3))  # a long OR, kept shallow
    assert find(services, bob, k.Uids(spans)) == [1, 2, 4]
    _, states = services.messages.index(bob, "INBOX")
    assert find(services, bob, k.ModSeq(states[2].modseq)) == [3, 4]


def test_not_or_and(services: Services, bob: Principal, four: list[bytes]) -> None:
    seen_or_report = k.Or(k.Flag("\\Seen"), k.Header("subject", "report"))
    assert find(services, bob, k.Not(seen_or_report)) == [2, 3]
    noon_or_flagged = k.Or(k.Text("noon"), k.Flag("\\Flagged"))
    assert find(services, bob, k.And((noon_or_flagged, k.Not(k.Flag("\\Seen"))))) == [2, 3]
    assert find(services, bob, k.And(())) == [1, 2, 3, 4]
    assert find(services, bob, k.Not(k.Not(k.Text("noon", "body")))) == [1, 3]
    many = k.And(tuple(k.Not(k.Uids(((n, n),))) for n in range(5, 3000)))
    assert find(services, bob, many) == [1, 2, 3, 4]
    nested: k.Key = k.Flag("\\Seen")
    for _ in range(150):
        nested = k.Not(nested)
    assert find(services, bob, nested) == [1]
    for _ in range(100):
        nested = k.Not(nested)
    with pytest.raises(InvalidInput):
        find(services, bob, nested)
    with pytest.raises(InvalidInput):
        find(services, bob, k.Flag("\\Recent"))  # the front door resolves it to UIDs
    with pytest.raises(InvalidInput):
        find(services, bob, k.Key())


def test_header_fields(services: Services, bob: Principal, four: list[bytes]) -> None:
    assert find(services, bob, k.Header("subject", "lunch")) == [1, 3]
    assert find(services, bob, k.Header("subject", "LUNCH PLANS")) == [1, 3]
    assert find(services, bob, k.Header("from", "dave boss")) == [2]
    assert find(services, bob, k.Header("from", "@example.test")) == [1, 3, 4]
    assert find(services, bob, k.Header("to", "alice@")) == [3]
    assert find(services, bob, k.Header("cc", "CAROL")) == [1]
    assert find(services, bob, k.Header("cc", "")) == [1]  # has the field
    assert find(services, bob, k.Header("bcc", "")) == []
    assert find(services, bob, k.Header("x-mailer", "thunder")) == [1]
    assert find(services, bob, k.Header("x-mailer", "bird 115")) == [1]
    assert find(services, bob, k.Header("x-mailer", "")) == [1]
    # The Subject line follows X-Mailer: a field's value is its own line only.
    assert find(services, bob, k.Header("x-mailer", "lunch")) == []
    assert find(services, bob, k.Header("date", "")) == [1, 2, 4]
    assert find(services, bob, k.Header("date", "+0100")) == [2]
    assert find(services, bob, k.Header("no such", "x")) == []


def test_substrings_are_literal_and_case_insensitive(
    services: Services, bob: Principal, four: list[bytes]
) -> None:
    assert find(services, bob, k.Text("100%")) == [2]  # not "100" then anything
    assert find(services, bob, k.Text("a_b")) == [2]  # not "aXb"
    assert find(services, bob, k.Header("subject", "0%")) == [2]
    assert find(services, bob, k.Text("grüße", "body")) == [1]
    assert find(services, bob, k.Text("GRÜßE")) == [1]
    assert find(services, bob, k.Text("noon", "body")) == [1, 3]
    assert find(services, bob, k.Text("lunch", "body")) == []  # only in the subject
    assert find(services, bob, k.Text("lunch")) == [1, 3]
    assert find(services, bob, k.Text("thunderbird")) == [1]  # TEXT reads the header
    # Inside tokens the full-text index keeps whole (URLs, addresses) or hides (tags).
    assert find(services, bob, k.Text("xample.test/rep")) == [2]
    assert find(services, bob, k.Text("example", "body")) == [2]
    assert find(services, bob, k.Text(" hidden ")) == [3]
    assert find(services, bob, k.Text("oon wor")) == [3]
    assert find(services, bob, k.Text(" noon")) == [1]  # #3 starts its body with "Noon"
    assert find(services, bob, k.Text("")) == [1, 2, 3, 4]


def test_dates_by_day(services: Services, bob: Principal, four: list[bytes]) -> None:
    day = date(2026, 11, 27)
    assert find(services, bob, k.Date("internal", "on", day)) == [2]
    assert find(services, bob, k.Date("internal", "before", day)) == [1]
    assert find(services, bob, k.Date("internal", "since", day)) == [2, 3, 4]
    assert find(services, bob, k.Date("internal", "since", date.max)) == []
    # Sent 26 Nov 23:00 +0000; 27 Nov 00:30 +0100 (26 Nov in UTC, but SENT* take the
    # Date: field's own day, RFC 3501 §6.4.4); #3 has no Date; #4 27 Nov 09:00 +0000.
    eve = date(2026, 11, 26)
    assert find(services, bob, k.Date("sent", "on", eve)) == [1]
    assert find(services, bob, k.Date("sent", "on", day)) == [2, 4]
    assert find(services, bob, k.Date("sent", "before", day)) == [1]
    assert find(services, bob, k.Date("sent", "since", day)) == [2, 4]
    assert find(services, bob, k.Date("sent", "since", date.max)) == []
    assert find(services, bob, k.Not(k.Date("sent", "since", day))) == [1, 3]
    assert find(services, bob, k.Not(k.Date("sent", "before", day))) == [2, 3, 4]


def test_sent_day_is_the_date_fields_own_day(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """Regression (imaptest search-date): across a zone change the day is the one the
    Date: field names, whatever it is in UTC; a copy keeps it."""
    for when in (
        "Sat, 24 Mar 2007 23:00:00 +0200",  # 24 Mar, 21:00 UTC
        "Sun, 25 Mar 2007 00:00:00 +0200",  # 25 Mar, 24 Mar in UTC
        "Sun, 25 Mar 2007 23:00:00 +0300",  # 25 Mar, 20:00 UTC
        "Mon, 26 Mar 2007 00:00:00 +0300",  # 26 Mar, 25 Mar in UTC
        "Sun, 25 Mar 2007 23:30:00 -0500",  # 25 Mar, 26 Mar in UTC
    ):
        append(services, bob, tmp_path, mail(date=when))
    assert find(services, bob, k.Date("sent", "before", date(2007, 3, 25))) == [1]
    assert find(services, bob, k.Date("sent", "on", date(2007, 3, 25))) == [2, 3, 5]
    assert find(services, bob, k.Date("sent", "since", date(2007, 3, 26))) == [4]
    services.mailboxes.create(bob, "Copies")
    services.messages.copy(bob, "INBOX", [1, 2, 3, 4, 5], "Copies")
    on = k.Date("sent", "on", date(2007, 3, 25))
    assert find(services, bob, on, box="Copies") == [2, 3, 5]


def test_older_and_younger(services: Services, bob: Principal, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    append(services, bob, tmp_path, mail(), when=now - timedelta(days=10))
    append(services, bob, tmp_path, mail(), when=now - timedelta(hours=2))
    assert find(services, bob, k.Within(older=True, seconds=86400)) == [1]
    assert find(services, bob, k.Within(older=False, seconds=86400)) == [2]
    assert find(services, bob, k.Within(older=False, seconds=60)) == []


def test_an_ascii_needle_matches_in_ascii_and_other_texts(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """SQLite answers an ASCII needle in an ASCII text with its own LIKE, escaped; a text
    with other characters takes Python's case folding (where the Kelvin sign is a k)."""
    subjects = ["Report 50%_done", "report 50x done", "path C:\\Temp", "Über REPORT", "\u212aelvin"]
    uids = [append(services, bob, tmp_path, mail(subject)) for subject in subjects]
    assert find(services, bob, k.Header("subject", "50%_")) == [uids[0]]
    assert find(services, bob, k.Header("subject", "c:\\t")) == [uids[2]]
    assert find(services, bob, k.Header("subject", "REPORT")) == [uids[0], uids[1], uids[3]]
    assert find(services, bob, k.Header("subject", "r rep")) == [uids[3]]
    assert find(services, bob, k.Header("subject", "%" * 60_000)) == []  # no LIKE limit
    if services.search._db.engine.dialect.name == "sqlite":  # PostgreSQL folds by its locale
        assert find(services, bob, k.Header("subject", "KELVIN")) == [uids[4]]


def test_found_exactly_what_a_substring_test_finds(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """The full-text prefilter never drops a match: random needles against Python."""
    rng = random.Random(5256)
    words = [
        "alpha", "Beta-Gamma", "x@example.test", "http://foo.example/a_b", "<b class=q>",
        "Grüße", "ÄÖÜ", "100%", "e-mail", "über", "snake_case", "CamelCase", "2026-11-27",
        "one,two", "(fwd)", "[list]", "naïve", "tab\there", "dot.ted", "UPPER", "lower",
    ]  # fmt: skip
    for _ in range(12):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        subject = " ".join(rng.choice(words) for _ in range(2))
        append(services, bob, tmp_path, mail(subject, body=body))
    with services.search._db.read() as session:
        texts = session.execute(
            select(Message.uid, MessageText.headers, MessageText.body)
            .join(MessageText, MessageText.message_id == Message.id)
            .order_by(Message.uid)
        ).all()
    for _ in range(300):
        _, headers, body = rng.choice(texts)
        source = rng.choice([headers, body])
        start = rng.randrange(len(source))
        needle = source[start : start + rng.randint(1, 16)]
        if rng.random() < 0.3:  # whole words, which PostgreSQL's index can narrow
            needle = f" {rng.choice(source.split() or ['x'])} "
        if rng.random() < 0.5:
            needle = needle.swapcase() if rng.random() < 0.5 else needle.upper()
        for where in ("text", "body"):
            expected = [
                uid
                for uid, h, b in texts
                if needle.lower() in b.lower() or (where == "text" and needle.lower() in h.lower())
            ]
            assert find(services, bob, k.Text(needle, where)) == expected, (needle, where)


def test_fulltext_index_is_used_and_kept(
    services: Services, bob: Principal, four: list[bytes], tmp_path: Path
) -> None:
    database = services.search._db
    services.messages.copy(bob, "INBOX", [1, 2], "Archive")
    services.messages.store_flags(bob, "INBOX", [1], "add", ["\\Deleted"])
    services.messages.expunge(bob, "INBOX")
    assert find(services, bob, k.Text("noon")) == [3]
    assert find(services, bob, k.Text("meet at noon"), "Archive") == [1]
    with database.write() as session:
        if session.get_bind().dialect.name == "sqlite":
            check = "INSERT INTO message_texts_fts (message_texts_fts, rank) VALUES (:c, 1)"
            session.execute(text(check), {"c": "integrity-check"})  # raises if out of step
            match = "SELECT rowid FROM message_texts_fts WHERE message_texts_fts MATCH 'hidden'"
            rows = session.execute(text(match))
            assert len(rows.all()) == 1
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            narrowed = fulltext.prefilter("postgresql", " hidden ", "text")
            assert narrowed is not None
            query = select(Message.uid).where(narrowed)
            compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
            assert fulltext.POSTGRES_INDEX in plan, plan
    # A text too long for a tsvector is still stored, and found.
    long_body = " ".join(f"w{n:06d}x{n * 7919 % 100003:05d}" for n in range(40_000))
    uid = append(services, bob, tmp_path, mail("Huge", body=long_body + " needle "))
    assert find(services, bob, k.Text(" needle ")) == [uid]


def test_search_is_one_statement(services: Services, bob: Principal, tmp_path: Path) -> None:
    append(services, bob, tmp_path, mail(body="Only the first says haystack"))
    database = services.search._db
    with database.write() as session:
        first = session.scalars(select(Message)).one()
        rows = [
            {c: getattr(first, a) for a, c in _COLUMNS.items()} | {"uid": n, "modseq": n}
            for n in range(2, 2001)
        ]
        ids = session.scalars(insert(Message).returning(Message.id), rows).all()
        session.execute(
            insert(MessageText), [{"message_id": i, "headers": "", "body": "hay"} for i in ids]
        )
        box = session.get(Mailbox, first.mailbox_id)
        assert box is not None
        box.uidnext = 2001
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        assert find(services, bob, k.Text("hay", "body")) == list(range(1, 2001))
        assert find(services, bob, k.Text(" haystack", "body")) == [1]
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len([s for s in statements if "FROM messages" in s]) == 2, statements


_COLUMNS = {
    "mailbox_id": "mailbox_id",
    "flags": "flags",
    "keywords": "keywords",
    "internal_date": "internal_date",
    "size": "size",
    "blob_id": "blob_id",
    "sent_date": "sent_date",
    "subject": "subject",
    "from_": "from_addr",
    "to": "to_addr",
    "cc": "cc_addr",
    "bcc": "bcc_addr",
    "parsed": "parsed",
}


def test_recent_is_claimed_once(services: Services, bob: Principal, tmp_path: Path) -> None:
    search = services.search

    def claim_recent(actor: Principal, mailbox: str) -> int:  # what a read-write SELECT does
        return services.fetch.open_mailbox(actor, mailbox, claim=True).first_recent

    assert search.recent_count(bob, "INBOX") == 0
    append(services, bob, tmp_path, mail())
    append(services, bob, tmp_path, mail())
    assert search.recent_count(bob, "inbox") == 2  # EXAMINE and STATUS leave them
    assert claim_recent(bob, "INBOX") == 1  # UIDs 1.. are this session's
    assert search.recent_count(bob, "INBOX") == 0
    assert claim_recent(bob, "INBOX") == 3  # the next SELECT: none (3 = UIDNEXT)
    append(services, bob, tmp_path, mail())
    append(services, bob, tmp_path, mail())
    assert search.recent_count(bob, "INBOX") == 2
    assert search.claim_recent_upto(bob, "INBOX", 3) is True  # first session told of 3
    assert search.claim_recent_upto(bob, "INBOX", 3) is False  # the second one
    assert search.recent_count(bob, "INBOX") == 1
    assert search.claim_recent_upto(bob, "INBOX", 4) is True
    assert claim_recent(bob, "INBOX") == 5
    with pytest.raises(InvalidInput):
        search.claim_recent_upto(bob, "INBOX", 5)  # not there yet


def test_only_own_mailboxes(services: Services, bob: Principal, tmp_path: Path) -> None:
    alice = user(services, "alice@example.test")
    services.mailboxes.create(alice, "Private")
    append(services, alice, tmp_path, mail("secret"), mailbox="Private")
    search = services.search
    calls = [
        lambda actor: search.search(actor, "Private", k.All()),
        lambda actor: search.sort(actor, "Private", [("ARRIVAL", False)], k.All()),
        lambda actor: search.thread_references(actor, "Private", k.All()),
        lambda actor: search.recent_count(actor, "Private"),
        lambda actor: services.fetch.open_mailbox(actor, "Private", claim=True),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call(bob)
        with pytest.raises(InvalidInput):
            call(SYSTEM)
    assert search.search(alice, "Private", k.Header("subject", "SECRET")) == [1]
    assert search.search(bob, "INBOX", k.Header("subject", "secret")) == []


GROUPS = (
    b"From: RealFrom <user-from@domain.org>\r\n"
    b"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
    b"  groupname2: groupuser3@domain.org;\r\n"
    b"Cc: <user-cc (comment)@ (comment) domain.org>\r\n"
    b"Date: Sun, 25 Mar 2007 00:30:00 +0200\r\n\r\nbody\r\n"
)


def test_address_search_finds_group_names(
    services: Services, bob: Principal, tmp_path: Path
) -> None:
    """Regression (imaptest search-addresses): FROM/TO/CC/BCC match a group's name as
    well as its members (the field as RFC 5322 §3.4 writes it)."""
    append(services, bob, tmp_path, GROUPS)
    append(services, bob, tmp_path, b"To: groupname:;\r\n\r\nbody\r\n")
    append(services, bob, tmp_path, mail(to="groupuser4@domain.org"))
    assert find(services, bob, k.Header("to", "groupname")) == [1, 2]
    assert find(services, bob, k.Header("to", "groupname2")) == [1]
    assert find(services, bob, k.Header("to", "groupuser3")) == [1]
    assert find(services, bob, k.Header("to", "groupuser4")) == [3]
    assert find(services, bob, k.Header("to", "")) == [1, 2, 3]
    assert find(services, bob, k.Header("cc", "user-cc@domain.org")) == [1]


def test_revision_0006_fills_the_sent_day_groups_and_subscriptions(
    services: Services, bob: Principal, tmp_path: Path, config: Config
) -> None:
    """Rows stored before revision 0006 get their sent day and their group names; the
    subscribed flags become subscriptions; a step down and up again keeps them."""
    append(services, bob, tmp_path, GROUPS)
    services.mailboxes.create(bob, "Unsubscribed")
    services.mailboxes.subscribe(bob, "Junk", False)
    migrate.downgrade(config.database_url, "0005")
    with services.search._db.write() as session:  # as 0005's code wrote them
        columns = "to_addr = 'groupuser1@domain.org, groupuser2@domain.org'"
        session.execute(text(f"UPDATE messages SET {columns}"))
        rows = session.execute(text("SELECT name, subscribed FROM mailboxes")).all()
        assert {name for name, subscribed in rows if subscribed} == {
            "INBOX",
            "Drafts",
            "Sent",
            "Trash",
            "Archive",
        }
    migrate.upgrade(config.database_url)
    assert find(services, bob, k.Header("to", "groupname2")) == [1]
    assert find(services, bob, k.Date("sent", "on", date(2007, 3, 25))) == [1]
    assert find(services, bob, k.Date("sent", "before", date(2007, 3, 25))) == []
    assert services.mailboxes.subscriptions(bob) == ["Archive", "Drafts", "INBOX", "Sent", "Trash"]
