"""What the portal's contact form reads from, and writes into, a vCard (RFC 6350; written
as vCard 3.0, RFC 2426, which Apple, DAVx⁵ and Thunderbird all read), and the brief
facts a contact list needs, read without a full parse. Groups are Apple's group cards
(X-ADDRESSBOOKSERVER-KIND:group with X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:…): the one
form of a group that Apple Contacts, DAVx⁵ ("groups are separate vCards") and
Thunderbird (as mailing lists) all show. Pure: text in, text out.

Whatever a client wrote that the form does not show is kept when the form edits a card.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

import vobject

MAX_TEXT = 10_000
MAX_VALUES = 20  # addresses or phone numbers on one card
MAX_PHOTO = 256 * 1024  # bytes of a photo put on a card
PHOTO_TYPES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
GROUP_KIND = "X-ADDRESSBOOKSERVER-KIND"
GROUP_MEMBER = "X-ADDRESSBOOKSERVER-MEMBER"
# The form owns these; everything else on a card is kept.
_FORM = ("fn", "n", "email", "tel", "adr", "org", "bday", "note", "photo")
_UNFOLD = re.compile(r"\r?\n[ \t]")
_LINE = re.compile(
    r"^(?:[\w-]+\.)?(?P<name>[A-Za-z-]+)(?P<params>(?:;[^:\r\n]*)?):(?P<value>.*)$", re.MULTILINE
)


class FormError(ValueError):
    """What a person typed cannot be written (said in words for the form)."""


@dataclass(frozen=True)
class ContactFields:
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    address: str = ""  # a postal address, as lines
    organisation: str = ""
    birthday: date | None = None
    notes: str = ""
    photo: bytes | None = None  # JPEG or PNG; None: keep what the card has


@dataclass(frozen=True)
class Brief:
    """A card as a list shows it and search-as-you-type looks into it."""

    uid: str
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    organisation: str
    group: bool = False
    members: tuple[str, ...] = ()  # a group's members' UIDs
    has_photo: bool = False
    # " word word …": the lower-cased words of its name, organisation, addresses and
    # numbers, each after a space, so that " " + typed finds the words it begins
    haystack: str = field(default="", repr=False)

    def matches(self, typed: str) -> bool:
        """Whether every typed word begins a word of the card (case aside)."""
        return all(" " + word in self.haystack for word in typed.lower().split())


def new_contact(fields: ContactFields) -> str:
    _check(fields)
    card = vobject.vCard()
    card.add("version").value = "3.0"
    card.add("uid").value = f"{uuid.uuid4()}"
    card.add("prodid").value = "-//groupware//portal//EN"
    _write(card, fields)
    return str(card.serialize())


def edit_contact(text: str, fields: ContactFields) -> str:
    _check(fields)
    card = _parse(text)
    _write(card, fields)
    return str(card.serialize())


def contact_fields(text: str) -> ContactFields:
    card = _parse(text)
    birthday = None
    if hasattr(card, "bday"):
        birthday = _date(str(card.bday.value))
    adr = ""
    if hasattr(card, "adr"):
        value = card.adr.value
        parts = [value.street, value.city, value.region, value.code, value.country]
        adr = "\n".join(str(p) for p in parts if p)
    org = ""
    if hasattr(card, "org"):
        value = card.org.value
        org = ", ".join(value) if isinstance(value, list) else str(value)
    return ContactFields(
        name=str(card.fn.value) if hasattr(card, "fn") else "",
        emails=tuple(str(e.value) for e in card.contents.get("email", [])),
        phones=tuple(str(t.value) for t in card.contents.get("tel", [])),
        address=adr,
        organisation=org,
        birthday=birthday,
        notes=str(card.note.value) if hasattr(card, "note") else "",
    )


def photo_of(text: str) -> tuple[bytes, str] | None:
    """The card's photo as (bytes, "image/jpeg" or "image/png"), when it has one inline."""
    card = _parse(text)
    if not hasattr(card, "photo"):
        return None
    value = card.photo.value
    data = value if isinstance(value, bytes) else None
    if data is None and isinstance(value, str) and value.startswith("data:"):
        try:
            data = base64.b64decode(value.split(",", 1)[1], validate=False)
        except (ValueError, IndexError):
            return None
    if not data:
        return None
    for magic, kind in PHOTO_TYPES.items():
        if data.startswith(magic):
            return data, f"image/{kind.lower()}"
    return None


def new_group(name: str, members: tuple[str, ...] = ()) -> str:
    if not name.strip() or len(name) > MAX_TEXT:
        raise FormError("a group needs a name")
    card = vobject.vCard()
    card.add("version").value = "3.0"
    card.add("uid").value = f"{uuid.uuid4()}"
    card.add("fn").value = name.strip()
    card.add("n").value = vobject.vcard.Name(family=name.strip())
    card.add(GROUP_KIND.lower()).value = "group"
    for member in members:
        card.add(GROUP_MEMBER.lower()).value = f"urn:uuid:{member}"
    return str(card.serialize())


def with_member(text: str, member: str, present: bool) -> str:
    """A group card with `member` (a contact's UID) added or taken out."""
    card = _parse(text)
    name = GROUP_MEMBER.lower()
    kept = [m for m in card.contents.get(name, []) if _member_uid(str(m.value)) != member]
    card.contents[name] = kept
    if present:
        line = card.add(name)
        line.value = f"urn:uuid:{member}"
    if not card.contents[name]:
        del card.contents[name]
    return str(card.serialize())


