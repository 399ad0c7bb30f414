"""How scheduling finds the iTIP object in a delivered mail (services/calendar/scheduling.py): the
first text/calendar part, decoded (who sent it is the Provenance's to say). A crafted
message of many parts is read in bounded time (found timing fuzz inputs: the email
package took 10 s a MiB in delivery's thread)."""

from __future__ import annotations

import time

from groupware.mime import imip
from groupware.services.calendar.scheduling import _calendar_part
from tests.unit.mime.test_imip import EVENT

PLAIN = b"From: Bob <Bob@Example.ORG>, G: carol@example.net;\r\nSubject: x\r\n\r\nHello\r\n"


def test_an_imip_mail_gives_its_calendar() -> None:
    request = imip.with_method(EVENT, "REQUEST")
    data = imip.compose(
        method="REQUEST",
        sender="alice@example.org",
        sender_name="Alice",
        to="bob@example.org",
        body=request,
        facts=imip.read(request),
    )
    text = _calendar_part(data)
    assert text is not None and imip.read(text).method == "REQUEST"


def test_a_quoted_printable_latin1_calendar_is_decoded() -> None:
    data = (
        b"From: bob@example.org\r\nContent-Type: text/calendar; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nSUMMARY:Caf=E9\r\n"
    )
    text = _calendar_part(data)
    assert text is not None and text.rstrip() == "SUMMARY:Café"


def test_no_calendar_or_an_unknown_encoding_gives_none() -> None:
    assert _calendar_part(PLAIN) is None
    unknown = b"Content-Type: text/calendar\r\nContent-Transfer-Encoding: x-uu\r\n\r\nbegin\r\n"
    assert _calendar_part(unknown) is None


def test_a_mail_of_many_parts_is_read_in_bounded_time() -> None:
    piece = b"Content-Type: multipart/mixed; boundary=b\r\n--b\r\n"
    data = b"X-Note: text/calendar\r\n" + piece * (3 * 1024 * 1024 // len(piece))
    started = time.monotonic()
    assert _calendar_part(data) is None
    assert time.monotonic() - started < 10  # did not take minutes (it took 30 s)
