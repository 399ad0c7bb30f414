"""LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED selection and return options,
RFC 5819 LIST-STATUS). A new option is a set entry.
"""

from __future__ import annotations

from groupware.protocols.imap.commands import (
    List,
)
from groupware.protocols.imap.grammar.mailboxes import status_items
from groupware.protocols.imap.grammar.reader import (
    ParseError,
    Reader,
    show,
)

LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})


LIST_RETURNS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})


_BASE_SELECTION = frozenset({"SUBSCRIBED", "SPECIAL-USE"})  # what RECURSIVEMATCH needs


def parse_list(r: Reader, tag: str) -> List:
    """RFC 5258 list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    [SP list-return-opts]; mbox-or-pat = list-mailbox / "(" list-mailbox *(SP ...) ")"."""
    r.sp()
    selection: tuple[str, ...] = ()
    if r.peek() == b"(":
        selection = r.parenthesised(lambda: _option(r, LIST_SELECTION, "selection"), empty=True)
        r.sp()
    # RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) gets BAD.
    if "RECURSIVEMATCH" in selection and not _BASE_SELECTION & set(selection):
        raise ParseError("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE")
    reference = r.mailbox()
    r.sp()
    patterns = r.parenthesised(r.list_mailbox) if r.peek() == b"(" else (r.list_mailbox(),)
    returns: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    if not r.done():
        r.sp()
        returns, items = _list_returns(r)
    return List(tag, reference, patterns, selection, returns, items)


def _option(r: Reader, known: frozenset[str], kind: str) -> str:
    name = r.keyword(f"a LIST {kind} option")
    if name not in known:
        raise ParseError(f"unknown LIST {kind} option {show(name)}")
    return name


def _list_returns(r: Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """RFC 5258 list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")";
    RFC 5819 status-option = "STATUS" SP "(" status-att *(SP status-att) ")"."""
    if not r.accept("RETURN"):
        raise r.error("RETURN")
    r.sp()
    items: tuple[str, ...] = ()

    def option() -> str:
        nonlocal items
        name = _option(r, LIST_RETURNS, "return")
        if name == "STATUS":
            r.sp()
            items = status_items(r)
        return name

    returns = r.parenthesised(option, empty=True)
    return returns, items


def parse_lsub(r: Reader, tag: str) -> List:
    """RFC 3501 lsub = "LSUB" SP mailbox SP list-mailbox."""
    r.sp()
    reference = r.mailbox()
    r.sp()
    return List(tag, reference, (r.list_mailbox(),), lsub=True)
