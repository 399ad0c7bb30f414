"""Commands of any state (RFC 9051 §6.1 and extensions): ID (RFC 2971), ENABLE (RFC 5161),
COMPRESS (RFC 4978); those without arguments are table entries in __init__.py.
"""

from __future__ import annotations

from groupware.protocols.imap.commands import (
    Compress,
    Enable,
    Id,
)
from groupware.protocols.imap.grammar.reader import (
    Reader,
    decode,
)


def parse_id(r: Reader, tag: str) -> Id:
    """RFC 2971 id = "ID" SP id-params-list; id-params-list = "(" #(string SP nstring) ")"
    / nil (the pairs space-separated, as clients send them)."""
    r.sp()
    if r.accept("NIL"):
        return Id(tag, None)
    return Id(tag, r.parenthesised(lambda: _id_pair(r), empty=True))


def _id_pair(r: Reader) -> tuple[str, str | None]:
    name = decode(r.string(), "an ID field name")
    r.sp()
    value = r.nstring()
    return name, None if value is None else decode(value, "an ID value")


def parse_enable(r: Reader, tag: str) -> Enable:
    """RFC 5161 enable = "ENABLE" 1*(SP capability)."""
    r.sp()
    return Enable(tag, r.to_end(lambda: r.keyword("a capability")))


def parse_compress(r: Reader, tag: str) -> Compress:
    """RFC 4978 compress = "COMPRESS" SP algorithm; algorithm = atom."""
    r.sp()
    return Compress(tag, r.keyword("a compression algorithm"))
