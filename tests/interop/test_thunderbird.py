"""Debian's Thunderbird sets an account up from an address and a password alone.

Thunderbird runs headless with a fresh profile, driven through its Account Hub over
Marionette. Its HTTP goes through our portal's port as a proxy (so its requests for
http://autoconfig.example.test/mail/config-v1.1.xml and
http://example.test/.well-known/autoconfig/... reach our server under those host names,
as they would through DNS and port 80), mail.example.test resolves to this machine inside
Thunderbird, and the profile trusts a test CA that issued the server's certificate. The
account it makes is the IMAP over TLS and submission our autoconfig file names, with the
address as user name, and it has logged in to our IMAP server to make it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marionette_driver import marionette

from groupware import runtime as runtime_module
from groupware.config import TLSConfig
from groupware.services.core.access import SYSTEM
from harness.serverprocess import free_port
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_devices import ca_issued_pair

THUNDERBIRD = Path("/usr/lib/thunderbird/thunderbird")
if not THUNDERBIRD.exists() or shutil.which("certutil") is None:
    if os.environ.get("CI"):
        pytest.fail(".ci/run installs Debian's thunderbird and libnss3-tools", pytrace=False)
    pytest.skip("apt-get install thunderbird libnss3-tools", allow_module_level=True)
ALICE, PASSWORD = "alice@example.test", "Alice-pass-12345"
HUB = "const root = document.querySelector('account-hub-container').shadowRoot;"
STATE = (
    HUB
    + """
  const shown = [...root.querySelectorAll('account-hub-email [id$=Subview]')]
    .filter(e => !e.hidden).map(e => e.localName);
  const next = root.querySelector('#emailFooter #forward');
  return {shown, ready: !!next && !next.hidden && !next.disabled};
"""
)
ACCOUNTS = """
  const {MailServices} = ChromeUtils.importESModule('resource:///modules/MailServices.sys.mjs');
  return MailServices.accounts.accounts.filter(a => a.incomingServer.type != 'none').map(a => ({
    type: a.incomingServer.type, uri: a.incomingServer.serverURI, port: a.incomingServer.port,
    user: a.incomingServer.username, socket: a.incomingServer.socketType,
    smtp: MailServices.outgoingServer.servers.map(s => [s.serverURI.host, s.serverURI.port,
      s.QueryInterface(Ci.nsISmtpServer).socketType, s.username])}));
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    _, chain, key = ca_issued_pair(tmp_path / "pki")
    config = dataclasses.replace(config, tls=TLSConfig(cert=chain, key=key))
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    names = dict.fromkeys(("http", "imaps", "imap", "submissions", "submission"), "on")
    with serving(with_listeners(config, **names)) as served:
        served.services.directory.add_user(SYSTEM, ALICE, PASSWORD, display_name="Alice")
        yield served


def profile(folder: Path, ca: Path, proxy_port: int, marionette_port: int) -> Path:
    folder.mkdir()
    prefs = {
        "network.dns.localDomains": "mail.example.test",
        # Every http:// request goes to our portal's port, naming its host as it would.
        "network.proxy.type": 1,
        "network.proxy.http": "127.0.0.1",
        "network.proxy.http_port": proxy_port,
        "network.proxy.no_proxies_on": "",
        "network.proxy.allow_hijacking_localhost": True,
        "mailnews.auto_config_url": "",  # not Mozilla's database: only what we serve
        "mailnews.auto_config.fetchFromISP.enabled": True,
        "mailnews.auto_config.fetchFromISP.sslOnly": False,
        "mailnews.auto_config.fetchFromExchange.enabled": False,
        "mailnews.auto_config.guess.enabled": False,
        "mail.shell.checkDefaultClient": False,
        "mailnews.start_page.enabled": False,
        "app.update.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "extensions.update.enabled": False,
        "marionette.port": marionette_port,
    }
    lines = [f"user_pref({_js(k)}, {_js(v)});" for k, v in prefs.items()]
    (folder / "user.js").write_text("\n".join(lines) + "\n")
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-n", "Test CA", "-t", "C,,", "-i", str(ca)],
    ):
        subprocess.run(["certutil", *args, "-d", f"sql:{folder}"], check=True, timeout=60)
    return folder


