"""Frozen settings read once from groupware.toml and GROUPWARE_* environment variables.

To add a setting: a field with its default on the right dataclass below; `load` picks it
up from `[section] key` and `GROUPWARE_SECTION_KEY` and checks its type by the default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "GROUPWARE_"


class ConfigError(Exception):
    """A setting is missing, unknown or malformed; the message names the key."""


@dataclass(frozen=True)
class Endpoint:
    """A listening address, written "host:port" ("[::1]:port" for IPv6)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ListenConfig:
    """Where each service listens; a service whose key is absent (None) is not started."""

    smtp: Endpoint | None = Endpoint("127.0.0.1", 2525)
    submission: Endpoint | None = Endpoint("127.0.0.1", 2587)
    submissions: Endpoint | None = Endpoint("127.0.0.1", 2465)
    imap: Endpoint | None = Endpoint("127.0.0.1", 2143)
    imaps: Endpoint | None = Endpoint("127.0.0.1", 2993)
    pop3: Endpoint | None = Endpoint("127.0.0.1", 2110)
    pop3s: Endpoint | None = Endpoint("127.0.0.1", 2995)
    http: Endpoint | None = Endpoint("127.0.0.1", 8080)


@dataclass(frozen=True)
class TLSConfig:
    """Certificate and key; empty means data_dir/tls/cert.pem and key.pem."""

    cert: Path = Path()
    key: Path = Path()


@dataclass(frozen=True)
class AuthConfig:
    """Login throttling (per account and client address, per address, and account-wide
    back-off) and the plaintext-auth policy; services/auth/throttle.py says how they combine."""

    window: int = 900  # seconds over which failures are counted
    max_failures: int = 5  # per (account, client address), and TOTP codes, before a lock-out
    max_failures_per_ip: int = 20  # per client address, within the window
    lockout: int = 900  # seconds a key stays locked
    backoff_base: float = 0.5  # first failure delays the next answer this long…
    backoff_max: float = 15.0  # …doubling per failure up to this
    known_address_days: int = 30  # an address logged in from stays exempt from account back-off
    loopback_is_secure: bool = True  # plaintext AUTH allowed from 127.0.0.0/8 and ::1
    min_password_length: int = 10
    login_cache: int = 300  # seconds a login (IMAP, POP3, SMTP, DAV) is remembered (0: never)


@dataclass(frozen=True)
class StoreConfig:
    """Where message bytes live: "files" under data_dir/blobs, or "database" (for several
    nodes on one PostgreSQL with no shared disk)."""

    blobs: str = "files"


@dataclass(frozen=True)
class SMTPConfig:
    """Limits of the SMTP listeners; past max_connections a client gets 421 and goes.
    `timeout` is how long a client may take over each command line (Postfix's
    smtpd_timeout; RFC 5321 §4.5.3.2.7 asks at least 5 minutes), `data_timeout` over a
    whole message, from 354 to the final dot; then it gets 421 and is closed."""

    max_message_bytes: int = 50 * 1024 * 1024
    max_recipients: int = 100
    max_connections: int = 500
    max_connections_per_ip: int = 20
    timeout: int = 300  # seconds
    data_timeout: int = 600  # seconds: 50 MB at about 85 kB/s


@dataclass(frozen=True)
class IMAPConfig:
    """Limits of the IMAP listeners and what they offer. `hide_capabilities` keeps
    capabilities from accounts whose clients trip over them: "alice@example.com=QRESYNC
    CONDSTORE; *=COMPRESS=DEFLATE" ("*" is every account)."""

    max_connections: int = 2000
    max_connections_per_ip: int = 1000
    max_connections_per_user: int = 100
    max_line: int = 64 * 1024  # octets in a command line (literals are not counted)
    max_literal: int = 64 * 1024 * 1024  # the largest APPEND (also APPENDLIMIT)
    idle_timeout: int = 30 * 60  # seconds; RFC 9051 §5.4 wants at least 30 minutes
    # Seconds from connecting to logging in, then the connection ends (Dovecot's 3 minutes;
    # RFC 9051 §5.4's 30-minute autologout is for sessions that logged in).
    login_timeout: int = 3 * 60
    compress: bool = True  # offer COMPRESS=DEFLATE (RFC 4978)
    hide_capabilities: str = ""

    def hidden_for(self, address: str) -> frozenset[str]:
        """The capabilities `address` does not see (upper case)."""
        hidden: set[str] = set()
        for rule in self.hide_capabilities.split(";"):
            who, _, names = rule.partition("=")
            if who.strip().lower() in {"*", address.lower()}:
                hidden.update(name.upper() for name in names.split())
        return frozenset(hidden)


