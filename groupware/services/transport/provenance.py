"""How a message came in, and whose word it carries: the sender addresses shown to be
the sender's (iMIP trusts only these), and which domains' DKIM keys may sign its copies.

Front doors build one per message with `submitted` or `from_outside` and hand it to
delivery, which passes it to its listeners. Nothing is proven unless one of them says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from groupware.errors import InvalidInput
from groupware.mime.authors import AuthorError, read_authors
from groupware.services.core.addresses import domain_of, normalize_address
from groupware.services.transport.mailauth import (
    AuthVerdict,
    PublicSuffixList,
    organizational_domain,
)
from groupware.services.transport.submission import CheckedAuthors


@dataclass(frozen=True)
class Provenance:
    """`authors`: the From: addresses, normalised (() when unreadable); `checked`: they
    were checked as the sender's own (authenticated submission, mail we write)."""

    proven: frozenset[str] = frozenset()
    authors: tuple[str, ...] = ()
    checked: bool = False

    @property
    def signers(self) -> tuple[str, ...]:
        """Domains whose keys sign the message for its author: checked From: domains."""
        return tuple(dict.fromkeys(domain_of(a) for a in self.authors)) if self.checked else ()

    def forward_signers(self, domain: str, suffixes: PublicSuffixList | None) -> tuple[str, ...]:
        """Whose keys sign a copy we forward with an SRS sender of `domain`.

        Checked mail is signed for its author, as when sent directly. Mail from outside is
        signed by the forwarding domain, which helps the copy's reputation but aligns with
        nothing, unless that domain aligns with a From: domain (RFC 7489 §3.1, relaxed):
        then our signature would pass DMARC for an author nobody checked, so the copy
        goes unsigned, as it does when From: cannot be read.
        """
        if self.checked:
            return self.signers
        if not domain or not self.authors:
            return ()
        org = organizational_domain(domain, suffixes)
        if any(organizational_domain(domain_of(a), suffixes) == org for a in self.authors):
            return ()
        return (domain,)


def submitted(mail_from: str, authors: CheckedAuthors) -> Provenance:
    """Mail an authenticated user submitted: the envelope sender (checked at MAIL) and
    the From:/Sender: addresses (checked at DATA) are theirs."""
    proven = {*authors.from_, *authors.sender}
    with contextlib.suppress(InvalidInput):  # the null sender proves nothing
        proven.add(normalize_address(mail_from))  # normalised as the others are
    return Provenance(frozenset(proven), authors.from_, checked=True)


def generated(author: str) -> Provenance:
    """Mail the server writes for one of its users, with that user as From:."""
    return Provenance(frozenset({author}), (author,), checked=True)


def from_outside(verdict: AuthVerdict, content: bytes, hosted: Callable[[str], bool]) -> Provenance:
    """Mail from another server: what SPF, DKIM and DMARC vouch for, never an address of
    a domain we host (only our own submission can prove those, and it did not)."""
    try:
        authors = tuple(normalize_address(a) for a in read_authors(content).from_)
    except (AuthorError, InvalidInput):
        authors = ()
    proven = set()
    for address in vouched(verdict, authors):
        try:
            address = normalize_address(address)  # the envelope sender's is as given
        except InvalidInput:
            continue
        if not hosted(domain_of(address)):
            proven.add(address)
    return Provenance(frozenset(proven), authors)


def vouched(verdict: AuthVerdict, authors: tuple[str, ...]) -> frozenset[str]:
    """The sender addresses the checks vouch for, lower-case. They authenticate domains,
    not people: the envelope sender when SPF passed for it (RFC 7208 §2.4); a From:
    address (of `authors`) when DMARC passed for its domain, or when a DKIM signature of
    that very domain verified (RFC 6376 §3.5 d=; mailauth fails any signature that
    leaves From: out, RFC 6376 §6.1.1)."""
    found: set[str] = set()
    spf = verdict.spf
    if spf.result == "pass" and spf.identity == "mailfrom" and verdict.mail_from:
        found.add(verdict.mail_from.lower())
    signers = {check.domain for check in verdict.dkim if check.result == "pass"}
    dmarc = verdict.dmarc
    for address in authors:
        domain = domain_of(address).lower()
        if domain in signers or (dmarc.result == "pass" and domain == dmarc.from_domain):
            found.add(address.lower())
    return frozenset(found)
