"""RFC 5465 NOTIFY: notify = "NOTIFY" SP (notify-set / notify-none)."""

from __future__ import annotations

from groupware.protocols.imap.commands import FetchAttr, Notify, NotifyFilter
from groupware.protocols.imap.grammar.fetch import fetch_attrs
from groupware.protocols.imap.grammar.reader import ParseError, Reader, show

# filter-mailboxes: those that name mailboxes take one-or-more-mailbox after them
KINDS = frozenset({"SELECTED", "SELECTED-DELAYED", "INBOXES", "PERSONAL", "SUBSCRIBED"})
NAMED_KINDS = frozenset({"SUBTREE", "MAILBOXES"})
# RFC 5465 §8 event names (and RFC 5464's), in their canonical spelling
EVENTS = {
    name.upper(): name
    for name in (
        "MessageNew",
        "MessageExpunge",
        "FlagChange",
        "AnnotationChange",
        "MailboxName",
        "SubscriptionChange",
        "MailboxMetadataChange",
        "ServerMetadataChange",
    )
}


def parse_notify(r: Reader, tag: str) -> Notify:
    """notify-none = "NONE"; notify-set = "SET" [SP "STATUS"] SP event-groups;
    event-groups = event-group *(SP event-group)."""
    r.sp()
    if r.accept("NONE"):
        return Notify(tag, None)
    if not r.accept("SET"):
        raise r.error("SET or NONE")
    r.sp()
    status = r.accept("STATUS")
    if status:
        r.sp()
    return Notify(tag, r.to_end(lambda: _event_group(r)), status)


def _event_group(r: Reader) -> NotifyFilter:
    """event-group = "(" filter-mailboxes SP events ")"."""
    r.expect(b"(")
    kind = r.keyword("a mailbox filter")
    mailboxes: tuple[str, ...] = ()
    if kind in NAMED_KINDS:
        r.sp()  # one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
        mailboxes = r.parenthesised(r.mailbox) if r.peek() == b"(" else (r.mailbox(),)
    elif kind not in KINDS:
        raise ParseError(f"unknown mailbox filter {show(kind)}")
    r.sp()
    new_fetch: list[FetchAttr] = []
    if r.accept("NONE"):
        events: tuple[str, ...] = ()
    else:
        events = r.parenthesised(lambda: _event(r, new_fetch))
    r.expect(b")")
    return NotifyFilter(kind, events, mailboxes, tuple(new_fetch))


def _event(r: Reader, new_fetch: list[FetchAttr]) -> str:
    """event = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) / "MessageExpunge" /
    ... / event-ext (an atom: refused later with BADEVENT, not as bad syntax)."""
    name = r.keyword("an event")
    if name == "MESSAGENEW" and r.peek(2) == b" (":
        r.sp()
        new_fetch.extend(fetch_attrs(r))
    return EVENTS.get(name, name)