@dataclass(frozen=True)
class POP3Config:
    """Limits of the POP3 listeners; past a limit a client gets -ERR [SYS/TEMP] and goes."""

    max_connections: int = 1000
    max_connections_per_ip: int = 50
    # Seconds from connecting to logging in (Dovecot's 3 minutes); RFC 1939 §3's
    # 10-minute autologout is for sessions that logged in.
    login_timeout: int = 3 * 60


@dataclass(frozen=True)
class OutboundConfig:
    """The outbound queue. `transport` routes domains to fixed hosts, overriding MX:
    "example.net=10.0.0.5:25, *=smarthost.example:587" ("*" is every other domain)."""

    transport: str = ""
    retry_for: int = 5 * 24 * 3600  # seconds before a message bounces as undeliverable
    first_retry: int = 60  # seconds after the first temporary failure, then doubling…
    max_retry_interval: int = 4 * 3600  # …up to this
    concurrency: int = 8  # connections at once
    nameservers: str = ""  # "host:port, …" instead of the system's resolvers
    connect_timeout: int = 30
    poll_interval: float = 2.0  # seconds between looks at the queue


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    json: bool = False


@dataclass(frozen=True)
class WebConfig:
    """The web portal; an empty secret_key means one is kept in data_dir/web-secret.
    A session ends after session_hours unused, or session_max_days after its login;
    password, TOTP and app-password changes, and every admin console change, want the
    password typed within reauth_minutes (else they ask for it again). Past
    max_connections, or max_connections_per_ip from one address (but trusted_proxy's), a
    client gets 503; request headers must all arrive within header_timeout seconds, and a
    body as web/server.py says (a minimum rate; over 1 MiB only for /dav and webmail's
    attachments, which take up to max_body_bytes). `public_url` is where people and their
    apps reach the portal and /dav (the reverse proxy's https address); empty means
    https://<hostname>; autoconfig, profiles and DNS records give it out."""

    secret_key: str = ""
    public_url: str = ""
    trusted_proxy: str = ""  # address of a reverse proxy whose X-Forwarded-* we believe
    session_hours: int = 12
    session_max_days: int = 7
    reauth_minutes: int = 10
    max_body_bytes: int = 64 * 1024 * 1024
    threads: int = 8
    max_connections: int = 1000
    max_connections_per_ip: int = 50  # browsers open ~6 per host: a few people behind a NAT
    header_timeout: int = 30  # nginx's client_header_timeout is 60, Apache's 20-40


MAX_WORKERS = 64


@dataclass(frozen=True)
class ServerConfig:
    """How many worker processes `groupware serve` runs: each serves every port (the
    kernel shares the connections out, SO_REUSEPORT), and a supervisor restarts one that
    dies. 1 runs the server in the one process; 0 (the default) one per core
    (`worker_count`). At a reload (SIGHUP) the old workers stop taking connections and
    serve the ones they have until they end, for up to drain_seconds (then IMAP and POP3
    clients get a BYE, and reconnect to the new workers), as Dovecot's and Postfix's
    processes finish their sessions."""

    workers: int = 0
    drain_seconds: int = 3600


