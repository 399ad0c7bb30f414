"""Commands for the mail system: the outbound queue and the DNS records of a domain
(printed, or checked against what the resolver answers).
One small handler each, acting as the system principal; parser lines in cli/__init__.py.
"""

from __future__ import annotations

import argparse

from groupware.cli.terminal import CommandFailed, print_table
from groupware.services import Services
from groupware.services.core.access import SYSTEM
from groupware.services.devices import dnscheck
from groupware.services.devices.records import discovery_records
from groupware.services.transport.dkimkeys import DnsRecord


def cmd_queue_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        (
            str(m.id),
            m.mail_from or "<>",
            r.address,
            r.state,
            str(r.attempts),
            f"{r.next_attempt_at:%Y-%m-%d %H:%M}",
            r.last_reply[:60],
        )
        for m in services.queue.list_all(SYSTEM)
        for r in m.recipients
    ]
    print_table(("ID", "FROM", "TO", "STATE", "TRIES", "NEXT", "LAST REPLY"), rows)


def cmd_queue_show(args: argparse.Namespace, services: Services) -> None:
    message = services.queue.show(SYSTEM, args.id)
    print(f"id:       {message.id}\nfrom:     {message.mail_from or '<>'}")
    print(f"queued:   {message.created_at:%Y-%m-%d %H:%M:%S}")
    print(f"expires:  {message.expires_at:%Y-%m-%d %H:%M:%S}\nsize:     {message.size}")
    for r in message.recipients:
        print(f"to:       {r.address} [{r.state}, {r.attempts} attempts] {r.last_reply}")


def cmd_queue_retry(args: argparse.Namespace, services: Services) -> None:
    services.queue.retry(SYSTEM, args.id)
    print(f"message {args.id} will be tried again at once")


def cmd_queue_delete(args: argparse.Namespace, services: Services) -> None:
    services.queue.delete(SYSTEM, args.id)
    print(f"message {args.id} deleted from the queue (no bounce sent)")


def cmd_dns(args: argparse.Namespace, services: Services) -> None:
    records = services.dkim.records(args.domain)
    records += discovery_records(services.client_setup, records[0].name)
    if not args.check:
        for record in records:
            print(f"; {record.why}" + (" (optional)" if record.optional else ""))
            print(f"{_zone_line(record)}")
        return
    findings = dnscheck.check(services.resolver, records)
    for finding in findings:
        said = "no answer" if finding.state == dnscheck.UNANSWERED else "found"
        found = f"  ({said}: {finding.found})" if finding.found else ""
        print(f"{finding.state.upper():<11} {_zone_line(finding.record)}{found}")
    to_fix = sum(not finding.fine for finding in findings)
    if to_fix:
        raise CommandFailed(f"{to_fix} of {len(findings)} records are missing, wrong or unanswered")
    print(f"all {len(findings)} records are published")


def _zone_line(record: DnsRecord) -> str:
    return f"{record.name}. IN {record.type} {_quoted(record)}"


def cmd_domain_rotate_dkim(args: argparse.Namespace, services: Services) -> None:
    selector = services.dkim.rotate(SYSTEM, args.name)
    print(f"new DKIM selector {selector}: publish it (groupware dns {args.name}) now")


def _quoted(record: DnsRecord) -> str:
    value = record.value
    if record.type != "TXT":
        return value
    # TXT strings are at most 255 bytes each (RFC 1035 §3.3.14): split long keys.
    return " ".join(f'"{value[i : i + 250]}"' for i in range(0, len(value), 250))
