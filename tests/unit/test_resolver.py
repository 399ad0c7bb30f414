"""The Resolver against a real DNS server on loopback (harness/dnsserver.py): no mocked DNS.

Plain-data answers per record type, empty lists for names without records, and
DNSTemporaryError (a TryLater) for SERVFAIL and timeouts within the configured lifetime.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import TryLater, Unavailable
from groupware.services.transport.resolver import DKIMKeyLookup, DNSTemporaryError, Resolver
from harness.dnsserver import DNSServer

LONG = "v=DKIM1; k=rsa; p=" + "A" * 600  # several 255-octet strings in one record

ZONE = {
    ("example.test", "MX"): ["20 mx2.example.test.", "10 mx1.example.test."],
    ("example.test", "TXT"): ["v=spf1 -all", "other"],
    ("long.example.test", "TXT"): [LONG],
    ("many.example.test", "TXT"): [f"{n}-" + "x" * 300 for n in range(6)],
    ("mx1.example.test", "A"): ["192.0.2.1"],
    ("mx1.example.test", "AAAA"): ["2001:db8::1"],
    ("alias.example.test", "CNAME"): ["mx1.example.test."],
    ("nullmx.test", "MX"): ["0 ."],
    ("1.2.0.192.in-addr.arpa", "PTR"): ["mx1.example.test."],
    (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        "PTR",
    ): ["mx1.example.test."],
}


@pytest.fixture(scope="module")
def server() -> Iterator[DNSServer]:
    with DNSServer(ZONE) as dns:
        dns.servfail.add("broken.test")
        dns.silent.add("slow.test")
        yield dns


@pytest.fixture
def resolver(server: DNSServer) -> Resolver:
    return Resolver([server.address], lifetime=1.0)


def test_txt_joins_the_strings_of_each_record(resolver: Resolver) -> None:
    assert sorted(resolver.txt("example.test")) == ["other", "v=spf1 -all"]
    assert resolver.txt("long.example.test") == [LONG]
    assert resolver.txt_bytes("long.example.test") == [LONG.encode()]


def test_large_answers_come_over_tcp(resolver: Resolver) -> None:
    # 6 x 300 octets exceed the 1232-octet EDNS payload: the server truncates, dnspython retries.
    assert len(resolver.txt("many.example.test")) == 6


def test_mx_sorted_by_preference_and_null_mx_kept(resolver: Resolver) -> None:
    assert resolver.mx("example.test") == [(10, "mx1.example.test"), (20, "mx2.example.test")]
    assert resolver.mx("nullmx.test") == [(0, ".")]  # RFC 7505: the caller sees it as such


def test_addresses_ipv4_then_ipv6_through_cname(resolver: Resolver) -> None:
    assert resolver.addresses("mx1.example.test") == ["192.0.2.1", "2001:db8::1"]
    assert resolver.addresses("alias.example.test") == ["192.0.2.1", "2001:db8::1"]
    assert resolver.a("mx1.example.test") == ["192.0.2.1"]
    assert resolver.aaaa("mx1.example.test") == ["2001:db8::1"]


def test_ptr(resolver: Resolver) -> None:
    assert resolver.ptr("192.0.2.1") == ["mx1.example.test"]
    assert resolver.ptr("2001:db8::1") == ["mx1.example.test"]
    assert resolver.ptr("not an address") == []


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("missing.example.test", "NXDOMAIN"),
        ("mx1.example.test", "no TXT at an existing name"),
        ("a..b", "empty label"),
        ("x" * 64 + ".test", "label too long"),
        ("", "empty name"),
    ],
)
def test_no_records_is_an_empty_list(resolver: Resolver, name: str, why: str) -> None:
    assert resolver.txt(name) == [], why


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_any_text_as_a_name_gives_a_list(server: DNSServer, name: str) -> None:
    resolver = Resolver([server.address], lifetime=1.0)
    assert resolver.txt(name) == []
    assert resolver.mx(name) == []
    assert resolver.ptr(name) == []


def test_servfail_is_temporary(resolver: Resolver) -> None:
    with pytest.raises(DNSTemporaryError) as caught:
        resolver.txt("broken.test")
    assert isinstance(caught.value, TryLater)


def test_timeout_is_temporary_and_bounded(server: DNSServer) -> None:
    resolver = Resolver([server.address], lifetime=0.5, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(DNSTemporaryError):
        resolver.mx("slow.test")
    assert time.monotonic() - started < 2.0


def test_answers_are_cached(server: DNSServer) -> None:
    resolver = Resolver([server.address])
    resolver.mx("example.test")
    asked = len(server.queries)
    assert resolver.mx("example.test") == [(10, "mx1.example.test"), (20, "mx2.example.test")]
    assert len(server.queries) == asked


def test_dkim_adapter_returns_the_first_record_and_remembers_why_not(resolver: Resolver) -> None:
    found = DKIMKeyLookup(resolver)
    assert found(b"long.example.test.") == LONG.encode()
    assert (found.asked, found.missing, found.temporary) == (True, False, False)
    missing = DKIMKeyLookup(resolver)
    assert missing(b"missing.example.test.") is None
    assert missing.missing
    assert DKIMKeyLookup(resolver)(b"\xff.test") is None
    failing = DKIMKeyLookup(resolver)
    with pytest.raises(dkim.DnsTimeoutError):
        failing(b"broken.test", timeout=5)
    assert failing.temporary


@pytest.mark.parametrize("text", ["127.0.0.1:53", "127.0.0.1", "[::1]:5353", "::1"])
def test_nameserver_forms(text: str) -> None:
    Resolver([text])


@pytest.mark.parametrize("text", ["dns.example.test", "127.0.0.1:x", "[::1]:99999", "1.2.3.4:0"])
def test_bad_nameservers_refused(text: str) -> None:
    with pytest.raises(Unavailable):
        Resolver([text])


def test_system_configuration_is_read() -> None:
    try:
        Resolver()
    except Unavailable:
        pytest.skip("this machine has no resolver configuration")
