"""Fuzz targets of what the server reads inside messages and DAV bodies, pure: the MIME
parser and what IMAP makes of its tree, header fields, iCalendar/vCard as DAV storage and
scheduling read them (Radicale, icalendar), and the DAV path helpers. A new reader of
content gets a function and a Target here.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from xml.etree import ElementTree as ET

from radicale import item as radicale_item
from radicale.app import put as radicale_put

from groupware.config import Config
from groupware.dav import patches
from groupware.dav.items import new_item
from groupware.dav.speedups import SAFE, quoted, radicale_sanitize_path, sanitized
from groupware.errors import InvalidInput
from groupware.mime import imip
from groupware.mime.address import decode_addresses, parse_addresses
from groupware.mime.binary import encode_binary_parts, needs_conversion
from groupware.mime.charset import raw_text
from groupware.mime.headers import first_message_id, message_ids, read_header, sent_date
from groupware.mime.icalitem import describe_text
from groupware.mime.params import param_value, parse_content_type, parse_disposition
from groupware.mime.parse import _parse
from groupware.mime.structure import BodyPart
from groupware.mime.subject import base_subject
from groupware.mime.text import html_to_text
from groupware.mime.words import decode_words
from groupware.protocols.imap.bodystructure import body_structure, envelope
from groupware.protocols.imap.commands import Section
from groupware.protocols.imap.sections import UnknownEncoding, binary_bytes, section_bytes
from groupware.services.calendar.scheduling import _calendar_part
from groupware.services.devices import autodiscover
from groupware.services.devices.setup import ClientSetup
from tests.fuzz.target import Finding, Target, files
from tests.unit.mime import check_invariants

MAX_SECTIONS = 64  # parts of one message whose sections are sliced
COLLECTION = "alice@example.test/calendar"
ATTENDEE = "bob@example.org"
SENDER = "alice@example.org"
PARAMETERS = ("charset", "boundary", "name", "filename", "format", "method")  # read by us
MAX_ATTENDEES = 8  # invitations composed per input
IMIP_FIELDS = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type")
RESOURCE_SIZE, RRULE_OCCURRENCES = 10_000_000, 10_000  # Radicale's defaults, which we keep

# Fragments that steer random messages into MIME's corners.
MIME_TOKENS = (
    *(b"--b\r\n", b"--b--\r\n", b"--c\n", b"\r\n", b"\n", b"\r", b"text\r\n", b"\x00"),
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/digest; boundary=c\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: message/global\r\n",
    b"Content-Type: text/html; charset=utf-8\r\n",
    b"Content-Type: text/plain; name*0*=utf-8''%E2; name*1*=%82%AC\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: binary\r\n",
    b'Content-Disposition: attachment; filename="a\r\n b"\r\n',
    b"From: =?utf-8?q?J=C3=B6rg?= <j@x>, G: a@b;\r\n",
    b"Subject: =?utf-8?b?w6k=?= =?iso-8859-1?q?=E9?=\r\n",
    *(b" folded\r\n", b"<p>x</p><script>", b"<!--", b"=\r\n", b"=E9", b"SGVsbG8=", b"\xff\xfe"),
    *(b"Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n", b"Message-ID: <a@b>\r\n", b"(", b")"),
)
ICAL_TOKENS = (
    *(b"BEGIN:VCALENDAR\r\n", b"END:VCALENDAR\r\n", b"BEGIN:VEVENT\r\n", b"END:VEVENT\r\n"),
    *(b"BEGIN:VTODO\r\n", b"END:VTODO\r\n", b"BEGIN:VTIMEZONE\r\n", b"END:VTIMEZONE\r\n"),
    *(b"BEGIN:STANDARD\r\n", b"END:STANDARD\r\n", b"BEGIN:VCARD\r\n", b"END:VCARD\r\n"),
    *(b"VERSION:2.0\r\n", b"VERSION:3.0\r\n", b"UID:u1\r\n", b"DTSTART:20260101T100000Z\r\n"),
    *(b"DTEND;VALUE=DATE:20260102\r\n", b"DURATION:P1D\r\n", b"RRULE:FREQ=DAILY;COUNT=3\r\n"),
    *(b"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n", b"EXDATE:20260102T100000Z\r\n"),
    *(b"RDATE;VALUE=PERIOD:20260101T000000Z/PT1H\r\n", b"RECURRENCE-ID:20260102T100000Z\r\n"),
    *(b"DTSTART;TZID=Europe/Berlin:20260101T100000\r\n", b"TZID:Europe/Berlin\r\n"),
    *(b"TZOFFSETFROM:+0100\r\n", b"TZOFFSETTO:+0200\r\n", b"SEQUENCE:1\r\n", b"FN:x\r\n"),
    *(b"ORGANIZER;CN=A:mailto:alice@example.org\r\n", b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:"),
    *(b"bob@example.org\r\n", b"METHOD:REQUEST\r\n", b"SCHEDULE-AGENT=CLIENT;", b"\r\n "),
    *(b"BEGIN:VALARM\r\n", b"TRIGGER:-PT15M\r\n", b"END:VALARM\r\n", b";", b":", b","),
)


def mime_message(data: bytes) -> None:
    """The message parser, and IMAP's view of its tree: BODYSTRUCTURE, ENVELOPE, every
    part's sections and BINARY, and the binary-to-base64 conversion of APPEND."""
    parsed = _parse(data)  # parse_message would hide a bug behind its fallback
    check_invariants(parsed, data)
    body = parsed.body
    envelope(parsed.envelope)
    envelope(parsed.envelope, utf8=True)
    for extensible, utf8, rev2 in ((True, False, False), (False, True, True)):
        body_structure(body, extensible, utf8, rev2)
    for number, path in enumerate(part_numbers(body)):
        if number >= MAX_SECTIONS:
            break
        for text in (None, "HEADER", "TEXT", "MIME"):
            section_bytes(data, body, Section(path, text))
        section_bytes(data, body, Section(path, "HEADER.FIELDS", ("FROM", "SUBJECT")))
        with contextlib.suppress(UnknownEncoding):
            binary_bytes(data, body, path)
    if needs_conversion(data):
        check_invariants(_parse(converted := encode_binary_parts(data)), converted)


