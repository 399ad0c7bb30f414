"""vdirsyncer against /dav: a calendar and an address book synced both ways. The first
sync brings the server's items down, local changes (a new event, a changed contact, a
deleted event) go up on the second, a server-side change comes down on the third, and a
fourth finds nothing to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.services.core.access import SYSTEM
from tests.conftest import Served
from tests.integration.test_dav import ALICE, EVENT, PASSWORD

VDIRSYNCER = shutil.which("vdirsyncer") or str(Path(os.sys.executable).parent / "vdirsyncer")
pytestmark = pytest.mark.skipif(not Path(VDIRSYNCER).exists(), reason="pip install vdirsyncer")

CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
    "EMAIL:{uid}@example.test\r\nEND:VCARD\r\n"
)


@pytest.fixture
def dav(web_server: Served) -> Iterator[Served]:
    web_server.services.directory.add_user(SYSTEM, ALICE, PASSWORD)
    yield web_server


def write_config(tmp_path: Path, served: Served) -> Path:
    url = f"{served.base_url}/dav/"
    status = tmp_path / "status"
    local = tmp_path / "local"
    config = tmp_path / "config"
    config.write_text(
        f"""[general]
status_path = "{status}/"

[pair calendar]
a = "calendar_local"
b = "calendar_remote"
collections = ["calendar"]
conflict_resolution = "b wins"

[storage calendar_local]
type = "filesystem"
path = "{local}/calendars/"
fileext = ".ics"

[storage calendar_remote]
type = "caldav"
url = "{url}"
username = "{ALICE}"
password = "{PASSWORD}"

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = ["contacts"]
conflict_resolution = "b wins"

[storage contacts_local]
type = "filesystem"
path = "{local}/contacts/"
fileext = ".vcf"

[storage contacts_remote]
type = "carddav"
url = "{url}"
username = "{ALICE}"
password = "{PASSWORD}"
"""
    )
    return config


def vdirsyncer(config: Path, *args: str) -> str:
    done = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        input="y\n" * 10,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def server_items(served: Served, name: str) -> dict[str, str]:
    calendars = served.services.calendars
    collection = calendars.collection(f"{ALICE}/{name}")
    assert collection is not None
    return {item.uid: item.text for item in calendars.items(collection.id)}


def test_calendar_and_contacts_sync_both_ways(dav: Served, tmp_path: Path) -> None:
    import caldav

    client = caldav.DAVClient(url=dav.base_url + "/dav/", username=ALICE, password=PASSWORD)
    calendar = client.principal().calendar(name="Calendar")
    calendar.save_event(
        EVENT.format(uid="e1", start="20261201T100000Z", end="20261201T110000Z", summary="One")
    )
    calendar.save_event(
        EVENT.format(uid="e2", start="20261202T100000Z", end="20261202T110000Z", summary="Two")
    )
    config = write_config(tmp_path, dav)
    vdirsyncer(config, "discover")
    vdirsyncer(config, "sync")
    local_calendar = tmp_path / "local/calendars/calendar"
    assert sorted(p.name for p in local_calendar.iterdir()) == ["e1.ics", "e2.ics"]

    # Local changes go up: a new event, a deleted one, a new and then a changed contact.
    (local_calendar / "e3.ics").write_text(
        EVENT.format(uid="e3", start="20261203T100000Z", end="20261203T110000Z", summary="Three")
    )
    (local_calendar / "e1.ics").unlink()
    local_contacts = tmp_path / "local/contacts/contacts"
    local_contacts.mkdir(parents=True, exist_ok=True)
    (local_contacts / "c1.vcf").write_text(CARD.format(uid="c1", name="Carol"))
    vdirsyncer(config, "sync")
    assert sorted(server_items(dav, "calendar")) == ["e2", "e3"]
    assert "FN:Carol" in server_items(dav, "contacts")["c1"]
    (local_contacts / "c1.vcf").write_text(CARD.format(uid="c1", name="Caroline"))
    vdirsyncer(config, "sync")
    assert "FN:Caroline" in server_items(dav, "contacts")["c1"]

    # A change on the server comes down.
    event = calendar.event_by_uid("e2")
    event.data = event.data.replace("SUMMARY:Two", "SUMMARY:Two (moved)")
    event.save()
    vdirsyncer(config, "sync")
    assert "SUMMARY:Two (moved)" in (local_calendar / "e2.ics").read_text()

    # Nothing left to do: a further sync changes nothing on either side.
    before = {p.name: p.read_text() for p in local_calendar.iterdir()}
    server_before = server_items(dav, "calendar")
    vdirsyncer(config, "sync")
    assert {p.name: p.read_text() for p in local_calendar.iterdir()} == before
    assert server_items(dav, "calendar") == server_before
