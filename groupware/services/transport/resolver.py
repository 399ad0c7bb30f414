"""The one DNS resolver: dnspython behind plain-data lookups, with bounded timeouts.

Add a record type as a method returning plain values; give third-party libraries our
lookups through an adapter (DKIMKeyLookup here, spf.py's query) so tests own all DNS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import dkim
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

from groupware.errors import TryLater, Unavailable

# A whole lookup (all servers, retries, TCP fallback) gives up after this many seconds.
DEFAULT_LIFETIME = 5.0
# One try against one server; dnspython then moves to the next server or retries.
DEFAULT_TIMEOUT = 2.0
# Payload size advertised with EDNS0 (the DNS flag day 2020 value).
EDNS_PAYLOAD = 1232

# Names that cannot be sent as a query at all: answered like a name that does not exist.
_BAD_NAME = (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel, UnicodeError)


class DNSTemporaryError(TryLater):
    """A lookup timed out or every server failed (SERVFAIL, REFUSED): try again later."""


class Resolver:
    """Answers A, AAAA, MX, TXT, SRV, CNAME and PTR questions as lists of strings.

    `Resolver()` reads the system configuration (/etc/resolv.conf); `Resolver(["127.0.0.1:5353"])`
    asks only the listed servers ("host", "host:port" or "[v6]:port"). A name that does not
    exist or has no records of the type gives []; a failure that may pass raises
    DNSTemporaryError. Safe to share between threads (dnspython's resolver and cache are).
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        lifetime: float = DEFAULT_LIFETIME,
        timeout: float = DEFAULT_TIMEOUT,
        cache: bool = True,
    ) -> None:
        try:
            resolver = dns.resolver.Resolver(configure=nameservers is None)
        except dns.resolver.NoResolverConfiguration as error:
            raise Unavailable(f"no DNS resolver configuration: {error}") from error
        if nameservers is not None:
            if not nameservers:
                raise Unavailable("no DNS nameservers given")
            resolver.nameservers = [_nameserver(text) for text in nameservers]
        resolver.lifetime = lifetime
        resolver.timeout = min(timeout, lifetime)
        resolver.use_edns(0, 0, EDNS_PAYLOAD)
        if cache:
            resolver.cache = dns.resolver.LRUCache(4096)
        self._resolver = resolver
        self.lifetime = lifetime

    def txt(self, name: str) -> list[str]:
        """Each TXT record's strings joined (RFC 7208 §3.3), decoded as UTF-8."""
        return [value.decode("utf-8", "replace") for value in self.txt_bytes(name)]

    def txt_bytes(self, name: str) -> list[bytes]:
        """Each TXT record's strings joined, undecoded (SPF and DKIM want the bytes)."""
        return [b"".join(rdata.strings) for rdata in self._rdatas(name, "TXT")]

    def mx(self, domain: str) -> list[tuple[int, str]]:
        """(preference, exchange) by preference; a null MX (RFC 7505) comes back as (0, ".")."""
        records = [
            (int(rdata.preference), _host(rdata.exchange)) for rdata in self._rdatas(domain, "MX")
        ]
        return sorted(records)

    def a(self, name: str) -> list[str]:
        return [str(rdata.address) for rdata in self._rdatas(name, "A")]

    def aaaa(self, name: str) -> list[str]:
        return [str(rdata.address) for rdata in self._rdatas(name, "AAAA")]

    def addresses(self, name: str) -> list[str]:
        """IPv4 then IPv6 addresses of a name."""
        return self.a(name) + self.aaaa(name)

    def srv(self, name: str) -> list[tuple[int, int, int, str]]:
        """(priority, weight, port, target) by priority; a "." target (RFC 2782: the
        service is not offered here) comes back as "."."""
        return sorted(
            (int(r.priority), int(r.weight), int(r.port), _host(r.target))
            for r in self._rdatas(name, "SRV")
        )

    def cname(self, name: str) -> list[str]:
        """The name an alias points to ([] when `name` is no alias)."""
        return [_host(rdata.target) for rdata in self._rdatas(name, "CNAME")]

    def ptr(self, ip: str) -> list[str]:
        """Names an address points back to; [] for text that is not an IP address."""
        try:
            reverse = dns.reversename.from_address(ip)
        except (ValueError, dns.exception.SyntaxError):
            return []
        return [_host(rdata.target) for rdata in self._rdatas(reverse, "PTR")]

    def _rdatas(self, name: str | dns.name.Name, rdtype: str) -> list[Any]:
        """The records of one type at a name, CNAMEs followed; [] when there are none."""
        try:
            qname = name if isinstance(name, dns.name.Name) else dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError, ValueError):
            return []  # not a name at all (bad escape, IDNA refuses it, label too long)
        try:
            answer = self._resolver.resolve(
                qname, dns.rdatatype.from_text(rdtype), search=False, raise_on_no_answer=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.YXDOMAIN, dns.resolver.NoAnswer):
            return []
        except _BAD_NAME:
            return []
        except dns.resolver.LifetimeTimeout as error:
            raise DNSTemporaryError(f"DNS timeout for {qname} {rdtype}") from error
        except dns.resolver.NoNameservers as error:
            raise DNSTemporaryError(f"DNS servers failed for {qname} {rdtype}") from error
        except dns.exception.DNSException as error:
            raise DNSTemporaryError(f"DNS error for {qname} {rdtype}: {error}") from error
        return list(answer.rrset) if answer.rrset is not None else []


class DKIMKeyLookup:
    """dkimpy's `dnsfunc` on our Resolver, for one signature: the key record's TXT or None.

    dkimpy reports a DNS failure or a missing key as a mere invalid signature; `temporary`
    and `missing` let the caller tell temperror and permerror from fail (RFC 8601 §2.7.1).
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.asked = self.missing = self.temporary = False

    def __call__(self, name: bytes, timeout: float = DEFAULT_LIFETIME) -> bytes | None:
        self.asked = True
        try:
            records = self.resolver.txt_bytes(name.decode("ascii"))
        except UnicodeDecodeError:
            records = []
        except DNSTemporaryError as error:
            self.temporary = True
            raise dkim.DnsTimeoutError(str(error)) from error
        self.missing = not records
        return records[0] if records else None


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """ "host", "host:port", "[v6]" or "[v6]:port" → a plain-DNS nameserver (UDP, TCP fallback)."""
    host, port = text.strip(), 53
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            port = int(rest[1:]) if rest[:1] == ":" and rest[1:].isdigit() else -1
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        port = int(port_text) if port_text.isdigit() else -1
    try:
        ipaddress.ip_address(host)
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError as error:
        raise Unavailable(f"DNS nameserver must be an IP address: {text!r}") from error
    return dns.nameserver.Do53Nameserver(host, port)


def _host(name: dns.name.Name) -> str:
    """A name as text without the final dot; the root (null MX target) stays "."."""
    if name == dns.name.root:
        return "."
    return str(name.to_text(omit_final_dot=True))