def part_numbers(part: BodyPart, prefix: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    """Every section number (RFC 9051 §6.4.5) of the tree, the message's own () first."""
    yield prefix
    children = part.children
    if not children and part.message is not None:
        inner = part.message[1]
        children = inner.children or (inner,)
    elif not children and not prefix:
        yield (1,)
    for number, child in enumerate(children, 1):
        yield from part_numbers(child, (*prefix, number))


def mime_header(data: bytes) -> None:
    """Readers of one header field's raw value (as mime/headers.py keeps it)."""
    text = raw_text(data)
    decoded = [decode_words(text)]  # for display and text columns: no NUL, no surrogate
    for address in decode_addresses(parse_addresses(text)):
        decoded += [address.name or "", address.route or "", address.mailbox or ""]
        decoded.append(address.host or "")
    for value in decoded:
        if "\x00" in value:
            raise Finding(f"NUL in decoded text {value[:80]!r}")
        value.encode("utf-8")
    base_subject(decoded[0])
    html_to_text(text)
    content_type, disposition = parse_content_type(text), parse_disposition(text)
    for params in (content_type[2] if content_type else (), disposition[1] if disposition else ()):
        for name in PARAMETERS:
            param_value(params, name)
    sent_date(text)
    message_ids(text)
    first_message_id(text)


def ical_item(data: bytes) -> None:
    """icalitem.describe_text, as scheduling stores what it wrote: ValueError for text
    that is not one calendar object or vCard."""
    patches.install()  # as the running server has it
    describe_text(COLLECTION, data.decode("utf-8", "replace"))


def dav_put(data: bytes) -> None:
    """A PUT body as Radicale reads it in the running app (app/put.py, with our fixes:
    an error there is its 400), then what our storage keeps of each item it accepted,
    which must not fail. Both calls do_PUT makes: of an item, of a whole collection."""
    patches.install()  # as the running server has it
    try:
        components = radicale_item.read_components(data.decode("utf-8", "replace"))
    except Exception:  # Radicale answers 400 to whatever vobject raises
        return
    for path, whole in ((f"/{COLLECTION}/x.ics", False), (f"/{COLLECTION}/", True)):
        items, _, _, _, failed = radicale_put.prepare(
            components, path, "", whole, not whole, RESOURCE_SIZE, RRULE_OCCURRENCES, None, whole
        )
        if failed is None:
            for number, item in enumerate(items):
                new_item(f"x{number}.ics", item)


def imip_text(data: bytes) -> None:
    """iTIP on iCalendar text: read() refuses with NotScheduling only, and what it accepts
    every transformation scheduling applies takes (then stores, via describe_text)."""
    text = data.decode("utf-8", "replace")
    try:
        facts = imip.read(text)
    except imip.NotScheduling:
        return
    attendee = next(iter(facts.attendees), ATTENDEE)
    written = [
        imip.with_method(text, "REQUEST"),
        imip.without_method(text),
        imip.set_partstat(text, attendee, "ACCEPTED"),
        imip.reply(text, attendee),
        imip.cancelled(text),
    ]
    for method, to in (
        *(("REQUEST", to) for to in list(facts.attendees)[:MAX_ATTENDEES]),
        ("REPLY", facts.organizer),
        ("CANCEL", attendee),
    ):
        try:
            data = imip.compose(
                method=method, sender=SENDER, sender_name="A", to=to, body=text, facts=facts
            )
        except ValueError:  # an address no 7-bit header can carry
            continue
        check_composed(data)
    for result in written:
        with contextlib.suppress(ValueError):
            describe_text(COLLECTION, result)


def check_composed(data: bytes) -> None:
    """A mail we write: 7-bit lines of at most 998 octets (RFC 5322 §2.1.1), and just the
    header fields compose wrote (none smuggled in through the calendar's text)."""
    if not data.isascii() or max(map(len, data.split(b"\r\n"))) > 998:
        raise Finding("an iMIP message not 7-bit or with a line over 998 octets")
    header, _ = read_header(data, 0, len(data))
    names = [field.name for field in header.fields]
    if names != list(IMIP_FIELDS):
        raise Finding(f"iMIP header fields {names}")
    head = data[: data.find(b"\r\n\r\n")]
    if any((byte < 32 and byte not in b"\r\n\t") or byte == 127 for byte in head):
        raise Finding("a control character in an iMIP header")


def imip_mail(data: bytes) -> None:
    """A delivered mail's calendar part as scheduling finds it (services/calendar/scheduling.py),
    then read as iTIP."""
    text = _calendar_part(data)
    if text is not None:
        with contextlib.suppress(imip.NotScheduling):
            imip.read(text)


def dav_path(data: bytes) -> None:
    """dav/speedups.py's stand-ins give exactly what Radicale's helpers give (an href
    keeping "@" as it is)."""
    text = data.decode("utf-8", "replace")
    if sanitized(text) != radicale_sanitize_path(text):
        raise Finding(f"sanitized({text!r}) differs from Radicale's")
    if quoted(text) != urllib.parse.quote(text, safe=SAFE):
        raise Finding(f"quoted({text!r}) differs from urllib's")


def autodiscover_request(data: bytes) -> None:
    """An Outlook Autodiscover body: an address, or InvalidInput; the answer for any
    address it yields is well-formed XML naming that address."""
    address = autodiscover.requested_address(data)
    answer = autodiscover.outlook_settings(ClientSetup(Config()), address)
    names = {node.text for node in ET.fromstring(answer).iter() if node.tag.endswith("LoginName")}
    if names != {address}:
        raise Finding(f"the answer for {address!r} names {names!r}")


AUTODISCOVER = (
    b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
    b'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
    b"alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/"
    b"exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>"
    b"</Autodiscover>"
)
CALENDARS = files("fuzz/corpus/ical_item/*")
TARGETS = (
    Target(
        "mime_message",
        mime_message,
        tokens=MIME_TOKENS,
        seeds=files("data/mime/*.eml"),
        max_len=65536,
    ),
    Target("mime_header", mime_header, tokens=MIME_TOKENS, max_len=8192),
    Target(
        "ical_item",
        ical_item,
        allowed=(ValueError,),
        tokens=ICAL_TOKENS,
        max_len=16384,
    ),
    Target("dav_put", dav_put, tokens=ICAL_TOKENS, seeds=CALENDARS, max_len=16384),
    Target("imip_text", imip_text, tokens=ICAL_TOKENS, seeds=CALENDARS, max_len=16384),
    Target(
        "imip_mail",
        imip_mail,
        tokens=MIME_TOKENS + ICAL_TOKENS,
        seeds=files("data/mime/27-calendar-request.eml"),
        max_len=32768,
    ),
    Target("dav_path", dav_path, tokens=(b"/", b"//", b".", b"..", b"%2e", b"\\", b" ", b"~")),
    Target(
        "autodiscover_request",
        autodiscover_request,
        allowed=(InvalidInput,),
        tokens=(
            b"<Autodiscover>",
            b"<Request>",
            b"<EMailAddress>",
            b"</EMailAddress>",
            b"<!DOCTYPE a>",
            b"&amp;",
            b"@",
            b'xmlns="x"',
        ),
        seeds=lambda: [AUTODISCOVER],
        max_len=20000,
    ),
)
