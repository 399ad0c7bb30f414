"""Inbound message authentication: SPF, DKIM and DMARC verdicts and the header recording them.

`verify_inbound` is the one entry point (the SMTP front door calls it at DATA); a new check
adds a field to AuthVerdict and a clause to `authentication_results_header`.
"""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

import dkim

from groupware.services.transport.resolver import DKIMKeyLookup, DNSTemporaryError, Resolver
from groupware.services.transport.spf import SPFCheck, check_spf

log = logging.getLogger(__name__)
_dkimpy_log = logging.getLogger(__name__ + ".dkimpy")  # dkimpy logs key and DNS trouble here

DKIMResult = Literal["pass", "fail", "neutral", "temperror", "permerror"]
DMARCResult = Literal["pass", "fail", "none", "temperror", "permerror"]
Policy = Literal["none", "quarantine", "reject"]
Alignment = Literal["relaxed", "strict"]

MAX_SIGNATURES = 5  # more DKIM signatures than this are not checked (cost bound)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SIGNATURE_NAME = re.compile(rb"dkim-signature", re.IGNORECASE)
MAX_FROM_DOMAINS = 4
SYSTEM_PUBLIC_SUFFIX_LIST = Path("/usr/share/publicsuffix/public_suffix_list.dat")
# Without the Public Suffix List: second-level labels under a country code that are
# registries, not organisations (example.co.uk's organisational domain is not co.uk).
_REGISTRY_SLDS = frozenset(
    {"ac", "co", "com", "edu", "gob", "go", "gov", "gv", "ltd", "mil", "ne", "net", "or", "org"}
)
_DOMAIN = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`{|}~-]+$")
_POLICIES: dict[str, Policy] = {"none": "none", "quarantine": "quarantine", "reject": "reject"}
_WEAKER: dict[Policy, Policy] = {"reject": "quarantine", "quarantine": "none", "none": "none"}
_RANK = {"pass": 0, "none": 1, "temperror": 2, "permerror": 3, "fail": 4}
_POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}


@dataclass(frozen=True)
class DKIMCheck:
    """One DKIM-Signature's result, with its signing domain (d=) and selector (s=)."""

    result: DKIMResult
    domain: str
    selector: str


@dataclass(frozen=True)
class DMARCCheck:
    """The DMARC result for the RFC5322.From domain and the policy its owner asks for."""

    result: DMARCResult
    policy: Policy = "none"
    from_domain: str = ""
    dkim_alignment: Alignment = "relaxed"
    spf_alignment: Alignment = "relaxed"
    aligned: tuple[str, ...] = ()  # which of "dkim", "spf" passed aligned
    reason: str = ""


@dataclass(frozen=True)
class AuthVerdict:
    """All verdicts for one message; `hostname` is the authserv-id of the header we add."""

    hostname: str
    mail_from: str
    spf: SPFCheck
    dkim: tuple[DKIMCheck, ...]
    dmarc: DMARCCheck = field(default_factory=lambda: DMARCCheck("none"))

    @property
    def reject(self) -> bool:
        """RFC 7489 §6.6.4 / §10.3: refuse at DATA (550 5.7.1) when p=reject fails."""
        return self.dmarc.result == "fail" and self.dmarc.policy == "reject"

    def authentication_results_header(self) -> bytes:
        """RFC 8601 Authentication-Results, one result per folded line, ending in CRLF."""
        spf = self.spf
        if spf.identity == "mailfrom":
            spf_text = f"spf={spf.result} smtp.mailfrom={_pvalue(self.mail_from)}"
        else:
            spf_text = f"spf={spf.result} smtp.helo={_pvalue(spf.domain)}"
        parts = [spf_text]
        for check in self.dkim:
            text = f"dkim={check.result}"
            if check.domain:
                text += f" header.d={_pvalue(check.domain)}"
            if check.selector:
                text += f" header.s={_pvalue(check.selector)}"
            parts.append(text)
        if not self.dkim:
            parts.append("dkim=none")
        dmarc = self.dmarc
        dmarc_text = f"dmarc={dmarc.result}"
        if dmarc.result in ("pass", "fail"):
            dmarc_text += f" (p={dmarc.policy})"
        if dmarc.from_domain:
            dmarc_text += f" header.from={_pvalue(dmarc.from_domain)}"
        parts.append(dmarc_text)
        header = f"Authentication-Results: {_pvalue(self.hostname)};\r\n " + ";\r\n ".join(parts)
        return header.encode("ascii", "replace") + b"\r\n"


def verify_inbound(
    message: bytes,
    *,
    client_ip: str,
    helo: str,
    mail_from: str,
    resolver: Resolver,
    hostname: str,
    suffixes: PublicSuffixList | None = None,
) -> AuthVerdict:
    """SPF for the envelope (HELO when MAIL FROM is <>), every DKIM signature, then DMARC.

    Never raises on malformed input: what cannot be evaluated comes back as permerror (or
    temperror when DNS failed). `suffixes` gives organisational domains; without it a rule
    of thumb is used (see `organizational_domain`).
    """
    spf = check_spf(resolver, client_ip=client_ip, mail_from=mail_from, helo=helo)
    dkim_checks = verify_dkim(message, resolver)
    try:
        dmarc = _evaluate_dmarc(message, spf, dkim_checks, resolver, suffixes)
    except Exception:  # a bug here must not lose the message; record it as permerror
        log.exception("DMARC evaluation failed")
        dmarc = DMARCCheck("permerror", reason="internal error")
    return AuthVerdict(hostname, mail_from, spf, dkim_checks, dmarc)


# --- DKIM (RFC 6376 §6; results per RFC 8601 §2.7.1) ---


def verify_dkim(message: bytes, resolver: Resolver) -> tuple[DKIMCheck, ...]:
    """Each DKIM-Signature (topmost first, at most MAX_SIGNATURES); () when there is none."""
    # Looked for first in the header section: dkimpy splits the whole message into lines
    # and joins the body again, twice its size in memory, even to find no signature.
    end = _HEADER_END.search(message)
    if not _SIGNATURE_NAME.search(message, 0, end.start() if end else len(message)):
        return ()
    try:
        verifier = dkim.DKIM(message, logger=_dkimpy_log)
        signatures = [v for k, v in verifier.headers if k.lower() == b"dkim-signature"]
    except Exception:
        if b"dkim-signature" in message[:65536].lower():
            return (DKIMCheck("permerror", "", ""),)  # headers too broken to find it
        return ()
    return tuple(
        _verify_one(verifier, index, value, resolver)
        for index, value in enumerate(signatures[:MAX_SIGNATURES])
    )


def _verify_one(verifier: dkim.DKIM, index: int, value: bytes, resolver: Resolver) -> DKIMCheck:
    tags = _tags(value.decode("ascii", "replace"))
    domain, selector = tags.get("d", "").lower()[:255], tags.get("s", "")[:255]
    if "h" in tags and "from" not in tags["h"].lower().split(":"):
        # RFC 6376 §6.1.1: a signature not covering From is a PERMFAIL (dkimpy lets it
        # pass, and then the From: of any message it was cut from could be rewritten).
        return DKIMCheck("permerror", domain, selector)
    return DKIMCheck(_dkim_result(verifier, index, DKIMKeyLookup(resolver)), domain, selector)


def _dkim_result(verifier: dkim.DKIM, index: int, lookup: DKIMKeyLookup) -> DKIMResult:
    try:
        valid = verifier.verify(idx=index, dnsfunc=lookup)
    except (dkim.KeyFormatError, dkim.UnknownKeyTypeError):
        return "permerror"
    except dkim.DKIMException:
        # Before the key lookup: a malformed signature (neutral); after: bad body hash.
        return "fail" if lookup.asked else "neutral"
    except Exception:
        log.info("dkimpy failed on signature %d", index, exc_info=True)
        return "permerror"
    if valid:
        return "pass"
    if lookup.temporary:
        return "temperror"
    # RFC 6376 §6.1.2: no key record is a PERMFAIL; otherwise the signature did not verify.
    return "permerror" if lookup.missing else "fail"


def _tags(text: str) -> dict[str, str]:
    """A tag=value list (RFC 6376 §3.2), leniently: later duplicates are ignored."""
    tags: dict[str, str] = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), re.sub(r"\s+", "", value))
    return tags


# --- DMARC (RFC 7489) ---


def _evaluate_dmarc(
    message: bytes,
    spf: SPFCheck,
    dkim_checks: tuple[DKIMCheck, ...],
    resolver: Resolver,
    suffixes: PublicSuffixList | None,
) -> DMARCCheck:
    """RFC 7489 §6.6.1: a message must have exactly one From address to evaluate.

    Choice: no From, or an unusable address, is a permerror (not rejected). Several From
    fields or addresses are each evaluated (at most four domains) and the worst verdict
    stands, so a second forged From of a p=reject domain is still refused.
    """
    domains, problem = from_domains(message)
    if problem:
        return DMARCCheck("permerror", reason=problem)
    verdicts = [
        _dmarc_for(domain, spf, dkim_checks, resolver, suffixes)
        for domain in domains[:MAX_FROM_DOMAINS]
    ]
    return max(verdicts, key=lambda v: (_RANK[v.result], _POLICY_RANK[v.policy]))


def from_domains(message: bytes) -> tuple[list[str], str]:
    """The distinct RFC5322.From domains, in order, or ([], why they cannot be used)."""
    end = re.search(rb"\r?\n\r?\n", message)
    headers = BytesHeaderParser(policy=compat32).parsebytes(
        message[: end.start()] if end else message
    )
    values = [str(value) for value in headers.get_all("From") or []]
    if not values:
        return [], "no From field"
    domains: list[str] = []
    for _name, address in getaddresses(values):
        if not address:
            continue
        domain = _normal_domain(address.rpartition("@")[2]) if "@" in address else ""
        if not domain:
            return [], "From address without a usable domain"
        if domain not in domains:
            domains.append(domain)
    return (domains, "") if domains else ([], "no From address")


def _dmarc_for(
    domain: str,
    spf: SPFCheck,
    dkim_checks: tuple[DKIMCheck, ...],
    resolver: Resolver,
    suffixes: PublicSuffixList | None,
) -> DMARCCheck:
    org = organizational_domain(domain, suffixes)
    try:
        # RFC 7489 §6.6.3: the From domain's records, else the organisational domain's;
        # several records (or none) mean no DMARC.
        records, at_org = _dmarc_records(domain, resolver), False
        if not records and org != domain:
            records, at_org = _dmarc_records(org, resolver), True
    except DNSTemporaryError:
        return DMARCCheck("temperror", from_domain=domain, reason="DNS failure")
    if len(records) != 1:
        why = "several DMARC records" if records else "no DMARC record"
        return DMARCCheck("none", from_domain=domain, reason=why)
    tags = {name: value for name, value in _tags(records[0]).items() if name != "v"}
    policy = _POLICIES.get(tags.get("p", "").lower())
    if policy is None:
        if "rua" not in tags:  # RFC 7489 §6.6.3: an invalid p= without rua means no DMARC
            return DMARCCheck("none", from_domain=domain, reason="DMARC record without p=")
        policy = "none"
    if at_org and "sp" in tags:
        policy = _POLICIES.get(tags["sp"].lower(), policy)
    dkim_mode: Alignment = "strict" if tags.get("adkim", "").lower() == "s" else "relaxed"
    spf_mode: Alignment = "strict" if tags.get("aspf", "").lower() == "s" else "relaxed"

    def aligned(other: str, mode: Alignment) -> bool:  # RFC 7489 §3.1
        other = other.lower().rstrip(".")
        if mode == "strict":
            return other == domain
        return bool(other) and organizational_domain(other, suffixes) == org

    ways: list[str] = []
    if any(c.result == "pass" and aligned(c.domain, dkim_mode) for c in dkim_checks):
        ways.append("dkim")
    if spf.result == "pass" and aligned(spf.domain, spf_mode):
        ways.append("spf")
    result: DMARCResult = "pass" if ways else "fail"
    if result == "fail" and _sampled_out(tags.get("pct", "100")):
        policy = _WEAKER[policy]  # RFC 7489 §6.6.4: pct applies the next weaker policy
    return DMARCCheck(result, policy, domain, dkim_mode, spf_mode, tuple(ways))


def _dmarc_records(domain: str, resolver: Resolver) -> list[str]:
    """The "v=DMARC1" TXT records at _dmarc.<domain> (RFC 7489 §6.1)."""
    return [
        text
        for text in resolver.txt("_dmarc." + domain)
        if re.match(r"v\s*=\s*DMARC1\s*(;|$)", text, re.IGNORECASE)
    ]


def _sampled_out(pct_text: str) -> bool:
    try:
        pct = min(100, max(0, int(pct_text)))
    except ValueError:
        return False
    return pct < 100 and random.random() * 100 >= pct


# --- Organisational domains (RFC 7489 §3.2) ---


class PublicSuffixList:
    """The Public Suffix List's rules; `load()` reads the copy an OS package installs."""

    def __init__(self, rules: Iterable[str]) -> None:
        self._rules: set[str] = set()
        self._wildcards: set[str] = set()
        self._exceptions: set[str] = set()
        for line in rules:
            rule = line.strip().split(" ")[0].lower()
            if not rule or rule.startswith("//"):
                continue
            rule = _ascii_rule(rule)
            if rule.startswith("!"):
                self._exceptions.add(rule[1:])
            elif rule.startswith("*."):
                self._wildcards.add(rule[2:])
            else:
                self._rules.add(rule)

    @classmethod
    def load(cls, path: Path = SYSTEM_PUBLIC_SUFFIX_LIST) -> PublicSuffixList | None:
        """The list at `path` (Debian's `publicsuffix` package), or None when it is missing."""
        try:
            return cls(path.read_text(encoding="utf-8").splitlines())
        except OSError:
            return None

    def suffix_labels(self, labels: list[str]) -> int:
        """How many trailing labels form the public suffix (the longest rule; "*" is one)."""
        size = 1
        for count in range(1, len(labels) + 1):
            candidate = ".".join(labels[-count:])
            if candidate in self._exceptions:
                return count - 1
            parent = ".".join(labels[-count + 1 :]) if count > 1 else ""
            if candidate in self._rules or parent in self._wildcards:
                size = count
        return size


@functools.cache
def system_suffixes() -> PublicSuffixList | None:
    """The system's list, read once per process (None without Debian's package): DMARC
    checks and forwarded copies' signers consult it on every message."""
    return PublicSuffixList.load()


def organizational_domain(domain: str, suffixes: PublicSuffixList | None = None) -> str:
    """RFC 7489 §3.2: the public suffix plus one label (a public suffix is its own).

    With the Public Suffix List when given; otherwise the last two labels, or three when the
    second-level label under a two-letter country code is a registry one (co.uk, com.au).
    """
    labels = domain.lower().rstrip(".").split(".")
    if suffixes is not None:
        size = suffixes.suffix_labels(labels)
    else:
        registry = len(labels[-1]) == 2 and len(labels) > 2 and labels[-2] in _REGISTRY_SLDS
        size = 2 if registry else 1
    return ".".join(labels[-(size + 1) :])


def _ascii_rule(rule: str) -> str:
    try:
        return ".".join(
            label if label in ("*",) or label.isascii() else label.encode("idna").decode()
            for label in rule.split(".")
        )
    except UnicodeError:
        return rule


def _normal_domain(text: str) -> str:
    """A lower-case ASCII domain, or "" when the text is not one."""
    domain = text.strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    return domain if len(domain) <= 253 and _DOMAIN.match(domain) else ""


def _pvalue(text: str) -> str:
    """An RFC 8601 pvalue: an address, domain or token as is, anything else quoted."""
    text = text[:254]
    local, at, domain = text.rpartition("@")
    if (at and _DOMAIN.match(domain.lower()) and (not local or _DOT_ATOM.match(local))) or (
        _TOKEN.match(text)
    ):
        return text
    clean = re.sub(r"[\x00-\x1f\x7f]", "", text).encode("ascii", "replace").decode("ascii")
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'
