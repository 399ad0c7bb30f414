"""config.load: defaults, the documented groupware.toml, GROUPWARE_* overrides, and the
errors that name the bad key; the Config is frozen; primary_domain.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from groupware import config
from groupware.config import Config, ConfigError, Endpoint

# The example of the README, comments and all.
FULL_TOML = """\
hostname = "mail.example.test"          # name in greetings, certificates, autoconfig
data_dir = "./var"
database_url = "sqlite:///./var/groupware.db"
[listen]                                # "host:port"; a service whose key is absent is not started
smtp = "127.0.0.1:2525"                 # MX
submission = "127.0.0.1:2587"           # STARTTLS
submissions = "127.0.0.1:2465"          # implicit TLS
imap = "127.0.0.1:2143"
imaps = "127.0.0.1:2993"
pop3 = "127.0.0.1:2110"
pop3s = "127.0.0.1:2995"
http = "127.0.0.1:8080"                 # web portal, admin, /dav, /.well-known
[tls]
cert = "./var/tls/cert.pem"             # made by `groupware init` when absent
key = "./var/tls/key.pem"
"""

DEV_PORTS = {
    "smtp": 2525,
    "submission": 2587,
    "submissions": 2465,
    "imap": 2143,
    "imaps": 2993,
    "pop3": 2110,
    "pop3s": 2995,
    "http": 8080,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "groupware.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ports(cfg: Config) -> dict[str, int | None]:
    return {
        f.name: (None if getattr(cfg.listen, f.name) is None else getattr(cfg.listen, f.name).port)
        for f in dataclasses.fields(cfg.listen)
    }


def test_defaults() -> None:
    cfg = config.load(None, environ={})
    assert cfg.hostname == "mail.example.test"
    assert cfg.data_dir == Path("var")
    assert ports(cfg) == DEV_PORTS
    assert all(e.host == "127.0.0.1" for e in vars(cfg.listen).values())
    assert cfg.database_url == f"sqlite:///{Path('var') / 'groupware.db'}"
    assert cfg.tls.cert == Path("var/tls/cert.pem")
    assert cfg.tls.key == Path("var/tls/key.pem")
    assert cfg.auth.max_failures == 5 and cfg.auth.lockout == 900
    assert cfg.log.level == "info" and cfg.log.json is False
    assert cfg.source == "defaults"


def test_database_url_and_tls_follow_data_dir(tmp_path: Path) -> None:
    path = write(tmp_path, 'data_dir = "/srv/groupware"\n')
    cfg = config.load(path, environ={})
    assert cfg.database_url == "sqlite:////srv/groupware/groupware.db"
    assert cfg.tls.cert == Path("/srv/groupware/tls/cert.pem")
    assert cfg.tls.key == Path("/srv/groupware/tls/key.pem")
    assert ports(cfg) == DEV_PORTS  # no [listen]: every default listener


def test_full_toml_example(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_TOML)
    cfg = config.load(path, environ={})
    assert cfg.hostname == "mail.example.test"
    assert cfg.data_dir == Path("var")
    assert cfg.database_url == "sqlite:///./var/groupware.db"
    assert ports(cfg) == DEV_PORTS
    assert cfg.listen.http == Endpoint("127.0.0.1", 8080)
    assert cfg.tls.cert == Path("var/tls/cert.pem")
    assert cfg.tls.key == Path("var/tls/key.pem")
    assert cfg.source == str(path)


def test_sections_of_every_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        database_url = "postgresql+psycopg://gw@db.internal/groupware"
        [auth]
        max_failures = 3
        backoff_base = 1
        loopback_is_secure = false
        [log]
        level = "debug"
        json = true
        [web]
        secret_key = "s3cret"
        threads = 16
        [smtp]
        timeout = 60
        """,
    )
    cfg = config.load(path, environ={})
    assert (cfg.smtp.timeout, cfg.smtp.data_timeout) == (60, 600)
    assert cfg.database_url == "postgresql+psycopg://gw@db.internal/groupware"
    assert cfg.auth.max_failures == 3
    assert cfg.auth.backoff_base == 1.0 and isinstance(cfg.auth.backoff_base, float)
    assert cfg.auth.loopback_is_secure is False
    assert cfg.auth.window == 900  # untouched keys keep their defaults
    assert (cfg.log.level, cfg.log.json) == ("debug", True)
    assert (cfg.web.secret_key, cfg.web.threads) == ("s3cret", 16)


def test_absent_listen_keys_are_not_started(tmp_path: Path) -> None:
    path = write(tmp_path, '[listen]\nimap = "0.0.0.0:143"\nhttp = "[::1]:8443"\n')
    cfg = config.load(path, environ={})
    assert cfg.listen.imap == Endpoint("0.0.0.0", 143)
    assert cfg.listen.http == Endpoint("::1", 8443)
    assert str(cfg.listen.http) == "[::1]:8443"
    assert str(cfg.listen.imap) == "0.0.0.0:143"
    started = {name for name, port in ports(cfg).items() if port is not None}
    assert started == {"imap", "http"}


