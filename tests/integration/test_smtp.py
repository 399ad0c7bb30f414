"""SMTP over real sockets with smtplib (and a raw socket where smtplib would fix the
input): MX delivery to users, aliases, groups and plus addresses; refusals (unknown
recipient, relay, smuggling, long lines, size, quota); submission with STARTTLS, on 465
with implicit TLS, AUTH rules before TLS, and who may use which sender address.
"""

from __future__ import annotations

import dataclasses
import smtplib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.services.core.access import SYSTEM, Principal
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners

PASSWORD = "Alice-pass-1234"
BODY = b"Subject: hello\r\nFrom: someone@elsewhere.example\r\n\r\nHi there.\r\n"


def written_by(author: str) -> bytes:
    """BODY as `author` writes it: submission checks From: (test_smtp_authors.py)."""
    return BODY.replace(b"someone@elsewhere.example", author.encode())


def start(tmp_path: Path, database_url: str, **auth: object) -> Iterator[Served]:
    config = make_config(tmp_path, database_url, **auth)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    config = with_listeners(config, smtp="on", submission="on", submissions="on")
    with serving(config) as served:
        directory = served.services.directory
        directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        directory.add_user(SYSTEM, "bob@example.test", PASSWORD)
        directory.add_user(SYSTEM, "full@example.test", PASSWORD, quota_bytes=10)
        served.services.aliases.add(SYSTEM, "sales@example.test", ["alice@example.test"])
        served.services.groups.add(
            SYSTEM,
            "team",
            address="team@example.test",
            members=["alice@example.test", "bob@example.test"],
        )
        yield served


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    yield from start(tmp_path, database_url)


def tls_client(config: Config) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(config.tls.cert))


def principal(served: Served, address: str) -> Principal:
    user = served.services.directory.get_user(SYSTEM, address)
    found = served.services.auth.principal(user.id)
    assert found is not None
    return found


def inbox(served: Served, address: str) -> list[bytes]:
    who = principal(served, address)
    _, states = served.services.messages.index(who, "INBOX")
    return [served.services.messages.read(who, "INBOX", s.uid) for s in states]


def test_mx_delivers_to_users_aliases_groups_and_plus_addresses(server: Served) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        code, banner = client.ehlo("sender.example")
        assert code == 250
        features = banner.decode().upper()
        for feature in (
            "PIPELINING",
            "ENHANCEDSTATUSCODES",
            "SIZE",
            "8BITMIME",
            "SMTPUTF8",
            "STARTTLS",
        ):
            assert feature in features
        assert "AUTH" not in features  # MX takes no logins
        refused = client.sendmail(
            "someone@elsewhere.example",
            [
                "alice@example.test",
                "sales@example.test",
                "team@example.test",
                "bob+news@example.test",
            ],
            BODY,
        )
        assert refused == {}
    alice, bob = inbox(server, "alice@example.test"), inbox(server, "bob@example.test")
    assert len(alice) == 1 and len(bob) == 1  # one copy per user, however addressed
    # Our verdicts first (RFC 8601), then the trace (RFC 5321 §4.4), then the message.
    head, _, rest = alice[0].partition(b"Received: from sender.example ([127.0.0.1])\r\n\tby ")
    assert head.startswith(b"Authentication-Results: mail.example.test;")
    assert b"spf=none" in head and b"dkim=none" in head and b"dmarc=none" in head
    assert rest.endswith(BODY)


def test_mx_refusals(server: Served) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.ehlo("sender.example")
        client.mail("someone@elsewhere.example")
        code, message = client.rcpt("nobody@example.test")
        assert (code, message[:5]) == (550, b"5.1.1")
        code, message = client.rcpt("victim@elsewhere.example")
        assert (code, message[:5]) == (554, b"5.7.1")  # no open relay
        code, message = client.rcpt("full@example.test")
        assert (code, message[:5]) == (250, b"2.1.5")  # empty yet: room for a little
        client.rset()
        code, _ = client.mail("someone@elsewhere.example", ["SIZE=999999999999"])
        assert code == 552
    assert inbox(server, "alice@example.test") == []


