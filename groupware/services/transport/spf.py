"""SPF checks (RFC 7208) by pyspf, with every DNS lookup sent through our Resolver.

pyspf evaluates the record (mechanisms, macros, the 10-lookup and 2-void-lookup limits);
we only replace its `query.dns` per query object, so no module-global is patched.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

import dns.exception
import dns.name
import dns.reversename
import spf as pyspf

from groupware.services.transport.resolver import DNSTemporaryError, Resolver

log = logging.getLogger(__name__)

SPFResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
RESULTS: frozenset[str] = frozenset(
    ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
)
# RFC 7208 §4.6.4: a check SHOULD give up (temperror) after about 20 seconds overall.
CHECK_TIME_LIMIT = 20.0


@dataclass(frozen=True)
class SPFCheck:
    """The result for one identity: `identity` is "mailfrom" or "helo" (RFC 7208 §2.3-2.4)."""

    result: SPFResult
    domain: str
    identity: Literal["mailfrom", "helo"]
    explanation: str = ""


def check_spf(resolver: Resolver, *, client_ip: str, mail_from: str, helo: str) -> SPFCheck:
    """Check the MAIL FROM identity, or the HELO identity when the reverse-path is null.

    RFC 7208 §2.4: with a null reverse-path the check is of "postmaster@<HELO>". Never
    raises: anything pyspf cannot evaluate is a permerror.
    """
    helo = helo.strip().rstrip(".")
    identity: Literal["mailfrom", "helo"] = "mailfrom" if mail_from else "helo"
    domain = mail_from.rpartition("@")[2] if mail_from else helo
    domain = domain.strip().rstrip(".").lower()
    if not domain or domain.startswith("[") or _is_ip(domain):
        # An address literal as HELO or a domain-less sender has no SPF record to ask for.
        return SPFCheck("none", domain, identity, "no domain to check")
    try:
        query = _Query(resolver, i=client_ip, s=mail_from, h=helo)
        result, _code, explanation = query.check()
    except Exception as error:  # pyspf raises bare errors on odd input; never let them out
        log.info("SPF check of %r from %s failed: %r", domain, client_ip, error)
        return SPFCheck("permerror", domain, identity, str(error)[:200])
    if result not in RESULTS:
        result = "permerror"
    return SPFCheck(cast(SPFResult, result), domain, identity, str(explanation)[:200])


class _Query(pyspf.query):  # type: ignore[misc]
    """A pyspf query whose DNS goes to our Resolver (dnspython), within a time budget."""

    def __init__(self, resolver: Resolver, *, i: str, s: str, h: str) -> None:
        super().__init__(i=i, s=s, h=h, strict=True)
        self._resolver = resolver
        self._deadline = time.monotonic() + CHECK_TIME_LIMIT

    # Same contract as pyspf's query.dns: a list of values (TXT as lists of byte strings),
    # cached per query; empty answers count as void lookups (RFC 7208 §4.6.4).
    def dns(
        self, name: Any, qtype: str, cnames: Any = None, ignore_void: bool = False
    ) -> list[Any]:
        name = str(name).rstrip(".").lower()
        if not name or not all(0 < len(label) < 64 for label in name.split(".")):
            return []
        cached: list[Any] = self.cache.get((name, qtype), [])
        if cached:
            return cached
        if time.monotonic() > self._deadline:
            raise pyspf.TempError("DNS: SPF check took too long")
        try:
            result = self._lookup(name, qtype)
        except DNSTemporaryError as error:
            raise pyspf.TempError(f"DNS: {error}") from error
        if result:
            self.cache[(name, qtype)] = result
        elif not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > pyspf.MAX_VOID_LOOKUPS:
                raise pyspf.PermError(f"Void lookup limit of {pyspf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def _lookup(self, name: str, qtype: str) -> list[Any]:
        resolver = self._resolver
        if qtype == "TXT":
            return [[value] for value in resolver.txt_bytes(name)]
        if qtype == "A":
            return list(resolver.a(name))
        if qtype == "AAAA":
            return list(resolver.aaaa(name))
        if qtype == "MX":
            return [pair for pair in resolver.mx(name) if pair[1] != "."]
        if qtype == "PTR":
            try:
                address = dns.reversename.to_address(dns.name.from_text(name + "."))
            except (dns.exception.DNSException, ValueError):
                return []
            return list(resolver.ptr(address))
        return []  # the SPF RR type (99) is obsolete: RFC 7208 §3.1


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
