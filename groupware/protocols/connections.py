"""Connection counting shared by the socket front doors (SMTP, IMAP, POP3): how many are
open in all and per client address, so a listener can turn newcomers away politely."""

from __future__ import annotations

from collections import Counter


class ConnectionLimits:
    """Connections open now, in all and per client address, shared by a listener's
    connections (all on one event loop, so no lock is needed)."""

    def __init__(self, total: int, per_ip: int) -> None:
        self.total, self.per_ip = total, per_ip
        self.open: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        if sum(self.open.values()) >= self.total or self.open[ip] >= self.per_ip:
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]