def raw_session(port: int, data: bytes) -> bytes:
    """Speak SMTP byte for byte (smtplib would repair the line endings we test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        replies = []
        for line in (
            b"EHLO raw.example\r\n",
            b"MAIL FROM:<a@elsewhere.example>\r\n",
            b"RCPT TO:<alice@example.test>\r\n",
            b"DATA\r\n",
        ):
            sock.sendall(line)
            while True:
                reply = reader.readline()
                if reply[3:4] != b"-":
                    break
            replies.append(reply)
        sock.sendall(data + b"\r\n.\r\n")
        final = reader.readline()
        sock.sendall(b"QUIT\r\n")
        return final


@pytest.mark.parametrize(
    "data",
    [
        b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<x@y.example>",  # bare LF
        b"Subject: smuggle\r\n\r\nfirst\r.\rsecond",  # bare CR
        b"Subject: long\r\n\r\n" + b"x" * 1200,
    ],
)
def test_smuggling_and_long_lines_are_refused(server: Served, data: bytes) -> None:
    reply = raw_session(server.ports["smtp"], data)
    # aiosmtpd itself answers an over-long line with "500 Line too long"; ours say 5.6.0.
    assert reply.startswith((b"550 5.6.0", b"500 Line too long")), reply
    assert inbox(server, "alice@example.test") == []


def test_submission_with_starttls_and_auth(server: Served) -> None:
    context = tls_client(server.runtime.config)
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as client:
        client.ehlo("laptop")
        client.starttls(context=context)
        client.ehlo("laptop")
        assert "PLAIN" in client.esmtp_features["auth"].upper()
        client.login("alice@example.test", PASSWORD)
        client.sendmail(
            "alice@example.test", ["bob@example.test"], written_by("alice@example.test")
        )
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(
                "bob@example.test", ["bob@example.test"], written_by("bob@example.test")
            )
        assert refused.value.smtp_code == 553
        for sender in ("sales@example.test", "team@example.test", "alice+lists@example.test"):
            # Her alias, her group, her own address with a tag.
            client.sendmail(sender, ["bob@example.test"], written_by(sender))
    received = inbox(server, "bob@example.test")
    assert len(received) == 4
    assert b"with ESMTPSA id" in received[0]


def test_submissions_with_implicit_tls_and_an_app_password(server: Served) -> None:
    alice = principal(server, "alice@example.test")
    _, secret = server.services.credentials.add_app_password(alice, "alice@example.test", "mua")
    context = tls_client(server.runtime.config)
    with smtplib.SMTP_SSL(
        "127.0.0.1", server.ports["submissions"], context=context, timeout=30
    ) as client:
        client.login("alice@example.test", secret)
        mine = written_by("alice@example.test")
        client.sendmail("alice@example.test", ["bob@example.test"], mine)
        client.sendmail("alice@example.test", ["someone@elsewhere.example"], mine)
    assert len(inbox(server, "bob@example.test")) == 1
    [queued] = server.services.queue.list_all(SYSTEM)  # relayed for her: queued
    assert queued.mail_from == "alice@example.test"
    assert [r.address for r in queued.recipients] == ["someone@elsewhere.example"]


def test_submission_refuses_without_auth_and_wrong_passwords(server: Served) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as client:
        client.ehlo("laptop")
        code, _ = client.mail("alice@example.test")
        assert code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            client.login("alice@example.test", "wrong-password")
        assert failed.value.smtp_code == 535
        client.login("alice@example.test", PASSWORD)  # loopback may log in before TLS


def test_auth_in_clear_refused_when_loopback_is_not_trusted(
    tmp_path: Path, database_url: str
) -> None:
    for served in start(tmp_path, database_url, loopback_is_secure=False):
        with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
            client.ehlo("laptop")
            assert not client.has_extn("auth")  # not offered before TLS
            code, message = client.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
            assert (code, message[:6]) == (538, b"5.7.11")
            client.starttls(context=tls_client(served.runtime.config))
            client.ehlo("laptop")
            client.login("alice@example.test", PASSWORD)


def test_quota_full_mailbox_refused_at_rcpt(server: Served, tmp_path: Path) -> None:
    full = principal(server, "full@example.test")
    spool = tmp_path / "big.eml"
    spool.write_bytes(b"Subject: x\r\n\r\n" + b"y" * 20 + b"\r\n")
    server.services.mailboxes.ensure_defaults(full.user_id or 0)
    with pytest.raises(Exception, match="over quota"):
        server.services.messages.append(full, "INBOX", spool)
    usage = dataclasses.replace(server.services.mailboxes.quota(full))
    assert usage.used_bytes == 0
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.ehlo("sender.example")
        client.mail("someone@elsewhere.example")
        assert client.rcpt("full@example.test")[0] == 250
        client.rset()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("someone@elsewhere.example", ["full@example.test"], BODY * 3)
        # Bigger than the whole 10-byte quota: deleting mail would not help (RFC 3463).
        assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (552, b"5.2.2")


def test_quota_nearly_full_mailbox_tempfails(server: Served, tmp_path: Path) -> None:
    room = principal(server, "bob@example.test")
    server.services.directory.update_user(SYSTEM, "bob@example.test", quota_bytes=2000)
    spool = tmp_path / "filler.eml"
    spool.write_bytes(b"Subject: filler\r\n\r\n" + b"z" * 1800 + b"\r\n")
    server.services.messages.append(room, "INBOX", spool)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.ehlo("sender.example")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("someone@elsewhere.example", ["bob@example.test"], BODY * 3)
        assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (452, b"4.2.2")
    assert len(inbox(server, "bob@example.test")) == 1


def test_connection_and_recipient_limits(tmp_path: Path, database_url: str) -> None:
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(
        config,
        smtp=dataclasses.replace(config.smtp, max_connections_per_ip=2, max_recipients=2),
    )
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, smtp="on")) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        port = served.ports["smtp"]
        first = smtplib.SMTP("127.0.0.1", port, timeout=30)
        second = smtplib.SMTP("127.0.0.1", port, timeout=30)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as third:
                assert third.makefile("rb").readline().startswith(b"421 4.7.0")
            first.ehlo("one")
            first.mail("a@elsewhere.example")
            assert first.rcpt("alice@example.test")[0] == 250
            assert first.rcpt("alice+b@example.test")[0] == 250
            code, message = first.rcpt("alice+c@example.test")
            assert (code, message[:5]) == (452, b"4.5.3")
        finally:
            first.close()
            second.close()


def test_partly_full_delivery_is_accepted_and_reported(server: Served) -> None:
    """RFC 5321 §6.1: once some recipients have the message, the others' failure goes
    back as a DSN rather than a refusal that would make the client send it twice."""
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        refused = client.sendmail(
            "bob@example.test",
            ["alice@example.test", "full@example.test"],
            b"Subject: for two\r\n\r\n" + b"x" * 100 + b"\r\n",
        )
        assert refused == {}
    assert len(inbox(server, "alice@example.test")) == 1
    [report] = inbox(server, "bob@example.test")
    assert b"multipart/report; report-type=delivery-status" in report
    assert b"Final-Recipient: rfc822; full@example.test" in report
    assert b"Status: 4.2.2" in report
