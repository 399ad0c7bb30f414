"""SPF, DKIM and DMARC verdicts and Authentication-Results, against a real DNS server on loopback.

One zone serves every case (a domain per scenario); keys are made once per module. The
hypothesis properties feed arbitrary and header-shaped bytes: verify_inbound never raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import InvalidInput
from groupware.services.transport import dkimsign
from groupware.services.transport.mailauth import (
    AuthVerdict,
    PublicSuffixList,
    organizational_domain,
    verify_inbound,
)
from groupware.services.transport.resolver import Resolver
from harness.dnsserver import DNSServer

GOOD_IP = "192.0.2.10"
BAD_IP = "198.51.100.7"
KEY = dkimsign.generate_key()
OTHER_KEY = dkimsign.generate_key()


def zone() -> dict[tuple[str, str], list[str]]:
    spf = "v=spf1 ip4:192.0.2.0/24"
    records = {
        ("example.test", "TXT"): [f"{spf} -all"],
        ("soft.test", "TXT"): [f"{spf} ~all"],
        ("neutral.test", "TXT"): [f"{spf} ?all"],
        ("inc.test", "TXT"): ["v=spf1 include:example.test -all"],
        ("redir.test", "TXT"): ["v=spf1 redirect=example.test"],
        ("mxmech.test", "TXT"): ["v=spf1 mx -all"],
        ("mxmech.test", "MX"): ["10 mx.mxmech.test."],
        ("mx.mxmech.test", "A"): [GOOD_IP],
        ("void.test", "TXT"): ["v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"],
        ("loop0.test", "TXT"): ["v=spf1 include:loop1.test -all"],
        ("bad-syntax.test", "TXT"): ["v=spf1 ip4:300.1.1.1 -all"],
        ("spf-broken.test", "TXT"): ["v=spf1 include:broken.test -all"],
        ("helo.example.test", "TXT"): [f"{spf} -all"],
        ("bounce.example.test", "TXT"): [f"{spf} -all"],
        ("amech.test", "TXT"): ["v=spf1 a -all"],
        ("amech.test", "A"): [GOOD_IP],
        ("ptr.test", "TXT"): ["v=spf1 ptr -all"],
        ("10.2.0.192.in-addr.arpa", "PTR"): ["host.ptr.test."],
        ("host.ptr.test", "A"): [GOOD_IP],
        ("exists.test", "TXT"): ["v=spf1 exists:%{i}.allow.exists.test -all"],
        ("192.0.2.10.allow.exists.test", "A"): ["127.0.0.2"],
        ("v6.test", "TXT"): ["v=spf1 ip6:2001:db8::/32 -all"],
        ("sel._domainkey.example.test", "TXT"): [KEY[1]],
        ("sel._domainkey.mail.example.test", "TXT"): [KEY[1]],
        ("sel._domainkey.other.test", "TXT"): [OTHER_KEY[1]],
        ("_dmarc.example.test", "TXT"): ["v=DMARC1; p=reject; rua=mailto:d@example.test"],
        ("_dmarc.strict.test", "TXT"): ["v=DMARC1; p=reject; adkim=s; aspf=s"],
        ("strict.test", "TXT"): [f"{spf} -all"],
        ("sel._domainkey.strict.test", "TXT"): [KEY[1]],
        ("sel._domainkey.sub.strict.test", "TXT"): [KEY[1]],
        ("_dmarc.quarantine.test", "TXT"): ["v=DMARC1; p=quarantine; sp=reject"],
        ("_dmarc.nopolicy.test", "TXT"): ["v=DMARC1; rua=mailto:x@nopolicy.test"],
        ("_dmarc.twice.test", "TXT"): ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
        ("_dmarc.twice.example.test", "TXT"): ["v=DMARC1; p=none", "v=DMARC1;p=none"],
        ("_dmarc.sampled.test", "TXT"): ["v=DMARC1; p=reject; pct=0"],
        ("attacker.test", "TXT"): ["v=spf1 ip4:198.51.100.0/24 -all"],
    }
    for n in range(1, 12):  # include chain of 11: more than 10 lookups (RFC 7208 §4.6.4)
        records[(f"loop{n}.test", "TXT")] = [f"v=spf1 include:loop{n + 1}.test -all"]
    return records


@pytest.fixture(scope="module")
def server() -> Iterator[DNSServer]:
    with DNSServer(zone()) as dns:
        dns.servfail.update({"broken.test", "_dmarc.dnsfail.test", "sel._domainkey.keyfail.test"})
        yield dns


@pytest.fixture(scope="module")
def resolver(server: DNSServer) -> Resolver:
    return Resolver([server.address], lifetime=1.0)


def message(from_: str = "Alice <alice@example.test>", body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: {from_}\r\nTo: bob@dest.test\r\nSubject: greetings\r\n"
        "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n"
    ).encode() + body


def signed(domain: str = "example.test", key: bytes = KEY[0], **kw: str) -> bytes:
    raw = message(**kw)
    return dkimsign.sign(raw, domain, "sel", key) + raw


def verify(
    resolver: Resolver,
    raw: bytes,
    *,
    ip: str = GOOD_IP,
    mail_from: str = "bounce@example.test",
    helo: str = "mx.sender.test",
) -> AuthVerdict:
    return verify_inbound(
        raw,
        client_ip=ip,
        helo=helo,
        mail_from=mail_from,
        resolver=resolver,
        hostname="mx.dest.test",
    )


# --- SPF ---


@pytest.mark.parametrize(
    ("mail_from", "ip", "expected"),
    [
        ("a@example.test", GOOD_IP, "pass"),
        ("a@example.test", BAD_IP, "fail"),
        ("a@soft.test", BAD_IP, "softfail"),
        ("a@neutral.test", BAD_IP, "neutral"),
        ("a@nospf.test", GOOD_IP, "none"),
        ("a@inc.test", GOOD_IP, "pass"),
        ("a@inc.test", BAD_IP, "fail"),
        ("a@redir.test", GOOD_IP, "pass"),
        ("a@redir.test", BAD_IP, "fail"),
        ("a@mxmech.test", GOOD_IP, "pass"),
        ("a@mxmech.test", BAD_IP, "fail"),
        ("a@amech.test", GOOD_IP, "pass"),
        ("a@ptr.test", GOOD_IP, "pass"),
        ("a@ptr.test", BAD_IP, "fail"),
        ("a@exists.test", GOOD_IP, "pass"),
        ("a@exists.test", BAD_IP, "fail"),
        ("a@v6.test", "2001:db8::5", "pass"),
        ("a@v6.test", "2001:db9::5", "fail"),
        ("a@loop0.test", GOOD_IP, "permerror"),  # 11 includes: over the lookup limit
        ("a@void.test", GOOD_IP, "permerror"),  # 3 void lookups: over the limit of 2
        ("a@bad-syntax.test", GOOD_IP, "permerror"),
        ("a@broken.test", GOOD_IP, "temperror"),  # SERVFAIL on the record itself
        ("a@spf-broken.test", GOOD_IP, "temperror"),  # SERVFAIL on an include
        ("a@example.test", "not-an-ip", "permerror"),
    ],
)
def test_spf_results(resolver: Resolver, mail_from: str, ip: str, expected: str) -> None:
    verdict = verify(resolver, message(), ip=ip, mail_from=mail_from)
    assert verdict.spf.result == expected
    assert verdict.spf.domain == mail_from.split("@")[1]
    assert verdict.spf.identity == "mailfrom"


def test_null_sender_checks_the_helo_identity(resolver: Resolver) -> None:
    # RFC 7208 §2.4: MAIL FROM:<> is checked as postmaster@<HELO>.
    verdict = verify(resolver, message(), mail_from="", helo="helo.example.test")
    assert (verdict.spf.result, verdict.spf.domain, verdict.spf.identity) == (
        "pass",
        "helo.example.test",
        "helo",
    )
    assert b"spf=pass smtp.helo=helo.example.test;" in verdict.authentication_results_header()
    literal = verify(resolver, message(), mail_from="", helo="[192.0.2.10]")
    assert literal.spf.result == "none"


# --- DKIM ---


def test_dkim_sign_then_verify_passes(resolver: Resolver) -> None:
    verdict = verify(resolver, signed())
    assert [(c.result, c.domain, c.selector) for c in verdict.dkim] == [
        ("pass", "example.test", "sel")
    ]


def test_dkim_fails_when_the_body_is_altered(resolver: Resolver) -> None:
    raw = signed().replace(b"Hello.", b"Hullo.")
    assert [c.result for c in verify(resolver, raw).dkim] == ["fail"]


def test_dkim_fails_with_the_wrong_key(resolver: Resolver) -> None:
    assert [c.result for c in verify(resolver, signed(key=OTHER_KEY[0])).dkim] == ["fail"]


def test_unsigned_has_no_dkim_result(resolver: Resolver) -> None:
    verdict = verify(resolver, message())
    assert verdict.dkim == ()
    assert b"dkim=none;" in verdict.authentication_results_header()


def test_a_signature_is_looked_for_in_the_header_only(resolver: Resolver) -> None:
    """Without a DKIM-Signature field dkimpy is not run (it took twice the message in
    memory to find none); one in the body is no signature, one in the header still is."""
    quoted = message() + b"DKIM-Signature: v=1; d=example.test; s=sel; b=AAAA\r\n"
    assert verify(resolver, quoted).dkim == ()
    lower = signed().replace(b"DKIM-Signature:", b"dkim-signature:", 1)
    assert [c.result for c in verify(resolver, lower).dkim] == ["pass"]


def test_dkim_missing_key_is_permerror_and_dns_failure_temperror(resolver: Resolver) -> None:
    assert [c.result for c in verify(resolver, signed("nokey.test")).dkim] == ["permerror"]
    assert [c.result for c in verify(resolver, signed("keyfail.test")).dkim] == ["temperror"]


def test_dkim_malformed_signature_is_neutral(resolver: Resolver) -> None:
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=sel; b=!!\r\n" + message()
    [check] = verify(resolver, raw).dkim
    assert (check.result, check.domain, check.selector) == ("neutral", "example.test", "sel")


def test_several_signatures_each_reported(resolver: Resolver) -> None:
    raw = signed()
    raw = dkimsign.sign(raw, "other.test", "sel", OTHER_KEY[0]) + raw
    assert [(c.result, c.domain) for c in verify(resolver, raw).dkim] == [
        ("pass", "other.test"),
        ("pass", "example.test"),
    ]


class _UnsignedFrom(bytes):
    """A header name dkimpy's "From must be signed" check takes for "from" (it compares
    with ==) but that signs only itself: how a careless signer's h= without From looks."""

    def __eq__(self, other: object) -> bool:
        return other == b"from" or bytes.__eq__(self, other)

    def __hash__(self) -> int:
        return bytes.__hash__(self)

    def lower(self) -> bytes:  # type: ignore[override]
        return self


