"""What clients are told about where to connect: one description of the configured
listeners and the portal's public address, read by autoconfig, Autodiscover, Apple
profiles, the Devices page and the DNS records, so that they never disagree.

A listener configured on port 0 (tests) is described with the port it was given once
bound (`bound`, from the runtime). The MX listener (smtp) is for other servers, never
offered to clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from groupware.config import Config

# Listener name → (protocol, security), in the order clients should prefer them:
# implicit TLS before STARTTLS (RFC 8314 §3), IMAP before POP3.
INCOMING = {
    "imaps": ("imap", "tls"),
    "imap": ("imap", "starttls"),
    "pop3s": ("pop3", "tls"),
    "pop3": ("pop3", "starttls"),
}
OUTGOING = {"submissions": ("smtp", "tls"), "submission": ("smtp", "starttls")}
DAV_PATH = "/dav/"


@dataclass(frozen=True)
class Server:
    """One way in: `listener` is its config name, `security` "tls" (implicit TLS from
    the first byte) or "starttls" (plain until STARTTLS/STLS, which is required before
    a password is taken)."""

    listener: str
    protocol: str  # imap, pop3, smtp
    host: str
    port: int
    security: str

    @property
    def implicit_tls(self) -> bool:
        return self.security == "tls"


@dataclass(frozen=True)
class Portal:
    """The portal and /dav as people reach them (web.public_url)."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def origin(self) -> str:
        default = 443 if self.tls else 80
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")

    @property
    def dav_url(self) -> str:
        return self.origin + DAV_PATH

    def principal_url(self, address: str) -> str:
        return f"{self.dav_url}{address}/"


class ClientSetup:
    """The servers a client should use, from the configuration (and bound ports)."""

    def __init__(self, config: Config) -> None:
        self.hostname = config.hostname
        self.signing_pair = (config.tls.cert, config.tls.key)  # signs Apple profiles
        self._listen = config.listen
        self._bound: dict[str, int] = {}
        url = urlsplit(config.portal_url)
        scheme = url.scheme or "https"
        self.portal = Portal(
            scheme, url.hostname or config.hostname, url.port or (443 if scheme == "https" else 80)
        )

    def bound(self, listener: str, port: int) -> None:
        """The runtime's word on the port a listener got (configured 0: any free one)."""
        self._bound[listener] = port

    def incoming(self) -> list[Server]:
        """IMAP and POP3 ways in, best first."""
        return self._servers(INCOMING)

    def outgoing(self) -> list[Server]:
        """Submission ways in, best first."""
        return self._servers(OUTGOING)

    def first(self, protocol: str) -> Server | None:
        """The best way in for `protocol` (imap, pop3, smtp), or None when none listens."""
        found = [s for s in self.incoming() + self.outgoing() if s.protocol == protocol]
        return found[0] if found else None

    def _servers(self, table: dict[str, tuple[str, str]]) -> list[Server]:
        servers = []
        for name, (protocol, security) in table.items():
            endpoint = getattr(self._listen, name)
            if endpoint is None:
                continue
            port = self._bound.get(name, endpoint.port)
            servers.append(Server(name, protocol, self.hostname, port, security))
        return servers
