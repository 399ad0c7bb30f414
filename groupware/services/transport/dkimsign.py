"""DKIM keys and signing of outgoing mail (RFC 6376, RFC 8301), by dkimpy.

To sign more header fields, add them to SIGNED_HEADERS; to rotate, publish a new key
under a new selector and start signing with it (keys are plain PEM bytes held by callers).
"""

from __future__ import annotations

import base64
import re

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from groupware.errors import InvalidInput

KEY_BITS = 2048  # RFC 8301 §3.2: verifiers must accept 1024-4096; 2048 is the common choice

# RFC 6376 §5.4.1's recommended set, restricted to fields a message may carry; From is
# signed once more than it occurs so a second From cannot be added (RFC 6376 §8.15).
SIGNED_HEADERS = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "in-reply-to",
    "references",
)

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
_DOMAIN = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}$")


def generate_key() -> tuple[bytes, str]:
    """A new RSA key: (private key as PKCS#1 PEM, the TXT value to publish at the selector).

    The TXT value is "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" (RFC 6376 §3.6.1);
    it is longer than 255 octets, so publish it as several strings of one TXT record.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode("ascii")


def sign(message: bytes, domain: str, selector: str, private_pem: bytes) -> bytes:
    """The "DKIM-Signature: ..." field (folded, ending in CRLF) to put on top of `message`.

    relaxed/relaxed canonicalisation, rsa-sha256; signs the SIGNED_HEADERS fields the
    message has, plus one extra From. Raises InvalidInput for a bad key, domain, selector or
    a message without From (RFC 6376 §5.4: From must be signed).
    """
    if not _DOMAIN.match(domain) or not _SELECTOR.match(selector):
        raise InvalidInput(f"bad DKIM domain or selector: {domain!r} {selector!r}")
    present = {name.lower() for name in _FIELD_NAME.findall(_header_block(message))}
    if b"from" not in present:
        raise InvalidInput("a message without From cannot be DKIM-signed")
    include = [name.encode() for name in SIGNED_HEADERS if name.encode() in present]
    include.append(b"from")
    try:
        signature: bytes = dkim.sign(
            message,
            selector.encode("ascii"),
            domain.lower().encode("ascii"),
            private_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=include,
        )
    except (dkim.DKIMException, ValueError) as error:
        raise InvalidInput(f"cannot DKIM-sign: {error}") from error
    return signature


def _header_block(message: bytes) -> bytes:
    """The header section: everything before the first empty line."""
    match = re.search(rb"\r?\n\r?\n", message)
    return message[: match.start() + 1] if match else message
