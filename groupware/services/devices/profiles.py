"""Apple configuration profiles (.mobileconfig): one download that sets up mail (IMAP and
SMTP), calendars (CalDAV) and contacts (CardDAV) on an iPhone, iPad or Mac.

Payload keys as Apple's Device Management reference names them (com.apple.mail.managed,
com.apple.caldav.account, com.apple.carddav.account). A profile carries no password
unless it is given an app password; without one, the device asks while installing. It
is signed (CMS, the certificate chain included) when the server's certificate is issued
by a CA, so the device shows it as verified; a self-signed one would only make it look
worse than unsigned.
"""

from __future__ import annotations

import hashlib
import plistlib
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from groupware.services.devices.setup import ClientSetup, Server

MIME_TYPE = "application/x-apple-aspen-config"


def apple_profile(
    setup: ClientSetup, address: str, name: str, password: str | None = None
) -> bytes:
    """The profile for `address` (display name `name`) as plist XML."""
    # Stable per account: installing a newer profile replaces the older one.
    identifier = ".".join(reversed(setup.hostname.split("."))) + ".account." + _key(address)
    payloads: list[dict[str, Any]] = []
    mail = _mail_payload(setup, address, name, password, identifier)
    if mail is not None:
        payloads.append(mail)
    portal = setup.portal
    for kind, what, title in (
        ("CalDAV", "caldav", "Calendars"),
        ("CardDAV", "carddav", "Contacts"),
    ):
        payload = {
            f"{kind}AccountDescription": f"{address} ({title})",
            f"{kind}HostName": portal.host,
            f"{kind}Port": portal.port,
            f"{kind}UseSSL": portal.tls,
            f"{kind}PrincipalURL": portal.principal_url(address),
            f"{kind}Username": address,
        }
        if password is not None:
            payload[f"{kind}Password"] = password
        payloads.append(
            _payload(payload, f"com.apple.{what}.account", f"{identifier}.{what}", title)
        )
    profile = {
        "PayloadContent": payloads,
        "PayloadDisplayName": f"{address} on {setup.hostname}",
        "PayloadDescription": f"Mail, calendars and contacts of {address}.",
        "PayloadIdentifier": identifier,
        "PayloadOrganization": setup.hostname,
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def _mail_payload(
    setup: ClientSetup, address: str, name: str, password: str | None, identifier: str
) -> dict[str, Any] | None:
    incoming = setup.first("imap") or setup.first("pop3")
    outgoing = setup.first("smtp")
    if incoming is None or outgoing is None:
        return None
    payload: dict[str, Any] = {
        "EmailAccountDescription": address,
        "EmailAccountName": name or address,
        "EmailAccountType": "EmailTypeIMAP" if incoming.protocol == "imap" else "EmailTypePOP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerUsername": address,
        **_server("Incoming", incoming),
        **_server("Outgoing", outgoing),
    }
    if password is not None:
        payload["IncomingPassword"] = password
        payload["OutgoingPassword"] = password
    return _payload(payload, "com.apple.mail.managed", f"{identifier}.mail", "Mail")


def _server(direction: str, server: Server) -> dict[str, Any]:
    # UseSSL on a STARTTLS port (143, 587) makes Apple's Mail upgrade with STARTTLS.
    return {
        f"{direction}MailServerHostName": server.host,
        f"{direction}MailServerPortNumber": server.port,
        f"{direction}MailServerUseSSL": True,
    }


def _payload(body: dict[str, Any], kind: str, identifier: str, title: str) -> dict[str, Any]:
    return {
        **body,
        "PayloadType": kind,
        "PayloadIdentifier": identifier,
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadVersion": 1,
        "PayloadDisplayName": title,
    }


def _key(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def packaged(setup: ClientSetup, profile: bytes) -> bytes:
    """The profile as served: signed when the server's certificate can sign it."""
    signed = sign(profile, *setup.signing_pair)
    return profile if signed is None else signed


def sign(profile: bytes, cert_path: Path, key_path: Path) -> bytes | None:
    """`profile` in a CMS signature by the server's certificate (DER), or None when that
    certificate is self-signed, unreadable, or its key is of a kind CMS here cannot use."""
    try:
        chain = x509.load_pem_x509_certificates(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    leaf = chain[0]
    if leaf.issuer == leaf.subject or not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ):
        return None
    builder = pkcs7.PKCS7SignatureBuilder().set_data(profile).add_signer(leaf, key, hashes.SHA256())
    for intermediate in chain[1:]:
        builder = builder.add_certificate(intermediate)
    return builder.sign(serialization.Encoding.DER, [])
