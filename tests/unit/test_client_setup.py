"""What clients are told comes from the configured listeners and web.public_url only:
the order (implicit TLS first), the MX port never offered, DNS records for a TLS portal,
and a public_url that is not an origin refused at start-up."""

from __future__ import annotations

import plistlib

import pytest

from groupware.config import Config, ConfigError, Endpoint, ListenConfig, load
from groupware.services.devices.profiles import apple_profile
from groupware.services.devices.records import discovery_records
from groupware.services.devices.setup import ClientSetup


def setup_of(**listen: Endpoint | None) -> ClientSetup:
    none = dict.fromkeys(ListenConfig.__dataclass_fields__)
    return ClientSetup(
        Config(hostname="mail.example.org", listen=ListenConfig(**{**none, **listen}))
    )


def test_servers_come_best_first_and_never_the_mx_port() -> None:
    setup = setup_of(
        smtp=Endpoint("0.0.0.0", 25),
        submission=Endpoint("0.0.0.0", 587),
        submissions=Endpoint("0.0.0.0", 465),
        imap=Endpoint("0.0.0.0", 143),
        imaps=Endpoint("0.0.0.0", 993),
        pop3=Endpoint("0.0.0.0", 110),
    )
    assert [(s.protocol, s.port, s.security) for s in setup.incoming()] == [
        ("imap", 993, "tls"),
        ("imap", 143, "starttls"),
        ("pop3", 110, "starttls"),
    ]
    assert [s.port for s in setup.outgoing()] == [465, 587]
    assert setup.first("pop3") is not None and setup.first("pop3").port == 110
    setup.bound("imaps", 10993)  # configured 0 in tests: the port it was given
    assert setup.first("imap").port == 10993


def test_records_for_a_tls_portal_and_missing_listeners() -> None:
    setup = setup_of(imaps=Endpoint("0.0.0.0", 993), submissions=Endpoint("0.0.0.0", 465))
    assert setup.portal.origin == "https://mail.example.org"  # public_url "": https://hostname
    records = {(r.name, r.type): r for r in discovery_records(setup, "example.org")}
    assert records[("_imaps._tcp.example.org", "SRV")].value == "0 1 993 mail.example.org."
    assert records[("_imap._tcp.example.org", "SRV")].value == "0 0 0 ."
    assert records[("_imap._tcp.example.org", "SRV")].optional
    assert records[("_caldavs._tcp.example.org", "SRV")].value == "0 1 443 mail.example.org."
    assert records[("_carddavs._tcp.example.org", "TXT")].value == "path=/dav/"
    assert records[("_caldav._tcp.example.org", "SRV")].value == "0 0 0 ."
    assert records[("autodiscover.example.org", "CNAME")].value == "mail.example.org."


def test_profile_without_imap_falls_back_to_pop3_and_without_mail_has_dav_only() -> None:
    pop = setup_of(pop3s=Endpoint("0.0.0.0", 995), submission=Endpoint("0.0.0.0", 587))
    content = plistlib.loads(apple_profile(pop, "a@example.org", "A"))["PayloadContent"]
    mail = next(p for p in content if p["PayloadType"] == "com.apple.mail.managed")
    assert (
        mail["EmailAccountType"] == "EmailTypePOP" and mail["IncomingMailServerPortNumber"] == 995
    )
    dav_only = plistlib.loads(apple_profile(setup_of(), "a@example.org", "A"))["PayloadContent"]
    assert {p["PayloadType"] for p in dav_only} == {
        "com.apple.caldav.account",
        "com.apple.carddav.account",
    }


def test_public_url_is_an_origin_or_refused() -> None:
    config = load(environ={"GROUPWARE_WEB_PUBLIC_URL": "https://groupware.example.org:8443/"})
    assert config.portal_url == "https://groupware.example.org:8443"
    assert ClientSetup(config).portal.dav_url == "https://groupware.example.org:8443/dav/"
    for bad in ("ftp://x", "https://x/path", "https://x?y", "example.org", "https://a b"):
        with pytest.raises(ConfigError, match="public_url"):
            load(environ={"GROUPWARE_WEB_PUBLIC_URL": bad})
