"""Commands before login (RFC 9051 §6.2): LOGIN and AUTHENTICATE with its initial response
(RFC 4959, SASL-IR).
"""

from __future__ import annotations

import base64
import binascii
import re

from groupware.protocols.imap.commands import (
    Authenticate,
    Login,
)
from groupware.protocols.imap.grammar.reader import (
    ParseError,
    Reader,
    decode,
)

_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


_SASL_TOKEN = re.compile(rb"[A-Za-z0-9+/=]+")


def parse_login(r: Reader, tag: str) -> Login:
    """RFC 9051 login = "LOGIN" SP userid SP password; both astring, UTF-8."""
    r.sp()
    user = decode(r.astring(), "the user name")
    r.sp()
    return Login(tag, user, decode(r.astring(), "the password"))


def parse_authenticate(r: Reader, tag: str) -> Authenticate:
    """RFC 9051 authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]; RFC 4959
    initial-resp = base64 / "=" (an empty response)."""
    r.sp()
    mechanism = r.keyword("a SASL mechanism")
    if r.done():
        return Authenticate(tag, mechanism)
    r.sp()
    token = r.match(_SASL_TOKEN, "a base64 initial response or =")[0]
    if token == b"=":
        return Authenticate(tag, mechanism, b"")
    if not _BASE64.fullmatch(token):
        raise ParseError("the initial response is not valid base64")
    try:
        return Authenticate(tag, mechanism, base64.b64decode(token, validate=True))
    except binascii.Error:
        raise ParseError("the initial response is not valid base64") from None
