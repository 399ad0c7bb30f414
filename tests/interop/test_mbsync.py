"""mbsync (Debian's isync) against our IMAP server over TLS: a first sync copies the
server's mail down, local changes (a new message, a flag) go up on the second run, and a
third run finds nothing to do on either side."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_imap import MESSAGE, PASSWORD

pytestmark = pytest.mark.skipif(shutil.which("mbsync") is None, reason="apt-get install isync")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Served]:
    config = make_config(tmp_path, database_url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    with serving(with_listeners(config, imaps="on")) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        yield served


def mbsync(config: Path) -> str:
    done = subprocess.run(
        ["mbsync", "-c", str(config), "-a"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def local_state(maildir: Path) -> list[tuple[str, str]]:
    """(folder, flags of each message) as Maildir file names say them."""
    state = []
    for path in sorted(maildir.rglob("*")):
        if path.is_file() and path.parent.name in {"cur", "new"}:
            flags = path.name.rpartition(":2,")[2] if ":2," in path.name else ""
            state.append((str(path.parent.parent.relative_to(maildir)), flags))
    return sorted(state)


def server_state(served: Served) -> dict[str, list[tuple[int, frozenset[str]]]]:
    services = served.services
    user = services.directory.get_user(SYSTEM, "alice@example.test")
    alice = services.auth.principal(user.id)
    assert alice is not None
    result = {}
    for box in services.mailboxes.list_all(alice):
        _, states = services.messages.index(alice, box.name)
        result[box.name] = [(s.uid, s.flags) for s in states]
    return result


def test_mbsync_both_ways_then_nothing_to_do(server: Served, tmp_path: Path) -> None:
    client = imaplib_append(server, 3)
    assert client == 3
    maildir = tmp_path / "mail"
    maildir.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount acct
Host 127.0.0.1
Port {server.ports["imaps"]}
User alice@example.test
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {server.runtime.config.tls.cert}

IMAPStore remote
Account acct

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    mbsync(config)
    assert [f for folder, f in local_state(maildir) if folder == "INBOX"] == ["", "", ""]
    # Local changes: a new message in Archive, the first INBOX message flagged.
    first = sorted((maildir / "INBOX").glob("*/*"))[0]
    first.rename(first.parent.parent / "cur" / (first.name.split(":2,")[0] + ":2,F"))
    (maildir / "Archive" / "new" / "1700000000.local.host").write_bytes(MESSAGE)
    mbsync(config)
    remote = server_state(server)
    assert len(remote["Archive"]) == 1
    assert sum("\\Flagged" in flags for _, flags in remote["INBOX"]) == 1
    before = (server_state(server), local_state(maildir))
    mbsync(config)
    assert (server_state(server), local_state(maildir)) == before


def imaplib_append(served: Served, count: int) -> int:
    import imaplib
    import ssl

    context = ssl.create_default_context(cafile=str(served.runtime.config.tls.cert))
    context.check_hostname = False
    with imaplib.IMAP4_SSL("127.0.0.1", served.ports["imaps"], ssl_context=context) as client:
        client.login("alice@example.test", PASSWORD)
        for _ in range(count):
            client.append("INBOX", None, None, MESSAGE)
        typ, data = client.select("INBOX")
        return int(data[0])
