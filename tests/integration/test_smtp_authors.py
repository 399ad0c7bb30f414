"""Submission's author check and DKIM by the From: domain, over real sockets (smtplib on
the submission and MX ports): From: and Sender: (and the Resent-From: and Resent-Sender:
of the topmost Resent- block) must be addresses the user may send as (553 5.7.1) and there
must be exactly one From: that reads (550 5.6.0); copies leaving us are signed for their
From: domain, not the envelope's, and forwarded mail from outside is never signed for a
From: domain of ours.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from groupware.model.queue import OutboundMessage
from groupware.services.core.access import SYSTEM
from groupware.services.transport.mailauth import verify_dkim
from groupware.services.transport.resolver import Resolver
from tests.conftest import TEST_DNS, Served
from tests.integration.test_smtp import PASSWORD, inbox, start

ALICE = "alice@example.test"
OUTSIDE = "someone@elsewhere.example"
RESENT_DATE = "Resent-Date: Mon, 6 Jan 2025 10:00:00 +0000"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    for served in start(tmp_path, database_url):
        services = served.services
        services.directory.add_domain(SYSTEM, "other.test")
        services.aliases.add(SYSTEM, "info@other.test", [ALICE])  # hers, in another domain
        services.aliases.add(SYSTEM, "fwd@example.test", ["friend@elsewhere.example"])
        for domain in ("example.test", "other.test"):
            for record in services.dkim.records(domain):
                if "_domainkey" in record.name:
                    TEST_DNS.set(record.name, "TXT", [record.value])
        yield served


def message(*fields: str) -> bytes:
    return ("".join(f + "\r\n" for f in fields) + "Subject: hi\r\n\r\nHello.\r\n").encode()


ACCEPTED = [
    ["From: Alice <alice@example.test>"],
    ["From: info@other.test"],  # an alias of hers
    ["From: alice@example.test", "Sender: sales@example.test"],
    ["From: =?utf-8?q?bob=40example.test?= <alice+news@example.test>"],  # a name is a name
    ["From: Us: alice@example.test, sales@example.test;"],  # RFC 6854 group
    ["From: alice@example.test (bob@example.test)"],  # a comment is no address
    # RFC 5322 §3.6.6: she redirects her own message; an older block of bob's stays.
    [f"Resent-From: {ALICE}", RESENT_DATE, "From: alice@example.test"],
    [f"Resent-From: {ALICE}", RESENT_DATE, "Resent-From: bob@example.test", f"From: {ALICE}"],
    ["Resent-From: info@other.test", f"Resent-Sender: {ALICE}", f"From: {ALICE}"],
]
REFUSED = [
    (["From: bob@example.test"], 553, b"5.7.1"),
    (["From: someone@elsewhere.example"], 553, b"5.7.1"),
    (["From: alice@example.test", "Sender: bob@example.test"], 553, b"5.7.1"),
    (["From: alice@example.test, bob@example.test"], 553, b"5.7.1"),
    (["From: Us: alice@example.test, bob@example.test;"], 553, b"5.7.1"),
    # Read two ways, this is alice or bob: both must be hers.
    (["From: alice@example.test <bob@example.test>"], 553, b"5.7.1"),
    (["From: <bob@example.test>alice@example.test"], 553, b"5.7.1"),
    (["To: bob@example.test"], 550, b"5.6.0"),  # no From:
    (["From: alice@example.test", "From: bob@example.test"], 550, b"5.6.0"),
    (["From: alice@example.test", "From: alice@example.test"], 550, b"5.6.0"),
    (
        ["From: alice@example.test", "Sender: a@example.test", "Sender: b@example.test"],
        550,
        b"5.6.0",
    ),
    (["From: garbage"], 550, b"5.6.0"),
    (["From: undisclosed-recipients:;"], 550, b"5.6.0"),
    (["From: alice@@example.test"], 550, b"5.6.0"),
    # Regression: Resent-From: was not checked, and was signed.
    ([f"From: {ALICE}", "Resent-From: bob@example.test"], 553, b"5.7.1"),
    ([f"Resent-From: {ALICE}", "Resent-Sender: bob@example.test", f"From: {ALICE}"], 553, b"5.7.1"),
    ([RESENT_DATE, "Resent-From: bob@example.test", f"From: {ALICE}"], 553, b"5.7.1"),
    ([RESENT_DATE, RESENT_DATE, "Resent-From: bob@example.test", f"From: {ALICE}"], 550, b"5.6.0"),
    (["Resent-From: garbage", f"From: {ALICE}"], 550, b"5.6.0"),
]


def test_submission_checks_from_and_sender(server: Served) -> None:
    """Regression: only MAIL FROM was checked, so an authenticated user could
    write anyone's From: and have it DKIM-signed to match."""
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as client:
        client.login(ALICE, PASSWORD)
        for fields in ACCEPTED:
            assert client.sendmail(ALICE, ["bob@example.test"], message(*fields)) == {}
        for fields, code, status in REFUSED:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail(ALICE, ["bob@example.test"], message(*fields))
            assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (code, status), fields
    assert len(inbox(server, "bob@example.test")) == len(ACCEPTED)


def queued(served: Served) -> dict[str, bytes]:
    """The queued messages' bytes, by their first recipient."""
    found = {}
    queue = served.services.queue
    with served.runtime.database.read() as session:
        rows = session.execute(select(OutboundMessage.id, OutboundMessage.blob_id)).tuples()
        blobs = {message_id: blob_id for message_id, blob_id in rows}
    for item in queue.list_all(SYSTEM):
        found[item.recipients[0].address] = queue.read_message(blobs[item.id])
    return found


def signers(data: bytes) -> list[tuple[str, str]]:
    """(d=, result) of each DKIM signature, checked against the published keys."""
    return [(c.domain, c.result) for c in verify_dkim(data, Resolver([TEST_DNS.address]))]


def test_submitted_mail_is_signed_for_its_from_domain(server: Served) -> None:
    """Regression: signing used the envelope domain, whatever From: said."""
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as client:
        client.login(ALICE, PASSWORD)
        note = message("From: Info <info@other.test>", f"To: {OUTSIDE}")
        client.sendmail(ALICE, [OUTSIDE], note)  # the envelope stays hers
        client.sendmail(ALICE, ["fwd@example.test"], note)  # forwarded by an alias of ours
    copies = queued(server)
    assert signers(copies[OUTSIDE]) == [("other.test", "pass")]
    assert signers(copies["friend@elsewhere.example"]) == [("other.test", "pass")]


def test_forwarded_mail_from_outside_is_not_signed_for_our_from(server: Served) -> None:
    """A forged From: of ours arriving at the MX and forwarded on would pass DMARC at the
    destination if we signed the copy with our key; one from elsewhere is signed by the
    forwarding domain as before."""
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.sendmail(OUTSIDE, ["fwd@example.test"], message("From: alice@example.test"))
    [forged] = queued(server).values()
    assert signers(forged) == []
    server.services.queue.delete(SYSTEM, server.services.queue.list_all(SYSTEM)[0].id)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.sendmail(OUTSIDE, ["fwd@example.test"], message(f"From: {OUTSIDE}"))
    [theirs] = queued(server).values()
    assert signers(theirs) == [("example.test", "pass")]
