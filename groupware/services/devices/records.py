"""The DNS records that let clients find the servers from an address alone:
RFC 6186 SRV records for IMAP, POP3 and submission, RFC 6764 SRV and TXT records for
CalDAV and CardDAV, Outlook's _autodiscover SRV, and the autoconfig and autodiscover
host names Thunderbird and Outlook ask. Built from ClientSetup, never from fixed ports.
"""

from __future__ import annotations

from groupware.services.devices.setup import DAV_PATH, ClientSetup
from groupware.services.transport.dkimkeys import DnsRecord

# RFC 6186 §3.4: clients take the lowest priority first, across IMAP and POP3 too;
# RFC 8314 §5.1: implicit TLS before STARTTLS.
PRIORITY = {"imaps": 0, "imap": 10, "pop3s": 20, "pop3": 30, "submissions": 0, "submission": 10}


def discovery_records(setup: ClientSetup, domain: str) -> list[DnsRecord]:
    """What `domain` publishes so that apps set themselves up from an address."""
    served = {s.listener: s for s in setup.incoming() + setup.outgoing()}
    records = []
    for listener, priority in PRIORITY.items():
        name = f"_{listener}._tcp.{domain}"
        server = served.get(listener)
        if server is None:
            # RFC 6186 §3.4: a target of "." says the service is decidedly not offered.
            records.append(DnsRecord(name, "SRV", "0 0 0 .", "RFC 6186: not offered", True))
            continue
        how = "implicit TLS" if server.implicit_tls else "STARTTLS"
        records.append(
            DnsRecord(
                name,
                "SRV",
                f"{priority} 1 {server.port} {server.host}.",
                f"RFC 6186: {server.protocol.upper()} with {how}",
            )
        )
    portal = setup.portal
    suffix = "s" if portal.tls else ""
    for service in ("caldav", "carddav"):
        name = f"_{service}{suffix}._tcp.{domain}"
        records += [
            DnsRecord(name, "SRV", f"0 1 {portal.port} {portal.host}.", f"RFC 6764: {service}"),
            DnsRecord(name, "TXT", f"path={DAV_PATH}", f"RFC 6764: where {service} starts"),
        ]
        if portal.tls:
            # RFC 6764 §3: a "." target for the plain service keeps clients off it.
            plain = f"_{service}._tcp.{domain}"
            records.append(DnsRecord(plain, "SRV", "0 0 0 .", "RFC 6764: not without TLS", True))
    if portal.tls:
        records.append(
            DnsRecord(
                f"_autodiscover._tcp.{domain}",
                "SRV",
                f"0 1 {portal.port} {portal.host}.",
                "Outlook Autodiscover",
            )
        )
    records += [
        DnsRecord(f"autoconfig.{domain}", "CNAME", f"{portal.host}.", "Thunderbird autoconfig"),
        DnsRecord(f"autodiscover.{domain}", "CNAME", f"{portal.host}.", "Outlook Autodiscover"),
    ]
    return records