def test_empty_listen_value_disables_a_service(tmp_path: Path) -> None:
    path = write(tmp_path, '[listen]\nimap = "127.0.0.1:2143"\npop3 = ""\n')
    cfg = config.load(path, environ={})
    assert cfg.listen.pop3 is None
    assert cfg.listen.imap is not None


def test_environment_overrides() -> None:
    cfg = config.load(
        None,
        environ={
            "GROUPWARE_HOSTNAME": "mx.example.org",
            "GROUPWARE_LISTEN_IMAP": "0.0.0.0:1143",
            "GROUPWARE_AUTH_MAX_FAILURES": "3",
            "GROUPWARE_AUTH_BACKOFF_MAX": "2.5",
            "GROUPWARE_LOG_JSON": "yes",
            "GROUPWARE_DATA_DIR": "/srv/gw",
            "GROUPWARE_TEST_POSTGRES": "off",  # the test suite's own switches are ignored
            "HOME": "/root",  # not ours
        },
    )
    assert cfg.hostname == "mx.example.org"
    assert cfg.primary_domain == "example.org"
    assert cfg.listen.imap == Endpoint("0.0.0.0", 1143)
    assert cfg.auth.max_failures == 3
    assert cfg.auth.backoff_max == 2.5
    assert cfg.log.json is True
    assert cfg.database_url == "sqlite:////srv/gw/groupware.db"
    # Overriding one listener keeps the other defaults.
    assert ports(cfg) == {**DEV_PORTS, "imap": 1143}


def test_environment_empty_listen_disables_only_that_service() -> None:
    cfg = config.load(None, environ={"GROUPWARE_LISTEN_POP3": ""})
    assert cfg.listen.pop3 is None
    assert ports(cfg) == {**DEV_PORTS, "pop3": None}


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_TOML)
    environ = {
        "GROUPWARE_HOSTNAME": "mail.example.net",
        "GROUPWARE_LISTEN_POP3": "",
        "GROUPWARE_LISTEN_POP3S": "",
        "GROUPWARE_LISTEN_HTTP": "127.0.0.1:9090",
    }
    cfg = config.load(path, environ=environ)
    assert cfg.hostname == "mail.example.net"
    assert ports(cfg) == {**DEV_PORTS, "pop3": None, "pop3s": None, "http": 9090}


def test_groupware_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'hostname = "mail.example.com"\n')
    cfg = config.load(None, environ={"GROUPWARE_CONFIG": str(path)})
    assert cfg.hostname == "mail.example.com"
    assert cfg.source == str(path)
    other = tmp_path / "other.toml"
    other.write_text('hostname = "mail.other.test"\n')
    # An explicit path (--config) wins over the environment.
    assert config.load(other, environ={"GROUPWARE_CONFIG": str(path)}).hostname == (
        "mail.other.test"
    )


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('hostnme = "mail.example.test"\n', "'hostnme'"),
        ('[listen]\nimap4 = "127.0.0.1:143"\n', "listen.imap4"),
        ("[auth]\nmax_failure = 3\n", "auth.max_failure"),
        ("[ldap]\nurl = 'x'\n", "'ldap'"),
        ('[listen]\nimap = "127.0.0.1"\n', "listen.imap"),
        ('[listen]\nimap = "127.0.0.1:99999"\n', "listen.imap"),
        ('[listen]\nimap = ":143"\n', "listen.imap"),
        ('[listen]\nimap = "localhost:imap"\n', "listen.imap"),
        ("[listen]\nimap = 143\n", "listen.imap"),
        ("[auth]\nmax_failures = -1\n", "auth.max_failures"),
        ("[auth]\nbackoff_base = -0.5\n", "auth.backoff_base"),
        ('[auth]\nlockout = "soon"\n', "auth.lockout"),
        ("[auth]\nmax_failures = 3.5\n", "auth.max_failures"),
        ('[auth]\nbackoff_max = "nan"\n', "auth.backoff_max"),
        ("[auth]\nmax_failures = true\n", "auth.max_failures"),
        ('[auth]\nloopback_is_secure = "maybe"\n', "auth.loopback_is_secure"),
        ("[log]\njson = 1\n", "log.json"),
        ('[log]\nlevel = "loud"\n', "log.level"),
        ('hostname = "mail..example.test"\n', "hostname"),
        ('hostname = "mail_server.example.test"\n', "hostname"),
        ('hostname = "mäil.example.test"\n', "hostname"),
        ('hostname = ""\n', "hostname"),
        ("hostname = 42\n", "hostname"),
        ('database_url = "mysql://localhost/gw"\n', "database_url"),
        ('listen = "127.0.0.1:25"\n', "[listen]"),
        ("[smtp]\ntimeout = 0\n", "smtp.timeout"),
        ("[smtp]\ndata_timeout = 0\n", "smtp.data_timeout"),
    ],
)
def test_errors_name_the_bad_key(tmp_path: Path, toml: str, names: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as error:
        config.load(path, environ={})
    assert names in str(error.value)
    assert str(path) in str(error.value)


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'hostname = "mail.example.test\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(path, environ={})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"hostname = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(binary, environ={})


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match="no such configuration file") as error:
        config.load(missing, environ={})
    assert str(missing) in str(error.value)
    with pytest.raises(ConfigError, match="nowhere.toml"):
        config.load(None, environ={"GROUPWARE_CONFIG": str(missing)})


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("GROUPWARE_FOO", "1", "GROUPWARE_FOO"),
        ("GROUPWARE_LISTEN", "127.0.0.1:25", "GROUPWARE_LISTEN"),
        ("GROUPWARE_AUTH_NOPE", "1", "auth.nope"),
        ("GROUPWARE_AUTH_MAX_FAILURES", "many", "auth.max_failures"),
        ("GROUPWARE_AUTH_MAX_FAILURES", "-3", "auth.max_failures"),
        ("GROUPWARE_LISTEN_IMAP", "nowhere", "listen.imap"),
        ("GROUPWARE_LOG_JSON", "sometimes", "log.json"),
        ("GROUPWARE_HOSTNAME", "bad host", "hostname"),
    ],
)
def test_environment_errors_name_the_bad_key(variable: str, value: str, names: str) -> None:
    with pytest.raises(ConfigError) as error:
        config.load(None, environ={variable: value})
    assert names in str(error.value)