def test_dkim_signature_not_covering_from_is_permerror(resolver: Resolver) -> None:
    """RFC 6376 §6.1.1: dkimpy verifies it, yet its From: could be anyone's."""
    raw = message()
    header = dkim.sign(
        raw, b"sel", b"example.test", KEY[0], include_headers=[_UnsignedFrom(b"subject")]
    )
    assert b"h=subject;" in header
    forged = header + raw.replace(b"alice@example.test", b"ceo@example.test")
    verdict = verify(resolver, forged, ip=BAD_IP)  # SPF fails: only DKIM could align
    assert [c.result for c in verdict.dkim] == ["permerror"]
    assert (verdict.dmarc.result, verdict.reject) == ("fail", True)


def test_sign_refuses_bad_input() -> None:
    with pytest.raises(InvalidInput):
        dkimsign.sign(b"To: x@example.test\r\n\r\nno from\r\n", "example.test", "sel", KEY[0])
    with pytest.raises(InvalidInput):
        dkimsign.sign(message(), "example.test", "sel", b"not a key")
    with pytest.raises(InvalidInput):
        dkimsign.sign(message(), "bad domain", "sel", KEY[0])


def test_generated_key_record_and_signed_fields() -> None:
    assert KEY[0].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert KEY[1].startswith("v=DKIM1; k=rsa; p=MII")
    header = dkimsign.sign(message(), "example.test", "sel", KEY[0])
    assert header.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert header.endswith(b"\r\n")
    assert b"h=from:to:subject:date:message-id:from;" in b"".join(header.split())


