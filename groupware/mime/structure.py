"""The parsed shape of a message: addresses, ENVELOPE and the MIME body tree with offsets.

Plain frozen data that IMAP turns into ENVELOPE/BODYSTRUCTURE and slices BODY[...] with.
A new per-part fact is a new field here, in `stored.py` (JSON) and in `tree.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from groupware.mime.params import Params, param_value


@dataclass(frozen=True, slots=True)
class Address:
    """An IMAP address structure (RFC 3501 §7.4.2): personal name, route, mailbox, host.

    Group syntax: a start marker has host None and the group name as mailbox; an end
    marker has mailbox and host None. Real addresses always have a mailbox and a host
    (empty strings when the message lacks them).
    """

    name: str | None
    route: str | None
    mailbox: str | None
    host: str | None

    @property
    def is_group_marker(self) -> bool:
        return self.host is None


@dataclass(frozen=True, slots=True)
class Envelope:
    """ENVELOPE fields (RFC 3501 §7.4.2) as the raw, still-encoded header text.

    Strings are unfolded and trimmed header values, None when the field is absent. They
    are lossless: `s.encode("utf-8", "surrogateescape")` gives the message's octets. An
    empty tuple is NIL. `sender` and `reply_to` already hold `from_` when the message
    has none (or an empty one), as §7.4.2 requires of the server.
    """

    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One MIME entity: BODYSTRUCTURE fields plus where its bytes lie in the message.

    Fields keep what the message says (type and subtype in their case, parameters as
    `params.parse_params` reads them); defaults (text/plain, charset us-ascii, 7bit) are
    filled in by the parser. Offsets index the raw message (not the part):

    - `header_start`: the first octet of the part's header. 0 for the message; in a
      multipart, the octet after the line break that ends the delimiter line; for the
      message inside message/rfc822, the enclosing part's `body_start`.
    - `body_start`: the octet after the empty line that ends the header (the header
      includes that line). Without an empty line the whole part is header and
      `body_start == body_end`.
    - `body_end`: one past the last body octet. In a multipart the CRLF (or LF) before
      the next delimiter line belongs to the delimiter (RFC 2046 §5.1.1), so it is not
      in the body. A part cut short by a missing delimiter ends where its parent ends.

    So BODY[n] is `raw[body_start:body_end]`, BODY[n.MIME] `raw[header_start:body_start]`.
    For message/rfc822 (and message/global) `message` holds the encapsulated message's
    envelope and root part; its header is BODY[n.HEADER], its root's body BODY[n.TEXT].
    `lines` is set for text/* and message/rfc822|global (RFC 3501 body-fld-lines): the
    line breaks in the body, plus one for a last line without one (a part's final
    CRLF belongs to the next delimiter; Dovecot counts only the line breaks).
    """

    type: str
    subtype: str
    params: Params
    id: str | None
    description: str | None
    encoding: str
    md5: str | None
    disposition: tuple[str, Params] | None
    language: tuple[str, ...] | None
    location: str | None
    lines: int | None
    header_start: int
    body_start: int
    body_end: int
    children: tuple[BodyPart, ...] = ()
    message: tuple[Envelope, BodyPart] | None = None

    @property
    def size(self) -> int:
        """Body octets as stored, in their transfer encoding (RFC 3501 body-fld-octets)."""
        return self.body_end - self.body_start

    @property
    def mime_type(self) -> str:
        """ "type/subtype" in lower case, for comparisons."""
        return f"{self.type}/{self.subtype}".lower()

    def param(self, name: str) -> str | None:
        """A Content-Type parameter, decoded (RFC 2231 / RFC 2047), or None."""
        return param_value(self.params, name)

    @property
    def filename(self) -> str | None:
        """The attachment's name: Content-Disposition filename, else Content-Type name."""
        if self.disposition is not None:
            found = param_value(self.disposition[1], "filename")
            if found:
                return found
        return self.param("name")


def section_bounds(body: BodyPart, section: tuple[int, ...]) -> BodyPart | None:
    """The part that a section number (RFC 3501 §6.4.5) names; None if there is none.

    `()` is the message itself. Part 1 of a non-multipart message is its body (the
    root). Below a message/rfc822 part, numbers continue in the encapsulated message:
    its multipart's children, or its single body as part 1.
    """
    current = body
    for depth, number in enumerate(section):
        if number < 1:
            return None
        if current.children:
            if number > len(current.children):
                return None
            current = current.children[number - 1]
        elif depth > 0 and current.message is not None:
            inner = current.message[1]
            if inner.children:
                if number > len(inner.children):
                    return None
                current = inner.children[number - 1]
            elif number == 1:
                current = inner
            else:
                return None
        elif depth > 0 or number != 1:
            return None
    return current


def walk(body: BodyPart) -> Iterator[BodyPart]:
    """Every part in depth-first order, descending into encapsulated messages."""
    stack = [body]
    while stack:
        part = stack.pop()
        yield part
        nested = list(part.children)
        if part.message is not None:
            nested.append(part.message[1])
        stack.extend(reversed(nested))


# Signature parts of multipart/signed (RFC 1847, RFC 3156, RFC 8551) are no attachments.
_SIGNATURES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)


def count_attachments(body: BodyPart) -> int:
    """How many parts a reader would list as attachments (for the web's paperclip)."""
    return sum(1 for _ in attachments(body))


def attachments(body: BodyPart) -> Iterator[tuple[tuple[int, ...], BodyPart]]:
    """The parts a reader lists as attachments, in order, with their section numbers
    (RFC 3501 §6.4.5; a single-part message's body is section 1).

    A leaf counts when its disposition says attachment (RFC 2183 §2.2), or when it is
    not text, or is text with a file name — except resources that a multipart/related
    document references by Content-ID (RFC 2387) and signatures. An attached message
    counts once; its own parts do not.
    """
    stack: list[tuple[tuple[int, ...], BodyPart, bool]] = [((), body, False)]
    while stack:
        section, part, in_related = stack.pop()
        if part.children:
            related = part.subtype.lower() == "related"
            numbered = list(enumerate(part.children, 1))
            stack.extend(((*section, n), child, related) for n, child in reversed(numbered))
        elif _is_attachment(part, in_related):
            yield section or (1,), part


def _is_attachment(part: BodyPart, in_related: bool) -> bool:
    if part.mime_type in _SIGNATURES:
        return False
    if part.disposition is not None and part.disposition[0].lower() == "attachment":
        return True
    if part.type.lower() == "text":
        return part.filename is not None
    return not (in_related and part.id is not None)
