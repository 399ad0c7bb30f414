"""The contact form on vCards: what it writes reads back the same (and keeps what a
client wrote that it does not show); brief facts read without a parse agree with the
full reading; groups; .vcf files split; bad, truncated and huge input is a FormError."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest

from groupware.mime import vcardform
from groupware.mime.vcardform import ContactFields, FormError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_contact_reads_back_as_written_and_keeps_the_rest() -> None:
    fields = ContactFields(
        "Ada Lovelace",
        ("ada@engines.example", "ada@home.example"),
        ("+44 20 7946 0000",),
        "12 St James's Square\nLondon",
        "Analytical Engines",
        date(1815, 12, 10),
        "Notes, with; specials\nand a second line",
    )
    text = vcardform.new_contact(fields)
    assert vcardform.contact_fields(text) == fields
    client = text.replace("END:VCARD", "X-CUSTOM:kept\r\nEND:VCARD")
    edited = vcardform.edit_contact(client, ContactFields("Ada King", ("ada@engines.example",)))
    assert "X-CUSTOM:kept" in edited and "Ada King" in edited and "ada@home" not in edited
    brief = vcardform.brief(text)
    assert (brief.name, brief.emails, brief.phones) == (fields.name, fields.emails, fields.phones)
    assert brief.matches("ada lov") and brief.matches("ENGINES") and brief.matches("7946")
    assert not brief.matches("ove")  # words are matched from their start


def test_a_photo_and_a_group() -> None:
    text = vcardform.new_contact(ContactFields("Ann", photo=PNG))
    assert vcardform.photo_of(text) == (PNG, "image/png")
    assert vcardform.photo_of(vcardform.edit_contact(text, ContactFields("Ann"))) is not None
    assert vcardform.photo_of(vcardform.edit_contact(text, ContactFields("Ann", photo=b""))) is None
    uid = vcardform.brief(text).uid
    group = vcardform.with_member(vcardform.new_group("Friends"), uid, True)
    assert vcardform.brief(group).group and vcardform.brief(group).members == (uid,)
    assert vcardform.brief(vcardform.with_member(group, uid, False)).members == ()


def test_a_vcf_file_splits_into_cards() -> None:
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\n{'UID:u' + str(n) + chr(13) + chr(10) if n else ''}"
        f"FN:Person {n}\r\nEND:VCARD\r\n"
        for n in range(3)
    )
    found = vcardform.split_cards(cards)
    assert [uid for uid, _ in found][1:] == ["u1", "u2"] and found[0][0]  # one given a UID


@pytest.mark.parametrize(
    "fields",
    [
        ContactFields(""),
        ContactFields("x", emails=("not an address",)),
        ContactFields("x", emails=("a@b\r\nEMAIL:c@d",)),
        ContactFields("x", phones=("call me",)),
        ContactFields("x", emails=tuple(f"a{n}@b.c" for n in range(50))),
        ContactFields("x", photo=b"GIF89a" + b"\x00" * 10),
        ContactFields("x", photo=PNG + b"\x00" * 300_000),
        ContactFields("x" * 10_001),
    ],
)
def test_what_a_form_cannot_write_is_refused(fields: ContactFields) -> None:
    with pytest.raises(FormError):
        vcardform.new_contact(fields)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "BEGIN:VCARD\r\n",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + "x" * 1_000_000 + "\r\nBDAY:never\r\nEND:VCARD",
    ],
)
def test_malformed_cards_are_form_errors_or_read_as_far_as_they_go(text: str) -> None:
    with contextlib.suppress(FormError):  # or it reads as far as it goes
        assert vcardform.contact_fields(text).birthday is None
    vcardform.brief(text)  # the list's reading never raises
    if "VCARD" not in text or text.count("END:VCARD") == 0:
        with pytest.raises(FormError):
            vcardform.split_cards(text)
