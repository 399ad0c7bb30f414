"""Connection counting shared by the socket front doors (SMTP, IMAP, POP3, the portal):
how many are open in all and per client network, so a listener can turn newcomers away
politely. A network is what login throttling counts (services/auth/throttle.py): an address,
or an IPv6 /64, which one host usually holds whole. The counts are the server's, over all
its worker processes (protocols/tally.py)."""

from __future__ import annotations

from groupware.protocols.tally import Tally
from groupware.services.auth.throttle import network


class ConnectionLimits:
    """Connections open now on one listener (`name`), in all and per client network."""

    def __init__(self, total: int, per_ip: int, tally: Tally | None = None, name: str = "") -> None:
        self.total, self.per_ip = total, per_ip
        self.tally = tally if tally is not None else Tally(rows=1, buckets=1024)
        self.name = name
        self.here = 0  # of them, in this process (a draining worker waits for none)

    @property
    def open(self) -> int:
        """How many are open now, in all."""
        return self.tally.count(self.name)

    def admit(self, ip: str) -> bool:
        per_network = f"{self.name} {network(ip)}"
        if self.open >= self.total or self.tally.count(per_network) >= self.per_ip:
            return False
        self.tally.add(self.name, 1)
        self.tally.add(per_network, 1)
        self.here += 1
        return True

    def release(self, ip: str) -> None:
        self.here -= 1
        self.tally.add(self.name, -1)
        self.tally.add(f"{self.name} {network(ip)}", -1)
