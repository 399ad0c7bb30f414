"""Parsing and normalising e-mail addresses and domain names, the directory's keys.

Everything is stored lower-case with the domain in IDNA (ASCII) form, so that lookups
from SMTP, IMAP logins and the web agree byte for byte.
"""

from __future__ import annotations

import re

from groupware.errors import InvalidInput

# \Z, not $: "$" also matches before a trailing newline, which would let "a\n" through.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
# RFC 5321 dot-atom local parts (quoted local parts are refused on purpose: no mail
# system users pick them, and they complicate every lookup).
_LOCALPART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
MAX_ADDRESS = 254


def normalize_domain(name: str) -> str:
    """Lower-case, IDNA-encode and check a domain name; raise InvalidInput if malformed."""
    text = name.strip().rstrip(".").lower()
    try:
        ascii_name = text.encode("idna").decode("ascii") if text else ""
    except UnicodeError:
        raise InvalidInput(f"not a valid domain name: {name!r}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise InvalidInput(f"not a valid domain name: {name!r}")
    if not any(ch.isalpha() for ch in labels[-1]):  # RFC 3696 §2: a TLD is not numeric
        raise InvalidInput(f"not a valid domain name: {name!r}")
    return ascii_name


def normalize_address(address: str) -> str:
    """Return localpart@domain normalised; raise InvalidInput naming the bad address."""
    text = address.strip()
    localpart, at, domain = text.rpartition("@")
    if not at or not localpart:
        raise InvalidInput(f"not a valid e-mail address: {address!r}")
    localpart = localpart.lower()
    if len(localpart) > 64 or not _LOCALPART.match(localpart):
        raise InvalidInput(f"not a valid e-mail address: {address!r}")
    result = f"{localpart}@{normalize_domain(domain)}"
    if len(result) > MAX_ADDRESS:
        raise InvalidInput(f"address too long: {address!r}")
    return result


def normalize_alias(address: str) -> str:
    """Like normalize_address, but "@domain" (a catch-all) is allowed too."""
    text = address.strip()
    if text.startswith("@"):
        return "@" + normalize_domain(text[1:])
    return normalize_address(text)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
