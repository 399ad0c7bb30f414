"""Names under a name, taken literally, on SQLite and PostgreSQL: "%" and "_" in mailbox
and DAV collection names are characters, not LIKE wildcards, and "Foo" is not "foo" (SQLite's
LIKE folds ASCII case). Regression tests for RENAME "%" renaming "a/b" too."""

from __future__ import annotations

from groupware.services import Services
from groupware.services.calendar.rows import NewItem
from groupware.services.core.access import SYSTEM, Principal

ALICE = "alice@example.test"
EVENT_UID = "same-uid@example.test"


def alice(services: Services) -> Principal:
    services.directory.add_domain(SYSTEM, "example.test")
    info = services.directory.add_user(SYSTEM, ALICE, "Alice-pass-1234")
    principal = services.auth.principal(info.id)
    assert principal is not None
    return principal


def test_rename_moves_only_its_own_children(services: Services) -> None:
    actor = alice(services)
    boxes = services.mailboxes
    for name in ("%", "a/b", "a_c", "abc", "abc/d", "Foo", "foo", "foo/bar", "x\\y", "xzy/z"):
        boxes.create(actor, name)
    boxes.rename(actor, "%", "percent")
    boxes.rename(actor, "a_c", "underscore")
    boxes.rename(actor, "Foo", "Upper")
    boxes.rename(actor, "x\\y", "backslash")
    names = {box.name for box in boxes.list_all(actor)}
    assert {"percent", "underscore", "Upper", "backslash"} <= names
    # Nothing but the renamed mailboxes moved: the look-alikes' children stayed.
    assert {"a/b", "abc/d", "foo/bar", "xzy/z", "abc", "foo"} <= names
    assert not {"percent/b", "underscore/d", "Upper/bar", "backslash/z"} & names


def test_rename_carries_its_real_children(services: Services) -> None:
    actor = alice(services)
    boxes = services.mailboxes
    for name in ("50%", "50%/off", "50%/off/more", "50x/kept"):
        boxes.create(actor, name)
    boxes.rename(actor, "50%", "half")
    names = {box.name for box in boxes.list_all(actor)}
    assert {"half", "half/off", "half/off/more", "50x/kept"} <= names
    assert not {"50%", "50%/off"} & names


def _event(uid: str) -> NewItem:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\n"
        "SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return NewItem("e.ics", uid, '"e"', "VEVENT", 0, 2**40, text)


def test_dav_collection_trees_take_names_literally(services: Services) -> None:
    calendars = services.calendars
    calendar = {"tag": "VCALENDAR"}
    for path in ("a_c@example.test", "abc@example.test", "Abc@example.test"):
        calendars.create_collection(path, {})
    calendars.create_collection("abc@example.test/cal", calendar, [_event(EVENT_UID)])
    calendars.create_collection("Abc@example.test/cal", calendar, [_event("other")])
    # A home's calendars are its own, not a look-alike's ("_" or another case).
    assert calendars.find_uid("a_c@example.test", EVENT_UID) is None
    assert calendars.find_uid("Abc@example.test", EVENT_UID) is None
    found = calendars.find_uid("abc@example.test", EVENT_UID)
    assert found is not None and found[0].path == "abc@example.test/cal"
    assert calendars.children("a_c@example.test") == []
    assert [c.path for c in calendars.children("Abc@example.test")] == ["Abc@example.test/cal"]
    # Deleting a tree deletes that tree only.
    calendars.delete_collection("Abc@example.test")
    assert calendars.collection("abc@example.test/cal") is not None
    assert calendars.collection("Abc@example.test/cal") is None
    calendars.delete_collection("a_c@example.test")
    assert calendars.collection("abc@example.test") is not None
