"""RFC 5092 IMAP URLs naming one message or part of one, as RFC 4469 CATENATE uses them:
imap://[user@]host/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]], or the
same from "/mailbox" on (relative to this server). Pure: text in, MessageUrl or
BadUrl out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from groupware.protocols.imap.commands import Section
from groupware.protocols.imap.grammar.fetch import parse_section
from groupware.protocols.imap.grammar.reader import ParseError

MAX_URL = 8192


class BadUrl(ValueError):
    """The URL is not one this server can resolve (RFC 4469 §5: NO [BADURL])."""


@dataclass(frozen=True)
class MessageUrl:
    user: str | None  # the URL's userinfo, when it names one
    mailbox: str
    uidvalidity: int | None
    uid: int
    section: Section | None
    partial: tuple[int, int | None] | None  # origin, length (None: to the end)


_ABSOLUTE = re.compile(r"imap://(?:(?P<user>[^@/]*)@)?[^/@]+(?P<path>/.*)?", re.IGNORECASE)
_PATH = re.compile(
    r"/(?P<mailbox>[^;/?#]+(?:/[^;/?#]+)*?)"
    r"(?:;UIDVALIDITY=(?P<uidvalidity>[1-9][0-9]{0,9}))?"
    r"/;UID=(?P<uid>[1-9][0-9]{0,9})"
    r"(?:/;SECTION=(?P<section>[^/;?#]+))?"
    r"(?:/;PARTIAL=(?P<origin>[0-9]{1,10})(?:\.(?P<length>[1-9][0-9]{0,9}))?)?",
    re.IGNORECASE,
)


def parse_message_url(text: str) -> MessageUrl:
    """The message (part) `text` names; BadUrl for anything else, incl. URLAUTH."""
    if len(text) > MAX_URL:
        raise BadUrl("URL too long")
    user = None
    path = text
    absolute = _ABSOLUTE.fullmatch(text)
    if absolute is not None:
        path = absolute["path"] or ""
        user = absolute["user"]
        if user is not None:  # iuserinfo = enc-user [iauth]
            user = unquote(user.split(";", 1)[0])
    found = _PATH.fullmatch(path)
    if found is None:
        raise BadUrl("not an IMAP URL of one message")
    mailbox = _decode(found["mailbox"])
    uidvalidity = int(found["uidvalidity"]) if found["uidvalidity"] else None
    uid = int(found["uid"])
    if uid > 0xFFFFFFFF or (uidvalidity is not None and uidvalidity > 0xFFFFFFFF):
        raise BadUrl("number out of range")
    section = None
    if found["section"]:
        try:
            section = parse_section(_decode(found["section"]))
        except ParseError as error:
            raise BadUrl(f"bad section: {error.message}") from None
    partial = None
    if found["origin"] is not None:
        length = int(found["length"]) if found["length"] else None
        partial = (int(found["origin"]), length)
    return MessageUrl(user, mailbox, uidvalidity, uid, section, partial)


def _decode(text: str) -> str:
    """RFC 5092 §3: percent-encoded UTF-8."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise BadUrl("percent-encoding is not UTF-8") from None