# --- DMARC ---


def test_dmarc_pass_relaxed_alignment_with_subdomains(resolver: Resolver) -> None:
    # DKIM by mail.example.test and SPF for bounce.example.test: both align with example.test.
    raw = signed("mail.example.test")
    verdict = verify(resolver, raw, mail_from="x@bounce.example.test")
    assert verdict.dmarc.result == "pass"
    assert verdict.dmarc.aligned == ("dkim", "spf")
    assert verdict.dmarc.dkim_alignment == "relaxed"
    assert (verdict.dmarc.policy, verdict.dmarc.from_domain) == ("reject", "example.test")
    assert not verdict.reject


def test_dmarc_fails_when_spf_passes_for_an_unaligned_domain(resolver: Resolver) -> None:
    verdict = verify(resolver, message(), ip=BAD_IP, mail_from="x@attacker.test")
    assert verdict.spf.result == "pass"
    assert verdict.dkim == ()
    assert (verdict.dmarc.result, verdict.dmarc.policy) == ("fail", "reject")
    assert verdict.reject


def test_dmarc_strict_alignment_refuses_subdomains(resolver: Resolver) -> None:
    raw = signed("sub.strict.test", from_="a@strict.test")
    verdict = verify(resolver, raw, ip=BAD_IP, mail_from="b@sub.strict.test")
    assert verdict.dkim[0].result == "pass"
    assert verdict.dmarc.result == "fail"
    assert verdict.dmarc.dkim_alignment == verdict.dmarc.spf_alignment == "strict"
    exact = verify(resolver, signed("strict.test", from_="a@strict.test"), ip=BAD_IP)
    assert exact.dmarc.result == "pass"


