"""The `groupware` command on SQLite and PostgreSQL: set-up, directory admin, bad input.

Each process start costs about a second of imports, so one test drives the real console
script end to end and the rest call `cli.main(argv)` in-process with the same arguments.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

from groupware import config as config_module
from groupware import runtime
from groupware.cli import main
from groupware.errors import AuthFailed, TryLater

ADMIN_PASSWORD = "Adm1n-passw0rd"
PASSWORD = "S3cret-pass"
GENERATED = re.compile(r"^(\S+@\S+) password: (\S+) \(shown once\)$", re.MULTILINE)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Groupware:
    """Runs `groupware --config FILE ...`, in-process (`run`) or as a process (`spawn`)."""

    def __init__(self, cfgfile: Path) -> None:
        self.cfgfile = cfgfile

    def run(self, *args: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        with (
            redirect_stdout(out),
            redirect_stderr(err),
            mock.patch.object(sys, "stdin", io.StringIO(stdin)),
        ):
            code = main(["--config", str(self.cfgfile), *args])
        return Result(code, out.getvalue(), err.getvalue())

    def spawn(self, *args: str, stdin: str = "") -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE_")}
        done = subprocess.run(
            [sys.executable, "-m", "groupware", "--config", str(self.cfgfile), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self.run(*args, stdin=stdin)
        assert result.code == 0, result
        return result.out

    def fails(self, *args: str, code: int = 1) -> str:
        """The one error line of a refused command, without its `groupware: error: `."""
        return error_line(self.run(*args), code)

    def authenticate(self, login: str, secret: str) -> str:
        built = runtime.build(config_module.load(self.cfgfile))
        try:
            return built.services.auth.authenticate(
                login, secret, "imap", "127.0.0.1"
            ).principal.address
        finally:
            built.close()


def error_line(result: Result, code: int = 1) -> str:
    assert result.code == code, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("groupware: error: ")
    return lines[0].removeprefix("groupware: error: ")


def column(out: str, index: int = 0) -> list[str]:
    """One column of a table printed by a list command, without its header."""
    return [line.split()[index] for line in out.splitlines()[1:]]


def write_config(tmp_path: Path, database_url: str, extra: str = "", listen: str = "") -> Path:
    cfgfile = tmp_path / "groupware.toml"
    cfgfile.write_text(
        f'hostname = "mail.example.test"\n'
        f"data_dir = {json.dumps(str(tmp_path / 'var'))}\n"
        f"database_url = {json.dumps(database_url)}\n"
        f"{extra}"
        f"[listen]\n{listen}"  # an empty table starts no listener
        "[auth]\nbackoff_base = 0.0\n"
    )
    return cfgfile


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("GROUPWARE_") and not name.startswith("GROUPWARE_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def gw(tmp_path: Path, database_url: str) -> Groupware:
    return Groupware(write_config(tmp_path, database_url))


@pytest.fixture
def admin(gw: Groupware) -> Groupware:
    """An initialised server: example.test, admin@example.test (ADMIN_PASSWORD)."""
    gw.ok("init", "--admin-password", ADMIN_PASSWORD)
    return gw


def test_console_script_end_to_end(gw: Groupware) -> None:
    assert "not current" in error_line(gw.spawn("serve"))

    first = gw.spawn("init")
    assert first.code == 0, first
    assert "created domain example.test" in first.out
    [(login, password)] = GENERATED.findall(first.out)
    assert login == "admin@example.test"
    assert gw.authenticate(login, password) == "admin@example.test"

    added = gw.spawn("user", "add", "alice@example.test", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.code == 0, added
    assert gw.authenticate("alice@example.test", PASSWORD) == "alice@example.test"
    assert "already a user" in error_line(gw.spawn("user", "add", "alice@example.test"))


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    gw = Groupware(write_config(tmp_path, url, listen='http = "127.0.0.1:0"\n'))
    gw.ok("init", "--admin-password", ADMIN_PASSWORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "groupware", "--config", str(gw.cfgfile), "serve"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "groupware ready" in line:
                break
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        assert "stopping" in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_init_again_and_usage_errors(admin: Groupware) -> None:
    out = admin.ok("init")
    assert "nothing changed" in out
    assert "password" not in out
    assert "required: address" in admin.fails("user", "add", code=2)
    assert "invalid choice" in admin.fails("frobnicate", code=2)
    assert "one of the arguments --user --group is required" in admin.fails(
        "role", "grant", "admin", code=2
    )
    assert "usage:" in admin.ok("user", "add", "--help")


def test_unknown_config_key_is_one_line(tmp_path: Path) -> None:
    gw = Groupware(write_config(tmp_path, "sqlite:///unused.db", extra='colour = "blue"\n'))
    assert "unknown setting 'colour'" in error_line(gw.spawn("domain", "list"))
    assert "unknown setting 'colour'" in gw.fails("init")
    assert not (tmp_path / "var").exists()


def test_init_with_password_and_domain(gw: Groupware, tmp_path: Path) -> None:
    assert "not current" in gw.fails("user", "list")
    assert "too short" in gw.fails("init", "--admin-password", "short")
    assert "not a valid domain" in gw.fails("init", "--domain", "bad..domain")
    assert not (tmp_path / "var").exists()  # refused before anything was made

    out = gw.ok("init", "--admin-password", ADMIN_PASSWORD, "--domain", "Example.ORG")
    assert "created admin@example.org" in out
    assert not GENERATED.search(out)
    assert gw.authenticate("admin@example.org", ADMIN_PASSWORD) == "admin@example.org"

    out = gw.ok("init", "--admin-password", "Another-passw0rd", "--domain", "example.org")
    assert "nothing changed" in out
    assert gw.authenticate("admin@example.org", ADMIN_PASSWORD) == "admin@example.org"
    assert gw.ok("db", "current").strip() == "the database schema is current"
    assert gw.ok("db", "upgrade").strip() == "the database schema is current"


def test_domains(admin: Groupware) -> None:
    assert admin.ok("domain", "add", "Example.NET").strip() == "added domain example.net"
    assert "already exists" in admin.fails("domain", "add", "example.net")
    assert "not a valid domain" in admin.fails("domain", "add", "no_such thing")
    assert column(admin.ok("domain", "list")) == ["example.net", "example.test"]
    assert "still has 1 users" in admin.fails("domain", "remove", "example.test")
    admin.ok("domain", "remove", "example.net")
    assert "unknown domain" in admin.fails("domain", "remove", "example.net")
    assert column(admin.ok("domain", "list")) == ["example.test"]


def test_users(admin: Groupware) -> None:
    admin.ok("domain", "add", "example.net")
    admin.ok("user", "add", "Alice@Example.TEST", "--password", PASSWORD, "--name", "Alice A")
    out = admin.ok("user", "add", "bob@example.net", "--quota", "2G")
    [(login, generated)] = GENERATED.findall(out)
    assert login == "bob@example.net"
    assert admin.authenticate("bob@example.net", generated) == "bob@example.net"

    listed = admin.ok("user", "list")
    assert column(listed) == ["admin@example.test", "alice@example.test", "bob@example.net"]
    assert "2G" in listed
    assert column(admin.ok("user", "list", "--domain", "example.net")) == ["bob@example.net"]

    shown = admin.ok("user", "show", "alice@example.test")
    assert "name:          Alice A" in shown
    assert "status:        active" in shown
    assert "quota:         unlimited" in shown

    admin.ok("user", "passwd", "alice@example.test", "--password-stdin", stdin="N3w-password\n")
    assert admin.authenticate("alice@example.test", "N3w-password") == "alice@example.test"
    admin.ok("user", "edit", "alice@example.test", "--quota", "512M", "--name", "Alice")
    assert "quota:         512M" in admin.ok("user", "show", "alice@example.test")

    admin.ok("user", "disable", "alice@example.test")
    assert "disabled" in admin.ok("user", "show", "alice@example.test")
    with pytest.raises(AuthFailed):
        admin.authenticate("alice@example.test", "N3w-password")
    admin.ok("user", "enable", "alice@example.test")
    assert "status:        active" in admin.ok("user", "show", "alice@example.test")

    admin.ok("user", "remove", "bob@example.net")
    assert "unknown user" in admin.fails("user", "show", "bob@example.net")
    assert column(admin.ok("user", "list")) == ["admin@example.test", "alice@example.test"]


def test_bad_input_changes_nothing(admin: Groupware) -> None:
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    users = admin.ok("user", "list")
    roles = admin.ok("role", "list")

    assert "not a valid e-mail address" in admin.fails(
        "user", "add", "alice", "--password", PASSWORD
    )
    assert "unknown domain" in admin.fails("user", "add", "x@example.org", "--password", PASSWORD)
    assert "already a user" in admin.fails("user", "add", "alice@example.test")
    assert "too short" in admin.fails("user", "add", "bob@example.test", "--password", "abc")
    assert "too weak" in admin.fails("user", "add", "bob@example.test", "--password", "a" * 12)
    assert "not a size" in admin.fails("user", "add", "bob@example.test", "--quota", "5X", code=2)
    assert "no password" in admin.fails("user", "add", "bob@example.test", "--password-stdin")
    assert "unknown user" in admin.fails("user", "passwd", "nobody@example.test")
    assert "unknown permission" in admin.fails(
        "role", "create", "helpdesk", "--permission", "mail.delete_everything"
    )
    assert "unknown role" in admin.fails("role", "grant", "nope", "--user", "alice@example.test")

    assert admin.ok("user", "list") == users
    assert admin.ok("role", "list") == roles
    assert "bob@example.test" not in admin.ok("alias", "list")


def test_aliases(admin: Groupware) -> None:
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    admin.ok("alias", "add", "info@example.test", "alice@example.test", "ext@elsewhere.example")
    admin.ok("alias", "add", "@example.test", "alice@example.test")
    assert "no such local user" in admin.fails("alias", "add", "x@example.test", "nob@example.test")
    assert "unknown domain" in admin.fails("alias", "add", "x@example.org", "alice@example.test")
    assert "already an alias" in admin.fails("alias", "add", "info@example.test", "a@b.example")

    listed = admin.ok("alias", "list", "--domain", "example.test")
    assert column(listed) == ["@example.test", "info@example.test"]
    assert "alice@example.test, ext@elsewhere.example" in listed

    admin.ok("alias", "remove", "@example.test")
    assert "unknown alias" in admin.fails("alias", "remove", "@example.test")
    assert column(admin.ok("alias", "list")) == ["info@example.test"]

    admin.ok("domain", "add", "bücher.example")  # kept in IDNA form, found in either
    admin.ok("alias", "add", "info@BÜCHER.example", "alice@example.test")
    idna = ["info@xn--bcher-kva.example"]
    assert column(admin.ok("alias", "list", "--domain", "Bücher.example")) == idna
    assert column(admin.ok("alias", "list", "--domain", "xn--bcher-kva.example")) == idna
    assert "not a valid domain" in admin.fails("alias", "list", "--domain", "bad..example")


def test_groups(admin: Groupware) -> None:
    for name in ("alice", "bob"):
        admin.ok("user", "add", f"{name}@example.test", "--password", PASSWORD)
    out = admin.ok(
        "group", "add", "team", "--address", "team@example.test", "--member", "alice@example.test"
    )
    assert "added group team@example.test with 1 members" in out
    assert "unknown user" in admin.fails(
        "group", "add", "other", "--domain", "example.test", "--member", "nobody@example.test"
    )
    assert admin.ok("group", "members", "team").split() == ["alice@example.test"]

    admin.ok("group", "add-member", "team", "bob@example.test")
    assert "already a member" in admin.fails("group", "add-member", "team", "bob@example.test")
    assert admin.ok("group", "members", "team@example.test").split() == [
        "alice@example.test",
        "bob@example.test",
    ]
    admin.ok("group", "remove-member", "team", "alice@example.test", "--domain", "example.test")
    assert admin.ok("group", "members", "team").split() == ["bob@example.test"]

    listed = admin.ok("group", "list", "--domain", "Example.TEST")
    assert column(listed) == ["team@example.test"]  # "other" was refused
    assert "team@example.test" in listed.splitlines()[1].split()[1]
    admin.ok("group", "remove", "team")
    assert "unknown group" in admin.fails("group", "members", "team")


def test_roles(admin: Groupware) -> None:
    admin.ok("domain", "add", "example.org")
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    admin.ok("group", "add", "helpdesk", "--domain", "example.test")
    listed = admin.ok("role", "list")
    assert column(listed) == ["admin", "domain-admin", "user"]
    assert "directory.users.manage" in listed

    out = admin.ok("role", "create", "auditor", "--permission", "audit.read", "--description", "x")
    assert "created role auditor: audit.read" in out
    assert "auditor" in column(admin.ok("role", "list"))
    assert "audit.read" in column(admin.ok("role", "permissions"))
    admin.ok("role", "create", "scratch", "--permission", "mail.send_as")
    admin.ok("role", "delete", "scratch")
    assert "built-in" in admin.fails("role", "delete", "admin")
    assert "scratch" not in column(admin.ok("role", "list"))

    out = admin.ok(
        "role", "grant", "domain-admin", "--user", "alice@example.test", "--domain", "example.org"
    )
    assert "on example.org" in out
    admin.ok("role", "grant", "auditor", "--group", "helpdesk")
    admin.ok("group", "add-member", "helpdesk", "alice@example.test")
    assert "already holds" in admin.fails(
        "role", "grant", "domain-admin", "--user", "alice@example.test", "--domain", "example.org"
    )

    grants = admin.ok("role", "grants")
    assert "group:helpdesk@example.test" in grants
    assert "alice@example.test" in grants
    roles_line = next(
        line
        for line in admin.ok("user", "show", "alice@example.test").splitlines()
        if line.startswith("roles:")
    )
    assert "domain-admin on example.org" in roles_line
    assert "auditor on all domains (via group:helpdesk@example.test)" in roles_line

    assert "does not hold" in admin.fails(
        "role",
        "revoke",
        "domain-admin",
        "--user",
        "alice@example.test",  # not global
    )
    admin.ok(
        "role", "revoke", "domain-admin", "--user", "alice@example.test", "--domain", "example.org"
    )
    admin.ok("role", "revoke", "auditor", "--group", "helpdesk")
    assert column(admin.ok("role", "grants"), 1) == ["admin@example.test"]


def test_app_passwords(admin: Groupware) -> None:
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    out = admin.ok("app-password", "add", "alice@example.test", "phone")
    secret = re.search(r": (\S+) \(shown once\)$", out.strip())
    assert secret is not None
    assert admin.authenticate("alice@example.test", secret.group(1)) == "alice@example.test"
    assert "exists already" in admin.fails("app-password", "add", "alice@example.test", "phone")

    assert column(admin.ok("app-password", "list", "alice@example.test")) == ["phone"]
    assert "app passwords: phone" in admin.ok("user", "show", "alice@example.test")
    admin.ok("app-password", "revoke", "alice@example.test", "phone")
    assert "no app password" in admin.fails("app-password", "revoke", "alice@example.test", "phone")
    assert admin.ok("app-password", "list", "alice@example.test") == ""
    with pytest.raises(AuthFailed):
        admin.authenticate("alice@example.test", secret.group(1))


def test_shares_and_group_calendars(admin: Groupware) -> None:
    for address in ("alice@example.test", "bob@example.test"):
        admin.ok("user", "add", address, "--password", PASSWORD)
    built = runtime.build(config_module.load(admin.cfgfile))
    try:
        built.services.calendars.ensure_home("alice@example.test")
    finally:
        built.close()
    out = admin.ok("share", "add", "alice@example.test/calendar", "bob@example.test")
    assert out == "shared alice@example.test/calendar with bob@example.test (read)\n"
    admin.ok("share", "add", "alice@example.test/calendar", "bob@example.test", "--access", "write")
    listed = admin.ok("share", "list", "alice@example.test/calendar")
    assert "bob@example.test" in listed and "write" in listed and "read" not in listed
    admin.ok("share", "remove", "alice@example.test/calendar", "bob@example.test")
    assert "bob@example.test" not in admin.ok("share", "list", "alice@example.test/calendar")
    assert "not shared" in admin.fails(
        "share", "remove", "alice@example.test/calendar", "bob@example.test"
    )
    assert "no user" in admin.fails(
        "share", "add", "alice@example.test/calendar", "nobody@example.test"
    )
    assert "no calendar" in admin.fails("share", "add", "alice@example.test/nope", "bob@x.test")
    assert "cannot be shared with its owner" in admin.fails(
        "share", "add", "alice@example.test/calendar", "alice@example.test"
    )
    admin.ok("group", "add", "team", "--domain", "example.test")
    out = admin.ok("calendar", "add-group", "team@example.test", "rota", "--title", "Rota")
    assert out == "created +team@example.test/rota: every member of team@example.test sees it\n"
    assert "no group" in admin.fails("calendar", "add-group", "ghosts@example.test", "x")


def test_import_radicale_folder_is_idempotent(admin: Groupware, tmp_path: Path) -> None:
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    root = tmp_path / "radicale" / "collection-root"
    calendar = root / "alice@example.test" / "work"
    contacts = root / "alice@example.test" / "people"
    stranger = root / "nobody@example.test" / "calendar"
    for folder in (calendar, contacts, stranger):
        folder.mkdir(parents=True)
    calendar.joinpath(".Radicale.props").write_text(
        json.dumps({"tag": "VCALENDAR", "D:displayname": "Work"})
    )
    contacts.joinpath(".Radicale.props").write_text(json.dumps({"tag": "VADDRESSBOOK"}))
    stranger.joinpath(".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}))
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
        "SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar.joinpath("a.ics").write_text(event.format(uid="a", summary="A"))
    calendar.joinpath("b.ics").write_text(event.format(uid="b", summary="B"))
    calendar.joinpath("broken.ics").write_text("BEGIN:VCALENDAR\r\nnot a calendar")
    contacts.joinpath("c.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:Carol\r\nN:Carol;;;;\r\nEND:VCARD\r\n"
    )
    first = admin.ok("import", "radicale", str(tmp_path / "radicale"))
    assert "nobody@example.test: no active user" in first
    assert "alice@example.test/work: 2 added, 0 changed" in first
    assert "alice@example.test/people: 1 added, 0 changed" in first
    assert "broken.ics: unreadable" in first
    calendar.joinpath("b.ics").write_text(event.format(uid="b", summary="B moved"))
    again = admin.ok("import", "radicale", str(root))
    assert "alice@example.test/work: 0 added, 1 changed" in again
    assert "2 unchanged" in again  # a.ics and c.vcf
    built = runtime.build(config_module.load(admin.cfgfile))
    try:
        calendars = built.services.calendars
        work = calendars.collection("alice@example.test/work")
        assert work is not None and work.props["title"] == "Work"
        texts = {i.href: i.text for i in calendars.items(work.id)}
        assert sorted(texts) == ["a.ics", "b.ics"] and "SUMMARY:B moved" in texts["b.ics"]
        assert calendars.collection("alice@example.test/calendar") is not None  # home made
    finally:
        built.close()
    assert "not a Radicale storage folder" in admin.fails(
        "import", "radicale", str(tmp_path / "nowhere")
    )


def test_login_locks(admin: Groupware) -> None:
    admin.ok("user", "add", "alice@example.test", "--password", PASSWORD)
    built = runtime.build(config_module.load(admin.cfgfile))
    try:
        auth = built.services.auth
        for _ in range(5):
            with pytest.raises(AuthFailed):
                auth.authenticate("alice@example.test", "guess", "imap", "203.0.113.9")
        with pytest.raises(TryLater):
            auth.authenticate("alice@example.test", PASSWORD, "imap", "203.0.113.9")
        listed = admin.ok("lock", "list").splitlines()
        assert listed[0].split() == [
            "KIND", "ACCOUNT", "ADDRESS", "FAILURES", "STATE", "UNTIL", "(UTC)", "KEY"
        ]  # fmt: skip
        assert [line.split()[-1] for line in listed[1:]] == [
            "account-ip:alice@example.test|203.0.113.9",  # locked rows first
            "account:alice@example.test",
            "ip:203.0.113.9",
        ]
        kind, account, address, failures, state, _, _ = re.split(r"\s{2,}", listed[1])
        assert (kind, account, address, failures, state) == (
            "account from address",
            "alice@example.test",
            "203.0.113.9",
            "5",
            "locked",
        )

        assert "no login lock matches" in admin.fails("lock", "clear", "bob@example.test")
        assert admin.ok("lock", "clear", "203.0.113.9").splitlines() == [
            "cleared account-ip:alice@example.test|203.0.113.9 (5 failures, locked)",
            "cleared ip:203.0.113.9 (5 failures, counting)",
        ]
        auth.authenticate("alice@example.test", PASSWORD, "imap", "203.0.113.9")
        admin.ok("lock", "clear", "account:alice@example.test")
        assert admin.ok("lock", "list") == ""
    finally:
        built.close()