def _js(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def thunderbird(profile_dir: Path, port: int, log: Path) -> Iterator[Any]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(THUNDERBIRD),
                "--headless",
                "--marionette",
                "-remote-allow-system-access",
                "--no-remote",
                "-profile",
                str(profile_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"MOZ_HEADLESS": "1", "HOME": str(profile_dir), "PATH": "/usr/bin:/bin"},
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.5)
        client = marionette.Marionette(host="127.0.0.1", port=port, startup_timeout=90)
        client.start_session()
        client.set_context(client.CONTEXT_CHROME)
        yield client
        client.delete_session()
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_for(client: Any, view: str, seconds: float = 60, ready: bool = True) -> None:
    """Until the hub shows `view` (with its Continue button enabled, if `ready`)."""
    deadline, state = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        state = client.execute_script(STATE)
        if view in state["shown"] and (state["ready"] or not ready):
            return
        time.sleep(0.5)
    raise AssertionError(f"Thunderbird did not reach {view}: {state}")


def hub(client: Any, selector: str) -> Any:
    element = client.execute_script(HUB + "return root.querySelector(arguments[0]);", [selector])
    assert element is not None, selector
    return element


def test_thunderbird_sets_up_the_account_from_address_and_password(
    server: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="groupware.web.access")
    marionette_port = free_port()
    folder = profile(
        tmp_path / "tb", tmp_path / "pki" / "ca.pem", server.ports["http"], marionette_port
    )
    with thunderbird(folder, marionette_port, tmp_path / "thunderbird.log") as client:
        deadline = time.monotonic() + 90
        while client.execute_script(HUB + "return !!root;") is not True:
            assert time.monotonic() < deadline, "no Account Hub"
            time.sleep(0.5)
        hub(client, "email-auto-form #realName").send_keys("Alice")
        hub(client, "email-auto-form #email").send_keys(ALICE)
        wait_for(client, "email-auto-form", 20)
        hub(client, "#emailFooter #forward").click()
        wait_for(client, "email-config-found", 60)
        found = client.execute_script(
            HUB + "return root.querySelector('email-config-found').textContent"
            ".replace(/\\s+/g, ' ');"
        )
        assert "mail.example.test" in found and str(server.ports["imaps"]) in found, found
        hub(client, "#emailFooter #forward").click()
        wait_for(client, "email-password-form", 30, ready=False)
        client.execute_script(
            HUB + "return root.querySelector('email-password-form input[type=password]');"
        ).send_keys(PASSWORD)
        wait_for(client, "email-password-form", 10)
        hub(client, "#emailFooter #forward").click()
        deadline = time.monotonic() + 90
        while not client.execute_script(ACCOUNTS):
            assert time.monotonic() < deadline, client.execute_script(STATE)
            time.sleep(1)
        (account,) = client.execute_script(ACCOUNTS)
    assert account["uri"] == "imap://alice%40example.test@mail.example.test", account
    assert account["port"] == server.ports["imaps"] and account["user"] == ALICE
    assert account["socket"] == 3  # SSL: TLS from the first byte, the first one offered
    smtp_host, smtp_port, smtp_socket, smtp_user = account["smtp"][0]
    assert (smtp_host, smtp_port, smtp_user) == (
        "mail.example.test",
        server.ports["submissions"],
        ALICE,
    )
    assert smtp_socket == 3
    # Both of the domain's autoconfig addresses were asked, and answered.
    asked = [
        r.getMessage().split()[3:5] for r in caplog.records if "config-v1.1.xml" in r.getMessage()
    ]
    assert ["/mail/config-v1.1.xml", "200"] in asked, asked  # the autoconfig.<domain> host
    assert ["/.well-known/autoconfig/mail/config-v1.1.xml", "200"] in asked, asked
    # It logged in to make the account: our audit log saw it.
    logins = server.services.audit.entries(SYSTEM, action="login")
    assert any(
        ALICE in (e.actor, e.target) and e.outcome == "ok" and e.service == "imap" for e in logins
    )
