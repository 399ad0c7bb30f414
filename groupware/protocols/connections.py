"""Connection counting shared by the socket front doors (SMTP, IMAP, POP3, the portal):
how many are open in all and per client network, so a listener can turn newcomers away
politely. A network is what login throttling counts (services/auth/throttle.py): an address,
or an IPv6 /64, which one host usually holds whole."""

from __future__ import annotations

from collections import Counter

from groupware.services.auth.throttle import network


class ConnectionLimits:
    """Connections open now, in all and per client address, shared by a listener's
    connections (all on one event loop, so no lock is needed)."""

    def __init__(self, total: int, per_ip: int) -> None:
        self.total, self.per_ip = total, per_ip
        self.open: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        net = network(ip)
        if sum(self.open.values()) >= self.total or self.open[net] >= self.per_ip:
            return False
        self.open[net] += 1
        return True

    def release(self, ip: str) -> None:
        net = network(ip)
        self.open[net] -= 1
        if self.open[net] <= 0:
            del self.open[net]