def test_dmarc_policy_found_at_the_organizational_domain(resolver: Resolver) -> None:
    verdict = verify(resolver, message(from_="a@deep.sub.quarantine.test"), ip=BAD_IP)
    assert (verdict.dmarc.result, verdict.dmarc.policy) == ("fail", "reject")  # sp= applies
    top = verify(resolver, message(from_="a@quarantine.test"), ip=BAD_IP)
    assert (top.dmarc.policy, top.reject) == ("quarantine", False)


@pytest.mark.parametrize(
    ("from_", "expected"),
    [
        ("a@nodmarc.test", ("none", "none")),
        ("a@nopolicy.test", ("fail", "none")),  # no p= but rua=: act as p=none
        ("a@twice.test", ("none", "none")),  # two records: no DMARC
        ("a@twice.example.test", ("none", "none")),  # ... and no fallback to example.test
        ("a@sampled.test", ("fail", "quarantine")),  # pct=0: the next weaker policy
        ("a@dnsfail.test", ("temperror", "none")),
    ],
)
def test_dmarc_record_cases(resolver: Resolver, from_: str, expected: tuple[str, str]) -> None:
    verdict = verify(resolver, message(from_=from_), ip=BAD_IP)
    assert (verdict.dmarc.result, verdict.dmarc.policy) == expected
    assert not verdict.reject


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"To: b@dest.test\r\n\r\nbody\r\n", "no From field"),
        (b"From: undisclosed:;\r\n\r\nbody\r\n", "no From address"),
        (b"From: alice\r\n\r\nbody\r\n", "From address without a usable domain"),
        (b"From: a@exa mple..test\r\n\r\nbody\r\n", "From address without a usable domain"),
    ],
)
def test_unusable_from_is_permerror(resolver: Resolver, raw: bytes, reason: str) -> None:
    verdict = verify(resolver, raw)
    assert (verdict.dmarc.result, verdict.dmarc.reason) == ("permerror", reason)
    assert not verdict.reject