def test_config_is_frozen() -> None:
    cfg = config.load(None, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hostname = "other.example.test"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.auth.max_failures = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.listen.imap = None  # type: ignore[misc]


@pytest.mark.parametrize(
    ("hostname", "primary"),
    [
        ("mail.example.test", "example.test"),
        ("mx1.eu.example.org", "eu.example.org"),
        ("example.test", "example.test"),
        ("localhost", "localhost"),
    ],
)
def test_primary_domain(hostname: str, primary: str) -> None:
    assert Config(hostname=hostname).primary_domain == primary


def test_login_timeouts_and_pop3_limits(tmp_path: Path) -> None:
    defaults = config.load(None, environ={})
    assert (defaults.imap.login_timeout, defaults.pop3.login_timeout) == (180, 180)
    assert (defaults.pop3.max_connections, defaults.pop3.max_connections_per_ip) == (1000, 50)
    path = write(tmp_path, "[imap]\nlogin_timeout = 60\n[pop3]\nmax_connections_per_ip = 5\n")
    environ = {"GROUPWARE_POP3_LOGIN_TIMEOUT": "30"}
    cfg = config.load(path, environ=environ)
    assert (cfg.imap.login_timeout, cfg.pop3.login_timeout) == (60, 30)
    assert (cfg.pop3.max_connections, cfg.pop3.max_connections_per_ip) == (1000, 5)


def test_web_connection_limits(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "[web]\nmax_connections_per_ip = 20\n"), environ={})
    assert (cfg.web.max_connections, cfg.web.max_connections_per_ip) == (1000, 20)
    assert cfg.web.header_timeout == 30
    for key in ("max_connections", "max_connections_per_ip", "header_timeout"):
        with pytest.raises(config.ConfigError, match="at least 1"):
            config.load(write(tmp_path, f"[web]\n{key} = 0\n"), environ={})


def test_workers_one_per_core_by_default_or_as_many_as_said() -> None:
    cores = len(os.sched_getaffinity(0))
    default = config.load(environ={})
    assert default.server.workers == 0 and 1 <= config.worker_count(default) <= min(cores, 64)
    four = config.load(environ={"GROUPWARE_SERVER_WORKERS": "4"})
    assert four.server.workers == 4 and config.worker_count(four) == 4
    for wrong in ("65", "-1"):
        with pytest.raises(ConfigError, match="server.workers"):
            config.load(environ={"GROUPWARE_SERVER_WORKERS": wrong})
    # A listener on any free port: each worker would get another, so one worker.
    free = {"GROUPWARE_LISTEN_IMAP": "127.0.0.1:0"}
    assert config.worker_count(config.load(environ=free)) == 1
    with pytest.raises(ConfigError, match="port 0 needs server.workers = 1"):
        config.load(environ={**free, "GROUPWARE_SERVER_WORKERS": "2"})
