"""Each hosted domain's DKIM keys: made when the domain is added, rotated on demand, and
the newest active one signs outgoing mail; the DNS records a domain needs come from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from groupware.model.directory import Domain
from groupware.model.queue import DkimKey
from groupware.services.core import access, audit
from groupware.services.core.access import Principal
from groupware.services.core.addresses import normalize_domain
from groupware.services.directory.accounts import domain_resource
from groupware.services.transport.dkimsign import generate_key, sign
from groupware.store import Database
from groupware.store.directory import domain_by_name


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    value: str
    why: str
    optional: bool = False  # a check may find it absent without harm


class DkimKeys:
    def __init__(self, database: Database, hostname: str) -> None:
        self._db = database
        self.hostname = hostname

    def ensure(self, domain: str) -> None:
        """Give `domain` a key if it has none (called when a domain is added)."""
        with self._db.read() as session:
            dom = domain_by_name(session, domain)
            has = session.scalar(select(DkimKey.id).where(DkimKey.domain_id == dom.id))
        if has is None:
            self._add(domain)

    def rotate(self, actor: Principal, domain: str) -> str:
        """A new key under a new selector; the old one stays published but stops signing.
        Returns the new selector (publish its record before mail signed with it arrives)."""
        domain = normalize_domain(domain)
        access.require(actor, "directory.domains.manage", domain_resource(domain))
        selector = self._add(domain)
        with self._db.write() as session:
            audit.record(
                session, actor, "dkim.rotate", target=domain, domain=domain, detail=selector
            )
        return selector

    def _add(self, domain: str) -> str:
        private_pem, public_txt = generate_key()  # slow: outside the transaction
        with self._db.write() as session:
            dom = domain_by_name(session, domain)
            count = len(
                session.scalars(select(DkimKey.id).where(DkimKey.domain_id == dom.id)).all()
            )
            selector = f"gw{datetime.now(UTC):%Y%m}n{count + 1}"
            for old in session.scalars(select(DkimKey).where(DkimKey.domain_id == dom.id)):
                old.active = False
            session.add(
                DkimKey(
                    domain_id=dom.id,
                    selector=selector,
                    private_pem=private_pem.decode(),
                    public_txt=public_txt,
                )
            )
        return selector

    def signature(self, message: bytes, domain: str) -> bytes:
        """The DKIM-Signature header for `message` from `domain`, or b"" without a key."""
        with self._db.read() as session:
            row = session.execute(
                select(DkimKey.selector, DkimKey.private_pem)
                .join(Domain, Domain.id == DkimKey.domain_id)
                .where(Domain.name == domain, DkimKey.active.is_(True))
                .order_by(DkimKey.id.desc())
            ).first()
        if row is None:
            return b""
        return sign(message, domain, row[0], row[1].encode())

    def signatures(self, message: bytes, domains: Iterable[str]) -> bytes:
        """DKIM-Signature headers for `message`, one per domain of `domains` we hold a key
        for (each made over the message as given, so their order does not matter)."""
        return b"".join(self.signature(message, domain) for domain in dict.fromkeys(domains))

    def records(self, domain: str) -> list[DnsRecord]:
        """What `domain` publishes for mail: MX, SPF, DMARC and its DKIM keys."""
        domain = normalize_domain(domain)
        with self._db.read() as session:
            dom = domain_by_name(session, domain)
            keys = session.execute(
                select(DkimKey.selector, DkimKey.public_txt, DkimKey.active)
                .where(DkimKey.domain_id == dom.id)
                .order_by(DkimKey.id)
            ).all()
        host = self.hostname
        records = [
            DnsRecord(domain, "MX", f"10 {host}.", "where mail for the domain goes"),
            DnsRecord(domain, "TXT", f"v=spf1 mx a:{host} -all", "SPF: who may send as it"),
            DnsRecord(
                f"_dmarc.{domain}",
                "TXT",
                f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}",
                "DMARC: what receivers do with mail failing SPF and DKIM",
            ),
        ]
        records += [
            DnsRecord(
                f"{selector}._domainkey.{domain}",
                "TXT",
                txt,
                "DKIM key" + ("" if active else " (retired; keep until its mail ages)"),
            )
            for selector, txt, active in keys
        ]
        return records
