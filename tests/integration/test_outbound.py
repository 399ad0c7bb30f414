"""Two servers, each with its own domain, data directory and ports, routed to each other
by the transport map: a user of one sends to the other; an unknown recipient comes back
as a DSN in the sender's INBOX; a recipient whose server is down is retried and then
delivered when it comes back.
"""

from __future__ import annotations

import dataclasses
import smtplib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.config import Config, Endpoint
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, TEST_DNS, Served, make_config, serving

PASSWORD = "Sender-pass-1234"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instance_config(
    folder: Path, database_url: str, hostname: str, smtp_port: int, transport: str
) -> Config:
    config = make_config(folder, database_url)
    listen = dataclasses.replace(
        config.listen,
        smtp=Endpoint("127.0.0.1", smtp_port),
        submission=Endpoint("127.0.0.1", 0),
    )
    outbound = dataclasses.replace(
        config.outbound,
        transport=transport,
        first_retry=1,
        max_retry_interval=1,
        poll_interval=0.2,
        connect_timeout=5,
    )
    return dataclasses.replace(config, hostname=hostname, listen=listen, outbound=outbound)


def wait_for(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def inbox(served: Served, address: str) -> list[bytes]:
    user = served.services.directory.get_user(SYSTEM, address)
    who = served.services.auth.principal(user.id)
    assert who is not None
    _, states = served.services.messages.index(who, "INBOX")
    return [served.services.messages.read(who, "INBOX", s.uid) for s in states]


@pytest.fixture
def pair(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[dict]:
    """Configs of two instances (not yet started): org (example.org) and net (example.net)."""
    ports = {"org": free_port(), "net": free_port()}
    net_url = database_url
    if database_url.startswith("postgresql"):
        net_url = str(request.getfixturevalue("postgres_schema_2"))
    else:
        net_url = f"sqlite:///{tmp_path / 'net.db'}"
    configs = {
        "org": instance_config(
            tmp_path / "org",
            database_url,
            "mail.example.org",
            ports["org"],
            f"example.net=127.0.0.1:{ports['net']}",
        ),
        "net": instance_config(
            tmp_path / "net",
            net_url,
            "mail.example.net",
            ports["net"],
            f"example.org=127.0.0.1:{ports['org']}",
        ),
    }
    for name, config in configs.items():
        runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
        built = runtime_module.build(config)
        built.services.directory.add_user(SYSTEM, f"user@example.{name}", PASSWORD)
        built.close()
    yield configs


def submit(served: Served, sender: str, recipient: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
        client.login(sender, PASSWORD)
        client.sendmail(
            sender,
            [recipient],
            f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nHi\r\n",
        )


def publish(served: Served, domain: str) -> None:
    """Put the domain's SPF, DKIM and DMARC records in the test DNS, as `groupware dns`
    prints them (SPF narrowed to loopback, where the test servers send from)."""
    for record in served.services.dkim.records(domain):
        if record.type == "TXT" and "_domainkey" in record.name:
            TEST_DNS.set(record.name, "TXT", [record.value])
    TEST_DNS.set(domain, "TXT", ["v=spf1 ip4:127.0.0.1 -all"])
    TEST_DNS.set(f"_dmarc.{domain}", "TXT", ["v=DMARC1; p=reject"])


def test_mail_between_instances_and_bounces(pair: dict) -> None:
    with ExitStack() as stack:
        org = stack.enter_context(serving(pair["org"]))
        net = stack.enter_context(serving(pair["net"]))
        publish(org, "example.org")
        submit(org, "user@example.org", "user@example.net", "across")
        wait_for(lambda: len(inbox(net, "user@example.net")) == 1)
        arrived = inbox(net, "user@example.net")[0]
        assert b"Subject: across" in arrived
        assert arrived.count(b"Received: ") == 2  # org's submission, net's MX
        results = arrived.split(b"Received: ")[0]
        assert results.startswith(b"Authentication-Results: mail.example.net;")
        assert b"spf=pass smtp.mailfrom=user@example.org" in results
        assert b"dkim=pass header.d=example.org" in results
        assert b"dmarc=pass" in results and b"header.from=example.org" in results

        # Someone else using example.org in From, without its DKIM key: p=reject holds.
        with (
            smtplib.SMTP("127.0.0.1", net.ports["smtp"], timeout=30) as client,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            client.sendmail(
                "forger@elsewhere.example",
                ["user@example.net"],
                b"From: user@example.org\r\nSubject: fake\r\n\r\nx\r\n",
            )
        assert refused.value.smtp_code == 550 and b"DMARC" in refused.value.smtp_error
        assert len(inbox(net, "user@example.net")) == 1

        submit(org, "user@example.org", "nobody@example.net", "lost")
        wait_for(lambda: len(inbox(org, "user@example.org")) == 1)
        report = inbox(org, "user@example.org")[0]
        assert b"multipart/report; report-type=delivery-status" in report
        assert b"Final-Recipient: rfc822; nobody@example.net" in report
        assert b"Status: 5.1.1" in report
        assert b"Subject: lost" in report  # the original comes back
        wait_for(lambda: org.services.queue.list_all(SYSTEM) == [])


def test_recipient_down_is_retried_then_delivered(pair: dict) -> None:
    with serving(pair["org"]) as org:
        submit(org, "user@example.org", "user@example.net", "patience")
        wait_for(
            lambda: any(
                r.attempts >= 1 for m in org.services.queue.list_all(SYSTEM) for r in m.recipients
            )
        )
        [queued] = org.services.queue.list_all(SYSTEM)
        assert queued.recipients[0].state == "queued"
        assert "4.4.1" in queued.recipients[0].last_reply
        with serving(pair["net"]) as net:
            wait_for(lambda: len(inbox(net, "user@example.net")) == 1)
            # Up until org has its 250: net stores a message before it answers, and a
            # reply cut off by net stopping is a failure org must try again.
            wait_for(lambda: org.services.queue.list_all(SYSTEM) == [])
            assert len(inbox(net, "user@example.net")) == 1
    assert inbox(org, "user@example.org") == []  # no bounce


def submit_with(
    served: Served, recipient: str, subject: str, mail_options: list[str], rcpt_options: list[str]
) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["submission"], timeout=30) as client:
        client.login("user@example.org", PASSWORD)
        assert client.has_extn("dsn")
        client.sendmail(
            "user@example.org",
            [recipient],
            f"From: user@example.org\r\nSubject: {subject}\r\n\r\nbody text\r\n",
            mail_options=mail_options,
            rcpt_options=rcpt_options,
        )


def test_dsn_parameters_shape_the_bounce(pair: dict) -> None:
    """RFC 3461: NOTIFY=NEVER asks for no report; RET=HDRS returns only the headers;
    ENVID comes back as Original-Envelope-Id."""
    with ExitStack() as stack:
        org = stack.enter_context(serving(pair["org"]))
        stack.enter_context(serving(pair["net"]))
        submit_with(org, "nobody@example.net", "silent", [], ["NOTIFY=NEVER"])
        submit_with(
            org, "ghost@example.net", "headers", ["RET=HDRS", "ENVID=QUEUE42"], ["NOTIFY=FAILURE"]
        )
        wait_for(lambda: len(inbox(org, "user@example.org")) == 1)
        wait_for(lambda: org.services.queue.list_all(SYSTEM) == [])
        [report] = inbox(org, "user@example.org")
        assert b"Final-Recipient: rfc822; ghost@example.net" in report
        assert b"nobody@example.net" not in report
        assert b"Original-Envelope-Id: QUEUE42" in report
        assert b"Content-Type: text/rfc822-headers" in report
        assert b"Subject: headers" in report and b"body text" not in report