@dataclass(frozen=True)
class DavConfig:
    """CalDAV/CardDAV at /dav (Radicale): the largest request body it takes (a calendar
    imported whole with PUT can be large; Radicale does not limit it when embedded)."""

    max_body_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class Config:
    hostname: str = "mail.example.test"
    data_dir: Path = Path("./var")
    database_url: str = ""  # "" means sqlite:///<data_dir>/groupware.db
    listen: ListenConfig = field(default_factory=ListenConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    log: LogConfig = field(default_factory=LogConfig)
    web: WebConfig = field(default_factory=WebConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    smtp: SMTPConfig = field(default_factory=SMTPConfig)
    imap: IMAPConfig = field(default_factory=IMAPConfig)
    pop3: POP3Config = field(default_factory=POP3Config)
    dav: DavConfig = field(default_factory=DavConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    source: str = "defaults"  # where the settings came from, for messages

    @property
    def portal_url(self) -> str:
        """The portal's public address without a final slash: web.public_url, else
        https://<hostname> (the reverse proxy of deploy/nginx.conf)."""
        return self.web.public_url.rstrip("/") or f"https://{self.hostname}"

    @property
    def primary_domain(self) -> str:
        """The hostname without its first label: mail.example.test → example.test."""
        labels = self.hostname.split(".")
        return ".".join(labels[1:]) if len(labels) > 2 else self.hostname


SECTIONS: dict[str, type[Any]] = {
    "listen": ListenConfig,
    "tls": TLSConfig,
    "auth": AuthConfig,
    "log": LogConfig,
    "web": WebConfig,
    "store": StoreConfig,
    "outbound": OutboundConfig,
    "smtp": SMTPConfig,
    "imap": IMAPConfig,
    "pop3": POP3Config,
    "dav": DavConfig,
    "server": ServerConfig,
}


def worker_count(config: Config) -> int:
    """The workers `groupware serve` runs: server.workers, or if 0 one per core this
    process may use (up to MAX_WORKERS), but one when a listener takes any free port
    (port 0): each worker would get a port of its own."""
    if config.server.workers:
        return config.server.workers
    if _any_free_port(config.listen):
        return 1
    return min(_cores(), MAX_WORKERS)


def _cores() -> int:
    """The cores this process may use: its CPU affinity, within a container's CPU quota
    (cgroup v2 cpu.max), which the affinity does not show."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def _any_free_port(listen: ListenConfig) -> bool:
    endpoints = (getattr(listen, f.name) for f in dataclasses.fields(listen))
    return any(endpoint is not None and endpoint.port == 0 for endpoint in endpoints)


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), overlay GROUPWARE_* variables, validate, freeze."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get(ENV_PREFIX + "CONFIG") or None
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    listen_given = "listen" in raw
    _overlay_environment(raw, environ)
    # Only a [listen] table in the file means "exactly these"; GROUPWARE_LISTEN_* variables
    # override single listeners and leave the others as they were.
    return _build(raw, source, listen_given)


def _overlay_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    top_keys = {f.name for f in dataclasses.fields(Config)} - set(SECTIONS) - {"source"}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        if name.startswith(ENV_PREFIX + "TEST_"):
            continue  # the test suite's own switches
        key = name[len(ENV_PREFIX) :].lower()
        if key in top_keys:
            raw[key] = value
            continue
        section, _, sub = key.partition("_")
        if section not in SECTIONS or not sub:
            raise ConfigError(f"environment {name}: unknown setting")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: must be a table")
        table[sub] = value


def _build(raw: dict[str, Any], source: str, listen_given: bool) -> Config:
    values: dict[str, Any] = {"source": source}
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            values[key] = _build_section(key, SECTIONS[key], value, source, listen_given)
        elif key in {"hostname", "database_url"}:
            values[key] = _expect_str(key, value, source)
        elif key == "data_dir":
            values[key] = Path(_expect_str(key, value, source))
        else:
            raise ConfigError(f"{source}: unknown setting {key!r}")
    config = Config(**values)
    _check_hostname(config.hostname, source)
    if not config.database_url:
        config = dataclasses.replace(
            config, database_url=f"sqlite:///{config.data_dir / 'groupware.db'}"
        )
    if config.tls.cert == Path():
        config = dataclasses.replace(
            config, tls=dataclasses.replace(config.tls, cert=config.data_dir / "tls" / "cert.pem")
        )
    if config.tls.key == Path():
        config = dataclasses.replace(
            config, tls=dataclasses.replace(config.tls, key=config.data_dir / "tls" / "key.pem")
        )
    if not config.database_url.startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"{source}: database_url: must be sqlite:/// or postgresql+psycopg://")
    parse_transport(config.outbound.transport, source)
    if config.store.blobs not in {"files", "database"}:
        raise ConfigError(f"{source}: store.blobs: one of files, database")
    if config.smtp.timeout < 1 or config.smtp.data_timeout < 1:
        raise ConfigError(f"{source}: smtp.timeout and smtp.data_timeout: at least 1 second")
    web = config.web
    if min(web.max_connections, web.max_connections_per_ip, web.header_timeout) < 1:
        raise ConfigError(f"{source}: web.max_connections, *_per_ip, header_timeout: at least 1")
    if web.public_url and not _is_origin(web.public_url):
        raise ConfigError(
            f"{source}: web.public_url: expected https://host[:port], got {web.public_url!r}"
        )
    if not 0 <= config.server.workers <= MAX_WORKERS:
        raise ConfigError(f"{source}: server.workers: from 0 (one per core) to {MAX_WORKERS}")
    if config.server.drain_seconds < 0:
        raise ConfigError(f"{source}: server.drain_seconds: 0 or more")
    if config.server.workers > 1 and _any_free_port(config.listen):
        raise ConfigError(f"{source}: a listener on port 0 needs server.workers = 1")
    if config.log.level not in {"debug", "info", "warning", "error"}:
        raise ConfigError(f"{source}: log.level: one of debug, info, warning, error")
    return config


def _build_section(
    name: str, cls: type[Any], table: dict[str, Any], source: str, listen_given: bool
) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    values: dict[str, Any] = {}
    if name == "listen" and listen_given:
        values = {key: None for key in fields}  # only the services named are started
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown setting {name}.{key}")
        where = f"{name}.{key}"
        default = getattr(defaults, key)
        if name == "listen":
            values[key] = _parse_endpoint(where, value, source)
        elif isinstance(default, bool):
            values[key] = _expect_bool(where, value, source)
        elif isinstance(default, int):
            values[key] = _expect_number(where, value, source, int)
        elif isinstance(default, float):
            values[key] = _expect_number(where, value, source, float)
        elif isinstance(default, Path):
            values[key] = Path(_expect_str(where, value, source))
        else:
            values[key] = _expect_str(where, value, source)
    return cls(**values)


def _expect_str(where: str, value: Any, source: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {where}: expected a string, got {value!r}")
    return value


def _expect_bool(where: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    }:
        return value.lower() in {"1", "true", "yes", "on"}
    raise ConfigError(f"{source}: {where}: expected true or false, got {value!r}")


def _expect_number(where: str, value: Any, source: str, kind: type[Any]) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"{source}: {where}: expected a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {where}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or (number != value and isinstance(value, float)):
        raise ConfigError(f"{source}: {where}: expected a number, got {value!r}")
    if number < 0:
        raise ConfigError(f"{source}: {where}: must not be negative")
    return number


def _parse_endpoint(where: str, value: Any, source: str) -> Endpoint | None:
    text = _expect_str(where, value, source).strip()
    if not text:
        return None
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f'{source}: {where}: expected "host:port", got {text!r}')
    return Endpoint(host, int(port_text))


def _is_origin(url: str) -> bool:
    """http(s)://host[:port] with nothing after but an optional "/"."""
    return re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?", url) is not None


def _check_hostname(hostname: str, source: str) -> None:
    labels = hostname.split(".")
    if not hostname or any(
        not label or len(label) > 63 or not label.isascii() or not label.replace("-", "").isalnum()
        for label in labels
    ):
        raise ConfigError(f"{source}: hostname: not a valid host name: {hostname!r}")


def parse_transport(text: str, source: str = "config") -> dict[str, Endpoint]:
    """outbound.transport as {domain or "*": Endpoint}; errors name the bad entry."""
    routes: dict[str, Endpoint] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        domain, sep, target = entry.partition("=")
        endpoint = _parse_endpoint("outbound.transport", target, source) if sep else None
        if not domain.strip() or endpoint is None:
            raise ConfigError(
                f"{source}: outbound.transport: expected domain=host:port, got {entry!r}"
            )
        routes[domain.strip().lower()] = endpoint
    return routes
