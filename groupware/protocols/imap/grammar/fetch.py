"""FETCH (RFC 9051 §6.4.5, RFC 7162 CHANGEDSINCE and VANISHED, RFC 3516 BINARY) and the
section specs IMAP URLs share. A new FETCH item goes in _fetch_att.
"""

from __future__ import annotations

import re

from groupware.protocols.imap.commands import (
    Fetch,
    FetchAttr,
    Section,
)
from groupware.protocols.imap.grammar.reader import (
    NUMBER64_MAX,
    ParseError,
    Reader,
    decode,
    show,
    to_number,
)

SIMPLE_ITEMS = frozenset(
    {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY"}
    | {"RFC822", "RFC822.HEADER", "RFC822.TEXT", "MODSEQ"}
)
_FAST = (FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE"))
MACROS = {  # RFC 9051 §6.4.5
    "FAST": _FAST,
    "ALL": (*_FAST, FetchAttr("ENVELOPE")),
    "FULL": (*_FAST, FetchAttr("ENVELOPE"), FetchAttr("BODY")),
}
SECTION_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"})
_ITEM = re.compile(rb"[A-Za-z0-9.]+")
_SECTION_SPEC = re.compile(rb"[A-Za-z0-9.]*")
_PARTIAL = re.compile(rb"<([0-9]+)\.([0-9]+)>")


def parse_fetch(r: Reader, tag: str, uid: bool) -> Fetch:
    """RFC 9051 fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers] (RFC 4466, RFC 7162)."""
    r.sp()
    numbers = r.sequence_set()
    r.sp()
    attrs = fetch_attrs(r)
    changedsince, vanished = None, False
    if not r.done():
        r.sp()
        changedsince, vanished = _fetch_modifiers(r)
    # RFC 7162 §3.2.6: VANISHED only in UID FETCH and only with CHANGEDSINCE.
    if vanished and not uid:
        raise ParseError("VANISHED is only allowed in UID FETCH")
    if vanished and changedsince is None:
        raise ParseError("VANISHED needs CHANGEDSINCE")
    return Fetch(tag, numbers, attrs, uid, changedsince, vanished)


def fetch_attrs(r: Reader) -> tuple[FetchAttr, ...]:
    if r.peek() == b"(":
        return r.parenthesised(lambda: _fetch_att(r, _item_name(r)))
    name = _item_name(r)
    return MACROS.get(name) or (_fetch_att(r, name),)


def _item_name(r: Reader) -> str:
    return r.match(_ITEM, "a FETCH item")[0].decode("ascii").upper()


def _fetch_att(r: Reader, name: str) -> FetchAttr:
    """RFC 9051 fetch-att; RFC 7162 "MODSEQ"; RFC 3516 BINARY[.PEEK], BINARY.SIZE."""
    if name in SIMPLE_ITEMS and not (name == "BODY" and r.peek() == b"["):
        return FetchAttr(name)
    if name in ("BODY", "BODY.PEEK"):
        section = _section(r)
        return FetchAttr("BODY[]", section, _partial(r), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK"):
        section = _binary_section(r)
        return FetchAttr("BINARY[]", section, _partial(r), peek=name == "BINARY.PEEK")
    if name == "BINARY.SIZE":
        return FetchAttr("BINARY.SIZE", _binary_section(r))
    raise ParseError(f"unknown FETCH item {show(name)}")


def _section(r: Reader) -> Section:
    """RFC 9051 section = "[" [section-spec] "]"; section-spec = section-msgtext /
    (section-part ["." section-text]); "HEADER.FIELDS" [".NOT"] SP header-list."""
    r.expect(b"[")
    spec = r.match(_SECTION_SPEC, "a section")[0].decode("ascii").upper()
    names = spec.split(".") if spec else []
    if "" in names:
        raise ParseError(f"bad section {show(spec)}")
    count = next((i for i, name in enumerate(names) if not name.isdigit()), len(names))
    part = tuple(to_number(name, nonzero=True) for name in names[:count])
    text = ".".join(names[count:]) or None
    if text is not None and text not in SECTION_TEXTS:
        raise ParseError(f"bad section {show(spec)}")
    if text == "MIME" and not part:
        raise ParseError("MIME needs a part number, as in BODY[1.MIME]")
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        r.sp()
        fields = r.parenthesised(lambda: _field_name(r))
    r.expect(b"]")
    return Section(part, text, fields)


def parse_section(spec: str) -> Section:
    """A section-spec on its own (as RFC 5092 URLs carry one after ";SECTION=")."""
    r = Reader([b"[" + spec.encode("utf-8") + b"]"])
    section = _section(r)
    r.end()
    return section


def _field_name(r: Reader) -> str:
    """RFC 9051 header-fld-name = astring; RFC 5322 field names are printable ASCII."""
    name = decode(r.astring(), "a header field name", "ascii")
    if not name or not name.isprintable() or ":" in name or " " in name:
        raise ParseError(f"bad header field name {show(name)}")
    return name.upper()


def _binary_section(r: Reader) -> Section:
    """RFC 3516 section-binary = "[" [section-part] "]"."""
    r.expect(b"[")
    spec = r.match(_SECTION_SPEC, "a section part")[0].decode("ascii")
    names = spec.split(".") if spec else []
    if not all(name.isdigit() for name in names):
        raise ParseError(f"bad BINARY section {show(spec)}: part numbers only")
    r.expect(b"]")
    return Section(tuple(to_number(name, nonzero=True) for name in names))


def _partial(r: Reader) -> tuple[int, int] | None:
    """RFC 9051 partial = "<" number64 "." nz-number64 ">"."""
    if r.peek() != b"<":
        return None
    found = r.match(_PARTIAL, "a partial like <0.1024>")
    return to_number(found[1], NUMBER64_MAX), to_number(found[2], NUMBER64_MAX, nonzero=True)


def _fetch_modifiers(r: Reader) -> tuple[int | None, bool]:
    """RFC 4466 fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"; RFC 7162
    "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"."""
    changedsince, vanished = None, False

    def modifier() -> None:
        nonlocal changedsince, vanished
        name = r.keyword("a FETCH modifier")
        if name == "CHANGEDSINCE":
            r.sp()
            changedsince = r.number(NUMBER64_MAX, nonzero=True)
        elif name == "VANISHED":
            vanished = True
        else:
            raise ParseError(f"unknown FETCH modifier {show(name)}")

    r.parenthesised(modifier)
    return changedsince, vanished