MAX_IMPORT = 20_000  # cards one .vcf file may bring
_CARD = re.compile(r"^BEGIN:VCARD\r?$.*?^END:VCARD\r?$", re.IGNORECASE | re.MULTILINE | re.DOTALL)


def split_cards(text: str) -> list[tuple[str, str]]:
    """A .vcf file's cards as (uid, text), each given a UID if it has none; FormError
    when one is not a vCard."""
    found: list[tuple[str, str]] = []
    for match in _CARD.finditer(text):
        if len(found) >= MAX_IMPORT:
            raise FormError(f"at most {MAX_IMPORT} contacts in one file")
        card = _parse(match.group(0))
        if not hasattr(card, "uid") or not str(card.uid.value).strip():
            card.add("uid").value = f"{uuid.uuid4()}"
        found.append((str(card.uid.value), str(card.serialize())))
    if not found:
        raise FormError("no contacts in this file")
    return found


def brief(text: str) -> Brief:
    """The list's facts of a card, read line by line (no full parse: thousands of cards
    are listed at once)."""
    text = _UNFOLD.sub("", text)
    values: dict[str, list[str]] = {}
    photo = False
    for line in _LINE.finditer(text):
        name = line.group("name").upper()
        if name == "PHOTO":
            photo = True
            continue
        values.setdefault(name, []).append(_unescape(line.group("value")))
    uid = (values.get("UID") or [""])[0]
    name = (values.get("FN") or [""])[0] or (values.get("N") or [""])[0].replace(";", " ").strip()
    emails = tuple(v for v in values.get("EMAIL", []) if v)
    phones = tuple(v for v in values.get("TEL", []) if v)
    org = (values.get("ORG") or [""])[0].replace(";", ", ").strip(", ")
    kind = ((values.get(GROUP_KIND) or values.get("KIND") or [""])[0]).lower()
    members = tuple(_member_uid(v) for v in values.get(GROUP_MEMBER, []) + values.get("MEMBER", []))
    words = re.split(r"[^\w]+", " ".join((name, org, *emails, *phones)).lower())
    haystack = " " + " ".join((*words, *(e.lower() for e in emails)))
    return Brief(uid, name, emails, phones, org, kind == "group", members, photo, haystack)


def _write(card: vobject.base.Component, fields: ContactFields) -> None:
    for name in _FORM:
        if name == "photo" and fields.photo is None:
            continue
        card.contents.pop(name, None)
    name = fields.name.strip()
    card.add("fn").value = name
    given, _, family = name.rpartition(" ")
    card.add("n").value = vobject.vcard.Name(family=family or given, given=given if family else "")
    for address in fields.emails:
        line = card.add("email")
        line.value = address
        line.type_param = "INTERNET"
    for phone in fields.phones:
        card.add("tel").value = phone
    if fields.address.strip():
        lines = [line.strip() for line in fields.address.strip().splitlines() if line.strip()]
        card.add("adr").value = vobject.vcard.Address(street="\n".join(lines))
    if fields.organisation.strip():
        card.add("org").value = [fields.organisation.strip()]
    if fields.birthday is not None:
        card.add("bday").value = fields.birthday.isoformat()
    if fields.notes.strip():
        card.add("note").value = fields.notes
    if fields.photo:
        kind = next(k for m, k in PHOTO_TYPES.items() if fields.photo.startswith(m))
        line = card.add("photo")
        line.encoding_param = "b"
        line.type_param = kind
        line.value = fields.photo


def _check(fields: ContactFields) -> None:
    if not fields.name.strip():
        raise FormError("a contact needs a name")
    for text in (fields.name, fields.address, fields.organisation, fields.notes):
        if len(text) > MAX_TEXT:
            raise FormError(f"at most {MAX_TEXT} characters a field")
    if len(fields.emails) > MAX_VALUES or len(fields.phones) > MAX_VALUES:
        raise FormError(f"at most {MAX_VALUES} addresses or numbers")
    for address in fields.emails:
        if "@" not in address or any(c in address for c in ' \r\n\t<>,;:"') or len(address) > 320:
            raise FormError(f"not an e-mail address: {address!r}")
    for phone in fields.phones:
        if len(phone) > 64 or not re.fullmatch(r"[0-9+()./ xX*#-]+", phone):
            raise FormError(f"not a phone number: {phone!r}")
    if fields.photo is not None:
        if len(fields.photo) > MAX_PHOTO:
            raise FormError(f"a photo is at most {MAX_PHOTO // 1024} KB")
        if fields.photo and not any(fields.photo.startswith(m) for m in PHOTO_TYPES):
            raise FormError("a photo is a JPEG or PNG image")


def _parse(text: str) -> vobject.base.Component:
    try:
        card = vobject.readOne(text)
    except Exception as error:  # vobject raises what its parser meets
        raise FormError(f"not a vCard: {error}") from error
    if card.name != "VCARD":
        raise FormError("not a vCard")
    return card


def _date(value: str) -> date | None:
    digits = value.replace("-", "")
    if re.fullmatch(r"\d{8}", digits):
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
    return None


def _member_uid(value: str) -> str:
    value = value.strip()
    return value[9:] if value.lower().startswith("urn:uuid:") else value


def _unescape(value: str) -> str:
    """An RFC 6350 §3.4 text value as it reads."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value).strip()
