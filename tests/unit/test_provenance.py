"""services/transport/provenance.py without a database: which sender addresses SPF, DKIM and DMARC
vouch for, and which domains sign a forwarded copy (table-driven)."""

from __future__ import annotations

import pytest

from groupware.services.transport.mailauth import AuthVerdict, DKIMCheck, DMARCCheck
from groupware.services.transport.provenance import Provenance, vouched
from groupware.services.transport.spf import SPFCheck

SPF_PASS = SPFCheck("pass", "partner.example", "mailfrom")
SPF_NONE = SPFCheck("none", "partner.example", "mailfrom")
ANN = "ann@partner.example"


def verdict(
    spf: SPFCheck = SPF_NONE, dkim: tuple[DKIMCheck, ...] = (), dmarc: str = "none"
) -> AuthVerdict:
    return AuthVerdict("mx.test", ANN, spf, dkim, DMARCCheck(dmarc, from_domain="partner.example"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("checks", "authors", "expected"),
    [
        (verdict(), (ANN,), set()),
        (verdict(SPF_PASS), (), {ANN}),  # the envelope sender
        (verdict(SPF_PASS), ("bob@elsewhere.example",), {ANN}),  # From: not covered by SPF
        (verdict(SPFCheck("pass", "partner.example", "helo")), (), set()),  # HELO is no sender
        (verdict(dkim=(DKIMCheck("pass", "partner.example", "s"),)), (ANN,), {ANN}),
        (verdict(dkim=(DKIMCheck("pass", "other.example", "s"),)), (ANN,), set()),
        (verdict(dkim=(DKIMCheck("fail", "partner.example", "s"),)), (ANN,), set()),
        (verdict(dmarc="pass"), (ANN, "x@other.example"), {ANN}),
        (verdict(dmarc="fail"), (ANN,), set()),
    ],
)
def test_vouched(checks: AuthVerdict, authors: tuple[str, ...], expected: set[str]) -> None:
    assert vouched(checks, authors) == expected


@pytest.mark.parametrize(
    ("origin", "domain", "expected"),
    [
        (Provenance(authors=(ANN,)), "fwd.example", ("fwd.example",)),
        (Provenance(authors=("a@fwd.example",)), "fwd.example", ()),  # would align: unsigned
        (Provenance(authors=("a@mail.fwd.example",)), "fwd.example", ()),  # relaxed alignment
        (Provenance(), "fwd.example", ()),  # From: unreadable
        (Provenance(authors=(ANN,)), "", ()),  # a bounce keeps the null sender
        (Provenance(authors=("a@ours.example",), checked=True), "fwd.example", ("ours.example",)),
    ],
)
def test_forward_signers(origin: Provenance, domain: str, expected: tuple[str, ...]) -> None:
    assert origin.forward_signers(domain, None) == expected
