"""Commands that add, change, copy or remove messages: APPEND (MULTIAPPEND, CATENATE),
STORE (RFC 7162 UNCHANGEDSINCE), COPY, MOVE and EXPUNGE (UID EXPUNGE).
"""

from __future__ import annotations

import re
from typing import Literal

from groupware.protocols.imap.commands import (
    Append,
    AppendMessage,
    Catenate,
    Copy,
    Expunge,
    Move,
    SequenceSet,
    Spooled,
    Store,
)
from groupware.protocols.imap.grammar.reader import (
    NUMBER64_MAX,
    ParseError,
    Reader,
    decode,
)


def parse_append(r: Reader, tag: str) -> Append:
    """RFC 3502 append = "APPEND" SP mailbox 1*append-message; append-message =
    append-opts SP append-data (RFC 9051 APPEND is the one-message case)."""
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return Append(tag, mailbox, r.to_end(lambda: _append_message(r)))


def _append_message(r: Reader) -> AppendMessage:
    """[flag-list SP] [date-time SP] append-data; append-data = literal / literal8
    (RFC 3516) / "UTF8" SP "(" literal8 ")" (RFC 6855)."""
    flags: tuple[str, ...] = ()
    if r.peek() == b"(":
        flags = r.flag_list()
        r.sp()
    when = None
    if r.peek() == b'"':
        when = r.date_time()
        r.sp()
    if r.accept("CATENATE"):  # RFC 4469 append-data =/ "CATENATE" SP "(" cat-part ...")"
        r.sp()
        return AppendMessage(Catenate(r.parenthesised(lambda: _cat_part(r))), flags, when)
    if r.accept("UTF8"):
        r.sp()
        r.expect(b"(")
        data, binary = r.any_literal()
        if not binary:
            raise ParseError("APPEND UTF8 needs a binary literal ~{n}")
        r.expect(b")")
        return AppendMessage(data, flags, when, utf8=True)
    # A bare literal8 (RFC 3516 BINARY) is taken like a literal: AppendMessage has no field
    # to tell them apart, and its message may hold NUL octets.
    data, _binary = r.any_literal()
    return AppendMessage(data, flags, when)


def _cat_part(r: Reader) -> bytes | Spooled | str:
    """RFC 4469 cat-part = text-literal / url; text-literal = "TEXT" SP literal;
    url = "URL" SP astring (RFC 3516 allows a literal8 for TEXT)."""
    if r.accept("TEXT"):
        r.sp()
        return r.any_literal()[0]
    if r.accept("URL"):
        r.sp()
        return decode(r.astring(), "a URL")
    raise r.error("TEXT or URL")


_STORE_ITEM = re.compile(rb"([+-]?)FLAGS(\.SILENT)?", re.IGNORECASE)


_MODES: dict[bytes, Literal["", "+", "-"]] = {b"": "", b"+": "+", b"-": "-"}


def parse_store(r: Reader, tag: str, uid: bool) -> Store:
    """RFC 9051 store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags;
    store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))."""
    r.sp()
    numbers = r.sequence_set()
    r.sp()
    unchangedsince = None
    if r.peek() == b"(":
        unchangedsince = _unchangedsince(r)
        r.sp()
    item = r.match(_STORE_ITEM, "FLAGS, +FLAGS or -FLAGS")
    r.sp()
    flags = r.flag_list() if r.peek() == b"(" else r.to_end(r.flag)
    return Store(tag, numbers, _MODES[item[1]], flags, bool(item[2]), uid, unchangedsince)


def _unchangedsince(r: Reader) -> int:
    """RFC 7162 store-modifier = "UNCHANGEDSINCE" SP mod-sequence-valzer, only one."""
    r.expect(b"(")
    if not r.accept("UNCHANGEDSINCE"):
        raise r.error("UNCHANGEDSINCE")
    r.sp()
    value = r.number(NUMBER64_MAX)
    r.expect(b")")
    return value


def parse_copy(r: Reader, tag: str, uid: bool) -> Copy:
    """RFC 9051 copy = "COPY" SP sequence-set SP mailbox."""
    numbers, mailbox = _set_and_mailbox(r)
    return Copy(tag, numbers, mailbox, uid)


def parse_move(r: Reader, tag: str, uid: bool) -> Move:
    """RFC 6851 move = "MOVE" SP sequence-set SP mailbox."""
    numbers, mailbox = _set_and_mailbox(r)
    return Move(tag, numbers, mailbox, uid)


def _set_and_mailbox(r: Reader) -> tuple[SequenceSet, str]:
    r.sp()
    numbers = r.sequence_set()
    r.sp()
    return numbers, r.mailbox()


def parse_expunge(r: Reader, tag: str, uid: bool) -> Expunge:
    """RFC 9051 expunge = "EXPUNGE"; uid-expunge = "UID" SP "EXPUNGE" SP sequence-set."""
    if not uid:
        return Expunge(tag)
    r.sp()
    return Expunge(tag, r.sequence_set())
