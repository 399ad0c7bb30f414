"""Devices set themselves up: Thunderbird's autoconfig file, Outlook's Autodiscover, the
Apple profile (plain and through a one-time link with an app password that then logs in
over IMAP), its CMS signature with a CA-issued certificate (checked by openssl), and
Settings → Devices; each read by a real parser as a client would.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import imaplib
import logging
import plistlib
import re
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import caldav
import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from groupware import runtime as runtime_module
from groupware.config import Config, Endpoint
from groupware.services.core.access import SYSTEM
from groupware.services.devices.records import discovery_records
from groupware.services.transport.dkimkeys import DnsRecord
from harness.dnsserver import DNSServer
from harness.serverprocess import free_port
from tests.conftest import ADMIN_PASSWORD, Served, serving, with_listeners
from tests.integration.test_cli import Groupware, write_config
from tests.integration.test_web import Browser

PASSWORD = "Device-pass-123"
ALICE = "alice@example.test"
MAIL_LISTENERS = ("imaps", "imap", "pop3s", "pop3", "submissions", "submission")
AUTODISCOVER_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
    'requestschema/2006"><Request><EMailAddress>{address}</EMailAddress>'
    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
    "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
)


def serve_devices(config: Config) -> Iterator[Served]:
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    names = dict.fromkeys(("smtp", *MAIL_LISTENERS), "on")
    if config.listen.http is None:
        names["http"] = "on"
    with serving(with_listeners(config, **names)) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD, display_name="Alice Liddell")
        yield served


@pytest.fixture
def server(config: Config) -> Iterator[Served]:
    yield from serve_devices(config)


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body bytes) of one request without cookies."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def logged_in(served: Served) -> Browser:
    browser = Browser(served.base_url)
    assert browser.log_in(ALICE, PASSWORD)[0] == 200
    return browser


def download(browser: Browser, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with browser.opener.open(browser.base + path, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- Thunderbird --------------------------------------------------------------------------


def test_thunderbird_autoconfig_lists_every_listener_best_first(server: Served) -> None:
    ports = server.ports
    status, headers, body = fetch(
        server.base_url + f"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={ALICE}"
    )
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None and provider.findtext("domain") == "example.test"
    servers = provider.findall("incomingServer") + provider.findall("outgoingServer")
    for node in servers:  # the fields Thunderbird's reader requires of each
        for field in ("hostname", "port", "socketType", "authentication", "username"):
            assert node.findtext(field), (node.get("type"), field)
        assert node.findtext("hostname") == "mail.example.test"
        assert node.findtext("username") == "%EMAILADDRESS%"
    listed = [
        (n.get("type"), int(n.findtext("port") or 0), n.findtext("socketType")) for n in servers
    ]
    assert listed == [
        ("imap", ports["imaps"], "SSL"),
        ("imap", ports["imap"], "STARTTLS"),
        ("pop3", ports["pop3s"], "SSL"),
        ("pop3", ports["pop3"], "STARTTLS"),
        ("smtp", ports["submissions"], "SSL"),
        ("smtp", ports["submission"], "STARTTLS"),
    ]
    assert ports["smtp"] not in {port for _, port, _ in listed}  # the MX port is not for apps
    for element, kind in (("addressBook", "carddav"), ("calendar", "caldav")):
        dav = root.find(element)
        assert dav is not None and dav.get("type") == kind
        assert dav.findtext("serverURL") == "https://mail.example.test/dav/"
        assert dav.findtext("username") == "%EMAILADDRESS%"


def test_autoconfig_host_form_and_unknown_domains(server: Served) -> None:
    url = server.base_url + "/mail/config-v1.1.xml"
    status, _, body = fetch(url, headers={"Host": "autoconfig.example.test"})
    assert status == 200 and b"<domain>example.test</domain>" in body
    assert fetch(url + "?emailaddress=someone%40example.test")[0] == 200
    # Not hosted here: no answer pretending to be its provider.
    assert fetch(url, headers={"Host": "autoconfig.elsewhere.example"})[0] == 404
    assert fetch(url + "?emailaddress=a%40elsewhere.example")[0] == 404
    assert fetch(url)[0] == 404
    # The domain as we keep it, never as typed.
    status, _, body = fetch(url + "?emailaddress=x%40EXAMPLE.test.")
    assert status == 200 and b'<emailProvider id="example.test">' in body
    status, _, odd = fetch(url + "?emailaddress=x%40%0Bexample.test")  # a vertical tab
    assert status == 404 or odd == body


# -- Outlook ------------------------------------------------------------------------------


def autodiscover(served: Served, address: str, path: str = "/autodiscover/autodiscover.xml"):
    body = AUTODISCOVER_REQUEST.format(address=address).encode()
    return fetch(served.base_url + path, body, {"Content-Type": "text/xml"})


def test_outlook_autodiscover_answers_alike_for_known_and_unknown(server: Served) -> None:
    status, _, known = autodiscover(server, ALICE)
    assert status == 200
    ns = {
        "a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
        "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    }
    account = ET.fromstring(known).find("o:Response/o:Account", ns)
    assert account is not None and account.findtext("o:Action", namespaces=ns) == "settings"
    protocols = {p.findtext("o:Type", namespaces=ns): p for p in account.findall("o:Protocol", ns)}
    assert set(protocols) == {"IMAP", "POP3", "SMTP"}
    imap, smtp = protocols["IMAP"], protocols["SMTP"]
    assert imap.findtext("o:Port", namespaces=ns) == str(server.ports["imaps"])
    assert imap.findtext("o:Encryption", namespaces=ns) == "SSL"
    assert smtp.findtext("o:Port", namespaces=ns) == str(server.ports["submissions"])
    assert imap.findtext("o:LoginName", namespaces=ns) == ALICE
    assert imap.findtext("o:Server", namespaces=ns) == "mail.example.test"
    # An address nobody has gets the very same answer but for its name.
    status, _, unknown = autodiscover(
        server, "nobody@example.test", "/Autodiscover/Autodiscover.xml"
    )
    assert status == 200
    assert unknown.replace(b"nobody@example.test", ALICE.encode()) == known


def test_autodiscover_refuses_what_is_not_a_plain_request(server: Served) -> None:
    url = server.base_url + "/autodiscover/autodiscover.xml"
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx">'
        b'<!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;&x;&x;">]>'
        b"<Autodiscover><Request><EMailAddress>&y;@example.test</EMailAddress></Request></Autodiscover>"
    )
    for body in (
        bomb,
        b"<Autodiscover><Request><EMailAddress>",  # truncated
        b"<Autodiscover><Request></Request></Autodiscover>",  # no address
        b"<Autodiscover><Request><EMailAddress>not an address</EMailAddress></Request>",
        b"\xff\xfe garbage",
        # The same DTD in UTF-16 (with and without a byte-order mark): no "<!" bytes.
        bomb.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"),
        bomb.decode().replace('"1.0"?>', '"1.0" encoding="utf-16be"?>').encode("utf-16-be"),
        b'<?xml version="1.0" encoding="x-bogus"?><Autodiscover/>',  # unknown encoding
        b'<?xml version="1.0" encoding="rot13"?><Autodiscover/>',
        b"<a>" + b"x" * 200_000 + b"</a>",  # huge
    ):
        status, _, answer = fetch(url, body, {"Content-Type": "text/xml"})
        assert status == 400, body[:40]
        assert b"<ErrorCode>600</ErrorCode>" in answer
    assert fetch(url)[0] == 405  # a GET is no Autodiscover request


# -- Apple --------------------------------------------------------------------------------


def payloads(profile: bytes) -> dict[str, dict]:
    document = plistlib.loads(profile)
    assert document["PayloadType"] == "Configuration" and document["PayloadVersion"] == 1
    uuids = [document["PayloadUUID"]] + [p["PayloadUUID"] for p in document["PayloadContent"]]
    assert len(set(uuids)) == len(uuids) == 4
    identifiers = [p["PayloadIdentifier"] for p in document["PayloadContent"]]
    assert len(set(identifiers)) == 3
    return {p["PayloadType"]: p for p in document["PayloadContent"]}


def test_apple_profile_from_the_devices_page_has_no_password(server: Served) -> None:
    browser = logged_in(server)
    status, _, page = browser.request("/settings")
    assert 'href="/settings/devices"' in page
    status, _, page = browser.request("/settings/devices")
    assert status == 200
    match = re.search(r'<a[^>]*href="([^"]+)"[^>]*>([^<]*Apple[^<]*)</a>', page)
    assert match, "no link naming Apple"
    status, headers, body = download(browser, match.group(1))
    assert status == 200
    assert headers["Content-Type"] == "application/x-apple-aspen-config"
    assert headers["Content-Disposition"].startswith("attachment;")
    found = payloads(body)  # self-signed certificate: a plain, unsigned plist
    mail = found["com.apple.mail.managed"]
    assert mail["EmailAddress"] == ALICE and mail["EmailAccountName"] == "Alice Liddell"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["IncomingMailServerPortNumber"] == server.ports["imaps"]
    assert mail["OutgoingMailServerPortNumber"] == server.ports["submissions"]
    assert mail["IncomingMailServerUsername"] == ALICE
    caldav, carddav = found["com.apple.caldav.account"], found["com.apple.carddav.account"]
    assert caldav["CalDAVPrincipalURL"] == f"https://mail.example.test/dav/{ALICE}/"
    assert carddav["CardDAVHostName"] == "mail.example.test" and carddav["CardDAVUseSSL"]
    assert not [k for p in found.values() for k in p if k.endswith("Password")]
    # Server names and ports for other apps, with their security mode.
    assert f'<td data-label="Port">{server.ports["imap"]}</td>' in page
    assert "STARTTLS" in page and "SSL/TLS" in page


def make_link(browser: Browser, device: str, with_password: bool) -> str:
    token = browser.csrf("/settings/devices")
    form = {"csrf_token": token, "device": device}
    if with_password:
        form["with_password"] = "y"
    status, _, page = browser.request("/settings/devices/link", form)
    assert status == 200, page
    match = re.search(r'<a href="([^"]+)" id="profile-link">', page)
    assert match, page
    assert 'alt="QR code of the profile link for' in page
    return match.group(1)


def test_profile_link_brings_an_app_password_that_logs_in(server: Served) -> None:
    browser = logged_in(server)
    link = make_link(browser, "Alice's iPad", with_password=True)
    assert link.startswith("https://mail.example.test/devices/profile/")  # web.public_url's
    path = link.removeprefix("https://mail.example.test")
    request = urllib.request.Request(server.base_url + path, method="HEAD")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200  # a link preview does not use it up
    status, _, body = fetch(server.base_url + path)  # the phone: no session, no cookie
    assert status == 200
    found = payloads(body)
    mail = found["com.apple.mail.managed"]
    secret = mail["IncomingPassword"]
    assert mail["OutgoingPassword"] == secret
    assert found["com.apple.caldav.account"]["CalDAVPassword"] == secret
    assert found["com.apple.carddav.account"]["CardDAVPassword"] == secret
    assert secret != PASSWORD
    assert fetch(server.base_url + path)[0] == 404  # once only
    names = [a.name for a in server.services.credentials.app_passwords(SYSTEM, ALICE)]
    assert "Alice's iPad" in names
    # The device logs in with it, as Apple's Mail would.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=context) as imap:
        assert imap.login(ALICE, secret)[0] == "OK"
    # Revoked on the Devices page, it stops working at once.
    token = browser.csrf("/settings/devices")
    status, _, page = browser.request(
        "/account/app-passwords/revoke?back=devices", {"csrf_token": token, "name": "Alice's iPad"}
    )
    assert status == 200 and "<h1>Devices</h1>" in page and "Alice&#39;s iPad revoked" in page
    imaps = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=context)
    with imaps as imap, pytest.raises(imaplib.IMAP4.error):
        imap.login(ALICE, secret)


def test_profile_link_without_password_and_with_totp(server: Served) -> None:
    browser = logged_in(server)
    path = make_link(browser, "Mac", with_password=False).removeprefix("https://mail.example.test")
    status, _, body = fetch(server.base_url + path)
    assert status == 200
    assert not [k for p in payloads(body).values() for k in p if k.endswith("Password")]
    assert server.services.credentials.app_passwords(SYSTEM, ALICE) == []
    for bad in ("/devices/profile/nonsense", "/devices/profile/" + "x" * 500):
        assert fetch(server.base_url + bad)[0] == 404
    # With two-factor login on, the account password would not work in the apps: the
    # profile always brings an app password, and the plain download is not offered.
    import pyotp

    alice = server.services.auth.principal(server.services.directory.get_user(SYSTEM, ALICE).id)
    assert alice is not None
    enrolment = server.services.credentials.begin_totp(alice)
    server.services.credentials.confirm_totp(
        alice, enrolment.secret, pyotp.TOTP(enrolment.secret).now()
    )
    _, _, page = browser.request("/settings/devices")
    assert "Download the profile for Apple devices" not in page
    status, _, page = browser.request("/settings/devices/apple.mobileconfig")
    assert "needs an app password" in page
    path = make_link(browser, "Work phone", with_password=False).removeprefix(
        "https://mail.example.test"
    )
    mail = payloads(fetch(server.base_url + path)[2])["com.apple.mail.managed"]
    assert mail["IncomingPassword"]


def test_open_links_are_listed_cancelled_ended_by_a_password_change_and_not_logged(
    server: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="groupware.web.access")
    browser = logged_in(server)
    first = make_link(browser, "Phone", with_password=True).removeprefix(
        "https://mail.example.test"
    )
    second = make_link(browser, "Tablet", with_password=True).removeprefix(
        "https://mail.example.test"
    )
    _, _, page = browser.request("/settings/devices")
    assert page.count('aria-label="Cancel the link for') == 2
    link_id = re.search(r"/settings/devices/links/(\d+)/cancel", page)
    assert link_id
    token = browser.csrf("/settings/devices")
    browser.request(f"/settings/devices/links/{link_id.group(1)}/cancel", {"csrf_token": token})
    assert fetch(server.base_url + first)[0] == 404  # cancelled
    # Someone else's link is "not found" to Alice.
    services = server.services
    services.directory.add_user(SYSTEM, "bob@example.test", PASSWORD)
    bob = services.auth.principal(services.directory.get_user(SYSTEM, "bob@example.test").id)
    assert bob is not None
    bobs = services.device_tickets.issue(bob, "Bob's phone", False)
    bobs_id = services.device_tickets.open_links(bob)[0].id
    status, _, page = browser.request(
        f"/settings/devices/links/{bobs_id}/cancel", {"csrf_token": token}
    )
    assert "no such profile link" in page
    assert fetch(server.base_url + f"/devices/profile/{bobs}")[0] == 200
    # A password change (here an admin's reset) ends the links not used yet.
    services.directory.set_password(SYSTEM, ALICE, "Another-pass-123")
    assert fetch(server.base_url + second)[0] == 404
    assert services.credentials.app_passwords(SYSTEM, ALICE) == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "/devices/profile/(secret)" in logged
    assert second.rsplit("/", 1)[1] not in logged and bobs not in logged


def test_of_many_uses_of_one_link_at_once_one_wins(server: Served) -> None:
    browser = logged_in(server)
    path = make_link(browser, "Raced", with_password=True).removeprefix("https://mail.example.test")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: fetch(server.base_url + path)[0], range(8)))
    assert sorted(statuses) == [200] + [404] * 7
    assert [a.name for a in server.services.credentials.app_passwords(SYSTEM, ALICE)] == ["Raced"]


def test_any_app_password_name_can_be_revoked_and_bad_device_names_are_refused(
    server: Served,
) -> None:
    services = server.services
    for name in ("Work/Home iPad", "..", "a%2Fb"):
        services.credentials.add_app_password(SYSTEM, ALICE, name)
    browser = logged_in(server)
    for name in ("Work/Home iPad", "..", "a%2Fb"):
        token = browser.csrf("/settings/devices")
        status, _, page = browser.request(
            "/account/app-passwords/revoke?back=devices", {"csrf_token": token, "name": name}
        )
        assert status == 200 and "revoked" in page, name
    assert services.credentials.app_passwords(SYSTEM, ALICE) == []
    token = browser.csrf("/settings/devices")
    for bad in ("ctl\x01", "x" * 101):
        _, _, page = browser.request(
            "/settings/devices/link", {"csrf_token": token, "device": bad, "with_password": "y"}
        )
        assert 'id="profile-link"' not in page, bad
    assert (
        services.device_tickets.open_links(
            services.auth.principal(services.directory.get_user(SYSTEM, ALICE).id)  # type: ignore[arg-type]
        )
        == []
    )


def test_device_links_need_a_name_and_a_fresh_password(server: Served) -> None:
    browser = logged_in(server)
    token = browser.csrf("/settings/devices")
    status, _, page = browser.request("/settings/devices/link", {"csrf_token": token, "device": ""})
    assert "Name the device" in page
    status, _, page = browser.request("/settings/devices/link", {"device": "x"})
    assert status == 400  # no CSRF token
    services = server.services
    alice = services.auth.principal(services.directory.get_user(SYSTEM, ALICE).id)
    assert alice is not None
    for n in range(5):
        services.device_tickets.issue(alice, f"phone {n}", False)
    status, _, page = browser.request(
        "/settings/devices/link", {"csrf_token": token, "device": "one more"}
    )
    assert "5 profile links are open" in page


# -- signing ------------------------------------------------------------------------------


def ca_issued_pair(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it issued: (CA file, chain file, key file)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("mail.example.test")]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "ca.pem", folder / "chain.pem", folder / "key.pem"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_profile_is_signed_with_a_ca_issued_certificate(config: Config, tmp_path: Path) -> None:
    ca, chain, key = ca_issued_pair(tmp_path / "pki")
    config = dataclasses.replace(config, tls=dataclasses.replace(config.tls, cert=chain, key=key))
    for served in serve_devices(config):
        browser = logged_in(served)
        status, headers, body = download(browser, "/settings/devices/apple.mobileconfig")
        assert status == 200 and not body.startswith(b"<?xml")
        signed = tmp_path / "profile.der"
        signed.write_bytes(body)
        checked = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                str(signed),
                "-CAfile",
                str(ca),
                "-purpose",
                "any",
            ],
            capture_output=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        assert b"Verification successful" in checked.stderr
        assert payloads(checked.stdout)["com.apple.mail.managed"]["EmailAddress"] == ALICE


# -- DNS ----------------------------------------------------------------------------------


def publish(dns_server: DNSServer, records: list[DnsRecord]) -> None:
    for record in records:
        dns_server.set(record.name, record.type, [record.value])


def test_caldav_library_finds_the_principal_from_srv_and_txt(
    config: Config, test_dns: DNSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `caldav` library, given only an address and a password, asks DNS for
    _caldav._tcp (SRV: host and port; TXT: path) and reaches the user's principal."""
    port = free_port()
    config = dataclasses.replace(
        config,
        listen=dataclasses.replace(config.listen, http=Endpoint("127.0.0.1", port)),
        # No TLS proxy in a test: the portal is plain HTTP, so _caldav._tcp is published.
        web=dataclasses.replace(config.web, public_url=f"http://mail.example.test:{port}"),
    )
    for served in serve_devices(config):
        records = discovery_records(served.services.client_setup, "example.test")
        names = {r.name for r in records if r.type == "TXT"}
        assert names == {"_caldav._tcp.example.test", "_carddav._tcp.example.test"}
        publish(test_dns, records)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], test_dns.port
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver)

        # The SRV target's own address comes from the system resolver, which a test does
        # not own: mail.example.test is this machine.
        def getaddrinfo(
            host: object, *args: object, real=socket.getaddrinfo, **kwargs: object
        ) -> object:
            return real("127.0.0.1" if host == "mail.example.test" else host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        client = caldav.DAVClient(username=ALICE, password=PASSWORD, require_tls=False)
        assert str(client.url) == f"http://mail.example.test:{port}/dav/"
        principal = client.principal()
        assert str(principal.url).endswith(f"/dav/{ALICE}/")
        assert any(c.url.path.endswith("/calendar/") for c in principal.calendars())


def test_dns_prints_the_discovery_records_and_checks_them(
    tmp_path: Path, database_url: str, test_dns: DNSServer
) -> None:
    domain = f"d{uuid.uuid4().hex[:8]}.example"
    listen = (
        "".join(
            f'{name} = "0.0.0.0:{port}"\n'
            for name, port in (
                ("smtp", 25),
                ("imaps", 993),
                ("imap", 143),
                ("pop3s", 995),
                ("submissions", 465),
                ("submission", 587),
            )
        )
        + 'http = "127.0.0.1:8080"\n'
    )
    extra = f'[outbound]\nnameservers = "{test_dns.address}"\n'
    gw = Groupware(write_config(tmp_path, database_url, extra=extra, listen=listen))
    gw.ok("init", "--admin-password", ADMIN_PASSWORD)
    gw.ok("domain", "add", domain)
    printed = gw.ok("dns", domain)
    for line in (
        f"_imaps._tcp.{domain}. IN SRV 0 1 993 mail.example.test.",
        f"_imap._tcp.{domain}. IN SRV 10 1 143 mail.example.test.",
        f"_pop3s._tcp.{domain}. IN SRV 20 1 995 mail.example.test.",
        f"_pop3._tcp.{domain}. IN SRV 0 0 0 .",  # not listening: decidedly not offered
        f"_submissions._tcp.{domain}. IN SRV 0 1 465 mail.example.test.",
        f"_submission._tcp.{domain}. IN SRV 10 1 587 mail.example.test.",
        f"_caldavs._tcp.{domain}. IN SRV 0 1 443 mail.example.test.",
        f'_caldavs._tcp.{domain}. IN TXT "path=/dav/"',
        f'_carddavs._tcp.{domain}. IN TXT "path=/dav/"',
        f"_caldav._tcp.{domain}. IN SRV 0 0 0 .",
        f"_autodiscover._tcp.{domain}. IN SRV 0 1 443 mail.example.test.",
        f"autoconfig.{domain}. IN CNAME mail.example.test.",
        f"autodiscover.{domain}. IN CNAME mail.example.test.",
        f"{domain}. IN MX 10 mail.example.test.",
    ):
        assert line in printed.splitlines(), line
    zone = [line.split(" IN ") for line in printed.splitlines() if " IN " in line]

    result = gw.run("dns", domain, "--check")  # nothing published yet
    assert result.code == 1 and "missing, wrong or unanswered" in result.err
    states = {line.split()[1]: line.split()[0] for line in result.out.splitlines()}
    assert states[f"_imaps._tcp.{domain}."] == "MISSING"
    assert states[f"_pop3._tcp.{domain}."] == "ABSENT"  # optional

    for name, rest in zone:
        rdtype, _, value = rest.partition(" ")
        if rdtype == "TXT":  # as the zone file quotes it: one string, or 250-octet pieces
            value = "".join(re.findall(r'"([^"]*)"', value))
        test_dns.set(name, rdtype, [value])
    result = gw.run("dns", domain, "--check")
    assert result.code == 0, result
    assert f"all {len(zone)} records are published" in result.out

    # A wrong port, an autoconfig name on another address, a stale DKIM key.
    test_dns.set(f"_imaps._tcp.{domain}", "SRV", ["0 1 994 mail.example.test."])
    test_dns.zone.pop((f"autoconfig.{domain}", "CNAME"))
    test_dns.set(f"autoconfig.{domain}", "A", ["192.0.2.7"])
    test_dns.set("mail.example.test", "A", ["192.0.2.1"])
    selector = next(name for name, rest in zone if "._domainkey." in name)
    test_dns.set(selector.rstrip("."), "TXT", ["v=DKIM1; k=rsa; p=AAAA"])
    result = gw.run("dns", domain, "--check")
    assert result.code == 1
    wrong = [line for line in result.out.splitlines() if line.startswith("WRONG")]
    assert len(wrong) == 3, result.out
    assert any("(found: 0 1 994 mail.example.test)" in line for line in wrong)
    assert any("(found: addresses 192.0.2.7)" in line for line in wrong)
    # The host's own address on the autoconfig name is as good as the CNAME.
    test_dns.set(f"autoconfig.{domain}", "A", ["192.0.2.1"])
    result = gw.run("dns", domain, "--check")
    assert sum(line.startswith("WRONG") for line in result.out.splitlines()) == 2
    # A resolver that does not answer: the first question waits out its timeout, and the
    # others are not asked.
    test_dns.silent.add(domain)
    asked_before = len(test_dns.queries)
    result = gw.run("dns", domain, "--check")
    test_dns.silent.discard(domain)
    assert result.code == 1 and "unanswered" in result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("UNANSWERED") and "(no answer: DNS timeout" in lines[0]
    assert all(line.startswith("UNANSWERED") for line in lines)
    assert {name for name, _ in test_dns.queries[asked_before:]} == {domain}
    for key in [k for k in test_dns.zone if domain in k[0] or k[0] == "mail.example.test"]:
        test_dns.zone.pop(key)