def test_multiple_from_keeps_the_worst_verdict(resolver: Resolver) -> None:
    # RFC 7489 §6.6.1: a forged second From of a p=reject domain must not slip through.
    raw = b"From: x@attacker.test\r\n" + message()
    verdict = verify(resolver, raw, ip=BAD_IP, mail_from="x@attacker.test")
    assert (verdict.dmarc.result, verdict.dmarc.from_domain, verdict.reject) == (
        "fail",
        "example.test",
        True,
    )
    same = verify(resolver, message(from_="a@example.test, b@example.test"))
    assert same.dmarc.result == "pass"


# --- Authentication-Results and organisational domains ---


def test_authentication_results_header(resolver: Resolver) -> None:
    verdict = verify(resolver, signed("mail.example.test"), mail_from="bounce@example.test")
    assert verdict.authentication_results_header() == (
        b"Authentication-Results: mx.dest.test;\r\n"
        b" spf=pass smtp.mailfrom=bounce@example.test;\r\n"
        b" dkim=pass header.d=mail.example.test header.s=sel;\r\n"
        b" dmarc=pass (p=reject) header.from=example.test\r\n"
    )


def test_header_values_cannot_inject_text(resolver: Resolver) -> None:
    verdict = verify(resolver, message(), mail_from='a"b\r\nX-Evil: 1;\\@example.test')
    header = verdict.authentication_results_header()
    assert header.count(b"\r\n") == 4
    assert b'smtp.mailfrom="a\\"bX-Evil: 1;\\\\@example.test";' in header


@pytest.mark.parametrize(
    ("domain", "heuristic", "listed"),
    [
        ("mail.example.com", "example.com", "example.com"),
        ("example.com", "example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk", "example.co.uk"),
        ("shop.example.github.io", "github.io", "example.github.io"),
        ("x.y.ck", "y.ck", "x.y.ck"),
        ("www.ck", "www.ck", "www.ck"),
        ("com", "com", "com"),
    ],
)
def test_organizational_domain(domain: str, heuristic: str, listed: str) -> None:
    suffixes = PublicSuffixList(
        ["// comment", "com", "uk", "co.uk", "io", "github.io", "*.ck", "!www.ck", ""]
    )
    assert organizational_domain(domain) == heuristic
    assert organizational_domain(domain, suffixes) == listed


def test_public_suffix_list_file(tmp_path: Path) -> None:
    assert PublicSuffixList.load(tmp_path / "missing.dat") is None
    system = PublicSuffixList.load()
    if system is None:
        pytest.skip("no public suffix list installed (Debian package publicsuffix)")
    assert organizational_domain("a.b.example.co.uk", system) == "example.co.uk"


# --- Malformed input never raises ---

header_lines = st.sampled_from(
    [
        b"From: ",
        b"From: a@example.test",
        b"From: =?utf-8?q?x?= <a@\xff.test>",
        b"DKIM-Signature: v=1; d=example.test; s=sel; h=from; bh=; b=",
        b"DKIM-Signature: ",
        b"\tcontinued",
        b"To: b@dest.test",
        b"",
    ]
)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(resolver: Resolver, raw: bytes) -> None:
    verdict = verify(resolver, raw)
    assert verdict.authentication_results_header().endswith(b"\r\n")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.one_of(header_lines, st.binary(max_size=40)), max_size=8), st.binary(max_size=40)
)
def test_header_shaped_garbage_never_raises(
    resolver: Resolver, lines: list[bytes], body: bytes
) -> None:
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    header = verify(resolver, raw, mail_from="").authentication_results_header()
    assert header.startswith(b"Authentication-Results: mx.dest.test;\r\n")
