"""The auto-reply composer (mime/compose.py) and the RFC 3834 checks of which mail gets
no reply (services/vacation.why_not): what the reply says, and a table of mail that
must never be answered.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from groupware.mime.compose import compose_auto_reply, compose_message, reply_subject
from groupware.mime.parse import parse_message
from groupware.services.delivery.vacation import why_not

ORIGINAL = (
    b"From: Carol <carol@elsewhere.example>\r\nTo: bob@example.test\r\n"
    b"Subject: Budget\r\nMessage-ID: <m2@elsewhere.example>\r\n"
    b"References: <m1@elsewhere.example>\r\n\r\nNumbers?\r\n"
)


def test_reply_headers_and_body() -> None:
    data = compose_auto_reply(
        from_address="bob@example.test",
        from_name="Bøb Builder",
        to="carol@elsewhere.example",
        subject=reply_subject("Budget"),
        body="Away until Monday.\nUrgent: ask Alice — she knows.",
        in_reply_to="<m2@elsewhere.example>",
        references=["<m1@elsewhere.example>", "<bad id>", "<ünicode@x>"],
        now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )
    assert data.isascii() and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["From"].addresses[0].display_name == "Bøb Builder"
    assert message["From"].addresses[0].addr_spec == "bob@example.test"
    assert message["To"] == "carol@elsewhere.example"
    assert message["Subject"] == "Auto: Budget"
    assert message["In-Reply-To"] == "<m2@elsewhere.example>"
    assert message["References"].split() == ["<m1@elsewhere.example>", "<m2@elsewhere.example>"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Message-ID"].endswith("@example.test>")
    body = message.get_content()
    assert "ask Alice — she knows." in body


def test_reply_subjects() -> None:
    assert reply_subject("Budget", "Out of office") == "Out of office"
    assert reply_subject("  Re:\r\n Budget ") == "Auto: Re: Budget"
    assert reply_subject("") == "Auto-reply"
    assert len(reply_subject("x" * 5000)) == 200


def test_unicode_subject_is_encoded() -> None:
    data = compose_auto_reply(
        from_address="bob@example.test",
        from_name="",
        to="c@x.example",
        subject=reply_subject("Grüße"),
        body="Away.",
        in_reply_to=None,
    )
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert message["Subject"] == "Auto: Grüße"
    assert "In-Reply-To" not in message and "References" not in message


def headers(*lines: str) -> bytes:
    return ("".join(f"{line}\r\n" for line in lines)).encode() + ORIGINAL


@pytest.mark.parametrize(
    ("sender", "data"),
    [
        ("", ORIGINAL),
        ("MAILER-DAEMON@elsewhere.example", ORIGINAL),
        ("owner-staff@lists.example", ORIGINAL),
        ("staff-request@lists.example", ORIGINAL),
        ("staff-bounces+carol=x.example@lists.example", ORIGINAL),
        ("noreply@shop.example", ORIGINAL),
        ("no-reply@shop.example", ORIGINAL),
        ("SRS0=abcd=xy=lists.example=owner-staff@fwd.example", ORIGINAL),
        ("carol@elsewhere.example", headers("Auto-Submitted: auto-generated")),
        ("carol@elsewhere.example", headers("Auto-Submitted: auto-replied; owner=x")),
        ("carol@elsewhere.example", headers("Precedence: bulk")),
        ("carol@elsewhere.example", headers("Precedence: List")),
        ("carol@elsewhere.example", headers("Precedence: junk")),
        ("carol@elsewhere.example", headers("List-Id: Staff <staff.lists.example>")),
        ("carol@elsewhere.example", headers("List-Unsubscribe: <mailto:u@lists.example>")),
        ("carol@elsewhere.example", headers("X-Auto-Response-Suppress: OOF, AutoReply")),
        (
            "carol@elsewhere.example",
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"
            + ORIGINAL,
        ),
    ],
)
def test_never_answered(sender: str, data: bytes) -> None:
    assert why_not(sender, parse_message(data)) is not None


@pytest.mark.parametrize(
    "data", [ORIGINAL, headers("Auto-Submitted: no"), headers("Precedence: first-class")]
)
def test_answered(data: bytes) -> None:
    assert why_not("carol@elsewhere.example", parse_message(data)) is None


def test_many_recipients_fold_within_the_line_limit() -> None:
    """RFC 5322 §2.1.1: no header line over 998 octets, however many recipients."""
    to = [f"someone.with.a.long.name.{n}@a-rather-long-domain.example" for n in range(100)]
    data = compose_message("nina@example.test", "Nina", to, to[:3], "Hello", "Body")
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    parsed = parse_message(data)
    assert len(parsed.to) == 100 and len(parsed.cc) == 3


def test_files_make_a_multipart_message_that_parses_back() -> None:
    from email import policy
    from email.parser import BytesParser

    from groupware.mime.compose import File

    files = [
        File("Résumé.pdf", "application/pdf", bytes(range(256))),
        File('evil"\r\nX-Injected: 1.txt', "text/html\r\nX-Bad: 1", b"<b>x</b>"),
        File("fwd.eml", "message/rfc822", b"Subject: inner\nFrom: a@b\n\nhello\n"),
    ]
    data = compose_message("a@x.org", "A", ["b@y.org"], [], "files", "see attached", files=files)
    assert b"X-Injected" not in data.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = BytesParser(policy=policy.default).parsebytes(data)
    assert parsed.get_body().get_content().rstrip() == "see attached"
    found = list(parsed.iter_attachments())
    assert found[0].get_filename() == "Résumé.pdf" and found[0].get_content() == bytes(range(256))
    assert found[1].get_content_type() == "application/octet-stream"  # a type that is not one
    assert "\n" not in found[1].get_filename() and b"X-Bad" not in data
    assert found[2].get_content()["Subject"] == "inner"
