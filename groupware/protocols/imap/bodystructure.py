"""ENVELOPE and BODY/BODYSTRUCTURE on the wire (RFC 9051 §7.5.2, RFC 3501 §7.4.2).

Writes what `mime.structure` parsed, field by field, as Dovecot does. A new field of
the grammar (say a new body extension) is one more `_write_*` call in the right place.
"""

from __future__ import annotations

from collections.abc import Callable

from groupware.mime.params import Params
from groupware.mime.structure import Address, BodyPart, Envelope
from groupware.protocols.imap.wire import NIL, string

_Write = Callable[[str | None], bytes]


def envelope(env: Envelope, utf8: bool = False) -> bytes:
    """RFC 9051 envelope: "(" date subject from sender reply-to to cc bcc in-reply-to
    message-id ")".

    Strings are the raw header text (RFC 9051 §7.5.2: the server does not decode RFC
    2047 words), so 8-bit octets go out as literals unless `utf8` (UTF8=ACCEPT) lets
    valid UTF-8 be quoted. Sender and reply-to already default to from (`tree.py`).
    """

    def text(value: str | None) -> bytes:
        return string(value, utf8)

    fields = [
        text(env.date),
        text(env.subject),
        *(
            _addresses(addresses, text)
            for addresses in (env.from_, env.sender, env.reply_to, env.to, env.cc, env.bcc)
        ),
        text(env.in_reply_to),
        text(env.message_id),
    ]
    return b"(" + b" ".join(fields) + b")"


def _addresses(addresses: tuple[Address, ...], text: _Write) -> bytes:
    """A list of addresses, "(" 1*address ")" with no space between them, or NIL.

    Group syntax (RFC 9051 §7.5.2): a start marker (NIL NIL "group" NIL) and an end
    marker (NIL NIL NIL NIL); `Address` holds them as the parser found them.
    """
    if not addresses:
        return NIL
    items = (
        b"(%s %s %s %s)" % (text(a.name), text(a.route), text(a.mailbox), text(a.host))
        for a in addresses
    )
    return b"(" + b"".join(items) + b")"


def body_structure(
    part: BodyPart, extensible: bool, utf8: bool = False, rev2: bool = False
) -> bytes:
    """RFC 9051 body: BODYSTRUCTURE when `extensible`, else the BODY form without
    extension data. Parenthesised, as it follows "BODYSTRUCTURE " on the wire.
    message/global has body-type-msg's envelope, body and lines only for a session that
    enabled IMAP4rev2 (`rev2`): RFC 3501's grammar allows them for message/rfc822 only.

    Type, subtype, parameters and encoding are written as the message has them
    (parameter names lower case, RFC 2231 values still encoded), as Dovecot does.
    """

    def text(value: str | None) -> bytes:
        return string(value, utf8)

    if part.children:
        return _multipart(part, extensible, text, utf8, rev2)
    return _single(part, extensible, text, utf8, rev2)


def _multipart(part: BodyPart, extensible: bool, text: _Write, utf8: bool, rev2: bool) -> bytes:
    """body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart], where
    body-ext-mpart is params, then the extension data common to every part."""
    children = b"".join(body_structure(child, extensible, utf8, rev2) for child in part.children)
    fields = [children + b" " + text(part.subtype)]
    if extensible:
        fields.append(_params(part.params, text))
        fields.append(_common_extensions(part, text))
    return b"(" + b" ".join(fields) + b")"


def _single(part: BodyPart, extensible: bool, text: _Write, utf8: bool, rev2: bool) -> bytes:
    """body-type-1part: media type, body-fields (params id description encoding octets),
    then for message/rfc822 envelope, body and lines, for text/* lines
    (RFC 9051 §9 body-type-msg, body-type-text), then body-ext-1part."""
    fields = [
        text(part.type),
        text(part.subtype),
        _params(part.params, text),
        text(part.id),
        text(part.description),
        text(part.encoding),
        b"%d" % part.size,
    ]
    if part.message is not None and (rev2 or part.subtype.lower() == "rfc822"):
        inner_envelope, inner_body = part.message
        fields.append(envelope(inner_envelope, utf8))
        fields.append(body_structure(inner_body, extensible, utf8, rev2))
        fields.append(b"%d" % (part.lines or 0))
    elif part.type.lower() == "text":
        fields.append(b"%d" % (part.lines or 0))
    if extensible:
        fields.append(text(part.md5))
        fields.append(_common_extensions(part, text))
    return b"(" + b" ".join(fields) + b")"


def _common_extensions(part: BodyPart, text: _Write) -> bytes:
    """body-fld-dsp SP body-fld-lang SP body-fld-loc (RFC 9051 §9; RFC 2183, RFC 3282,
    RFC 2557). Dovecot writes every one of them, NIL when absent, and the language as a
    list even when there is one tag; so do we."""
    if part.disposition is None:
        disposition = NIL
    else:
        kind, params = part.disposition
        disposition = b"(%s %s)" % (text(kind), _params(params, text))
    if part.language is None:
        language = NIL
    else:
        language = b"(" + b" ".join(text(tag) for tag in part.language) + b")"
    return b"%s %s %s" % (disposition, language, text(part.location))


def _params(params: Params, text: _Write) -> bytes:
    """body-fld-param: "(" name SP value *(SP name SP value) ")" or NIL when empty."""
    if not params:
        return NIL
    return b"(" + b" ".join(b"%s %s" % (text(name), text(value)) for name, value in params) + b")"
