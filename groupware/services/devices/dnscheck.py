"""`groupware dns DOMAIN --check`: ask the resolver for each record the domain should
publish and say, record by record, whether it is there, missing or wrong.

Judged as a client would use it: an SRV record is right when one of the name's records
has the port and target asked for; an autoconfig name may be a CNAME to the host or
carry the host's own addresses; SPF and DMARC records that differ from ours are reported
as such but not as wrong (admins add their own senders and policies); a DKIM record is
right only with our key.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from groupware.services.transport.dkimkeys import DnsRecord
from groupware.services.transport.resolver import DNSTemporaryError, Resolver

OK, ABSENT, DIFFERS = "ok", "absent", "differs"  # fine
MISSING, WRONG, UNANSWERED = "missing", "wrong", "unanswered"  # to fix
FINE = frozenset({OK, ABSENT, DIFFERS})
PARALLEL = 8  # lookups at once


@dataclass(frozen=True)
class Finding:
    record: DnsRecord
    state: str
    found: str = ""  # what the resolver gave, when it is not what was asked

    @property
    def fine(self) -> bool:
        return self.state in FINE


def check(resolver: Resolver, records: list[DnsRecord]) -> list[Finding]:
    """One finding per record, in order. The first is asked alone: when the resolver
    does not answer it, the rest are not asked (each would wait out its timeout); else
    they are asked a few at a time."""
    if not records:
        return []
    first = _check_one(resolver, records[0])
    if first.state == UNANSWERED:
        rest = [Finding(r, UNANSWERED) for r in records[1:]]
        return [first, *rest]
    with ThreadPoolExecutor(PARALLEL) as pool:
        return [first, *pool.map(lambda record: _check_one(resolver, record), records[1:])]


def _check_one(resolver: Resolver, record: DnsRecord) -> Finding:
    judge = _JUDGES.get(record.type)
    if judge is None:
        return Finding(record, UNANSWERED, f"cannot check {record.type} records")
    try:
        state, found = judge(resolver, record)
    except DNSTemporaryError as error:
        return Finding(record, UNANSWERED, str(error))
    if state == MISSING and record.optional:
        state = ABSENT
    return Finding(record, state, found)


Verdict = tuple[str, str]


def _mx(resolver: Resolver, record: DnsRecord) -> Verdict:
    want = _name(record.value.split()[-1])
    found = resolver.mx(record.name)
    if not found:
        return MISSING, ""
    hosts = [host for _, host in found]
    return (OK, "") if want in hosts else (WRONG, ", ".join(f"{p} {h}" for p, h in found))


def _txt(resolver: Resolver, record: DnsRecord) -> Verdict:
    kind = _txt_kind(record.value)
    same_kind = [t for t in resolver.txt(record.name) if _txt_kind(t) == kind]
    if not same_kind:
        return MISSING, ""
    if record.value in same_kind:
        return OK, ""
    if kind == "v=dkim1":
        ours = _tag(record.value, "p")
        return (OK, "") if any(_tag(t, "p") == ours for t in same_kind) else (WRONG, same_kind[0])
    if kind in {"v=spf1", "v=dmarc1"}:
        return DIFFERS, same_kind[0]
    return WRONG, same_kind[0]


def _srv(resolver: Resolver, record: DnsRecord) -> Verdict:
    _, _, port, target = record.value.split()
    found = resolver.srv(record.name)
    if not found:
        return MISSING, ""
    if any(p == int(port) and _name(t) == _name(target) for _, _, p, t in found):
        return OK, ""
    return WRONG, ", ".join(f"{pr} {w} {p} {t}" for pr, w, p, t in found)


def _cname(resolver: Resolver, record: DnsRecord) -> Verdict:
    want = _name(record.value)
    aliases = resolver.cname(record.name)
    if aliases:
        return (OK, "") if _name(aliases[0]) == want else (WRONG, f"CNAME {aliases[0]}")
    # An address record of its own does as well, when it is the host's.
    addresses = sorted(resolver.addresses(record.name))
    if not addresses:
        return MISSING, ""
    if addresses == sorted(resolver.addresses(want)):
        return OK, ""
    return WRONG, "addresses " + ", ".join(addresses)


_JUDGES: dict[str, Callable[[Resolver, DnsRecord], Verdict]] = {
    "MX": _mx,
    "TXT": _txt,
    "SRV": _srv,
    "CNAME": _cname,
}


def _name(text: str) -> str:
    return text.rstrip(".").lower() or "."


def _txt_kind(value: str) -> str:
    """What a TXT record is: "v=spf1", "v=dmarc1", "v=dkim1", "path" (RFC 6764)."""
    head = value.strip().split(";")[0].split()[0] if value.strip() else ""
    if head.lower().startswith("v="):
        return head.lower()
    if head.lower().startswith("path="):
        return "path"
    return "v=dkim1" if "p=" in value and "k=" in value else head.lower()


def _tag(value: str, tag: str) -> str:
    for part in value.split(";"):
        key, _, text = part.strip().partition("=")
        if key.strip() == tag:
            return "".join(text.split())
    return ""
