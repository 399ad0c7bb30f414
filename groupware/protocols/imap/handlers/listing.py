"""LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9), with RFC 5258 LIST-EXTENDED
selection and return options, RFC 6154 special-use attributes and RFC 5819 LIST-STATUS.
A new selection option is a condition in `_Listing.list`; a new attribute one in
`_Listing._attributes`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from groupware.protocols.imap import commands as c
from groupware.protocols.imap.handlers.mailboxes import status_items
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session
from groupware.services.mail.mailboxes import INBOX, SEPARATOR, MailboxInfo


def _pattern_in(session: Session, text: str) -> str:
    """A pattern that is not valid modified UTF-7 matches as written (as in Dovecot)."""
    try:
        return session.mailbox_in(text)
    except Refused:
        return text


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: "*" matches anything, "%" anything but the hierarchy delimiter.
    INBOX is case-insensitive, so a pattern starting with it is spelled the stored way."""
    if pattern[:5].upper() == INBOX and (len(pattern) == 5 or pattern[5] in f"{SEPARATOR}*%"):
        pattern = INBOX + pattern[5:]
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(SEPARATOR)}]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class _Entry:
    """One LIST or LSUB reply."""

    name: str
    attributes: tuple[str, ...]
    childinfo: bool = False  # RFC 5258 §3.5 CHILDINFO ("SUBSCRIBED")


# RFC 9051 §6.3.9 LIST; RFC 3501 §6.3.9 LSUB; RFC 5258 LIST-EXTENDED
async def cmd_list(session: Session, command: c.List) -> str | None:
    selection = {s.upper() for s in command.selection}
    returns = {r.upper() for r in command.returns}
    unknown = selection - {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
    if unknown:
        raise Refused(f"Unknown selection option {sorted(unknown)[0]}", bad=True)
    if selection == {"RECURSIVEMATCH"}:
        raise Refused("RECURSIVEMATCH needs another selection option", bad=True)
    reference = _pattern_in(session, command.reference)
    patterns = [_pattern_in(session, p) for p in command.patterns]
    if not command.lsub and patterns == [""]:  # RFC 9051: the delimiter and root
        session.untagged(f'LIST (\\Noselect) "{SEPARATOR}" ""')
        return None
    mailboxes = session.services.mailboxes
    boxes = await session.call(mailboxes.list_all, session.actor)
    by_name = {b.name: b for b in boxes}
    subscribed = {b.name for b in boxes if b.subscribed}
    if command.lsub or "SUBSCRIBED" in selection:  # names that are no mailbox, too
        subscribed = set(await session.call(mailboxes.subscriptions, session.actor))
    regexes = [pattern_regex(reference + p) for p in patterns]
    listing = _Listing(by_name, subscribed, regexes)
    entries = listing.for_lsub() if command.lsub else listing.for_list(selection, returns)
    verb = "LSUB" if command.lsub else "LIST"
    for entry in entries:
        line = f'{verb} ({" ".join(entry.attributes)}) "{SEPARATOR}" '.encode()
        line += session.mailbox_out(entry.name)
        if entry.childinfo:
            line += b' ("CHILDINFO" ("SUBSCRIBED"))'
        session.untagged(line)
        box = by_name.get(entry.name)
        if "STATUS" in returns and box is not None:
            items = await status_items(session, box, command.status_items)
            session.untagged(b"STATUS " + session.mailbox_out(entry.name) + b" (" + items + b")")
    return None


class _Listing:
    """Which names a LIST or LSUB returns, with which attributes: the mailboxes, the
    subscribed names (mailboxes or not) and the parents both imply."""

    def __init__(
        self,
        by_name: dict[str, MailboxInfo],
        subscribed: set[str],
        regexes: list[re.Pattern[str]],
    ) -> None:
        self._by_name = by_name
        self._subscribed = subscribed
        self._regexes = regexes
        self._parents = _ancestors(set(by_name))  # names with a mailbox below them

    def matches(self, name: str) -> bool:
        return any(r.fullmatch(name) for r in self._regexes)

    def for_list(self, selection: set[str], returns: set[str]) -> list[_Entry]:
        """RFC 5258 §3: mailboxes (or with SUBSCRIBED, subscribed names) matching a
        pattern; RECURSIVEMATCH adds a parent that is not subscribed itself but has a
        subscribed descendant no pattern matches, with CHILDINFO (§3.5, as Dovecot)."""
        subscribed_only = "SUBSCRIBED" in selection
        special_only = "SPECIAL-USE" in selection
        recursive = subscribed_only and "RECURSIVEMATCH" in selection
        show_subscribed = subscribed_only or "SUBSCRIBED" in returns

        def selected(name: str) -> bool:
            box = self._by_name.get(name)
            if special_only and (box is None or not box.special_use):
                return False
            return not subscribed_only or name in self._subscribed

        names = set(self._by_name) | (self._subscribed if subscribed_only else set())
        entries = []
        for name in _ordered(names | _ancestors(names)):
            if not self.matches(name):
                continue
            childinfo = False
            if not selected(name):
                childinfo = recursive and any(
                    selected(d) and not self.matches(d) for d in self._under(name)
                )
                if not childinfo:
                    continue
            attributes = self._attributes(name, show_subscribed, extended=bool(selection))
            entries.append(_Entry(name, attributes, childinfo))
        return entries

    def for_lsub(self) -> list[_Entry]:
        """RFC 3501 §6.3.9 LSUB: subscribed names matching a pattern; and a parent that
        is not subscribed but whose subscribed descendant the pattern does not reach
        ("%" stops at it), as \\Noselect."""
        entries = []
        for name in _ordered(self._subscribed | _ancestors(self._subscribed)):
            if not self.matches(name):
                continue
            if name in self._subscribed:
                entries.append(_Entry(name, ()))
            elif any(not self.matches(d) for d in self._under(name)):
                entries.append(_Entry(name, ("\\Noselect",)))
        return entries

    def _under(self, name: str) -> list[str]:
        """The subscribed names below `name`."""
        return [n for n in self._subscribed if n.startswith(name + SEPARATOR)]

    def _attributes(self, name: str, show_subscribed: bool, extended: bool) -> tuple[str, ...]:
        box = self._by_name.get(name)
        children = name in self._parents
        attributes = []
        if box is None:
            attributes.append("\\NonExistent")  # RFC 5258 §3: implies \Noselect…
            if not extended:  # …which an IMAP4rev1 client may not know (RFC 3501 §6.3.8)
                attributes.append("\\Noselect")
        attributes.append("\\HasChildren" if children else "\\HasNoChildren")
        if box is not None and box.special_use:
            attributes.append(box.special_use)
        if show_subscribed and name in self._subscribed:
            attributes.append("\\Subscribed")
        return tuple(attributes)


def _ancestors(names: set[str]) -> set[str]:
    """Every proper ancestor of the names ("a" and "a/b" for "a/b/c")."""
    ancestors = set()
    for name in names:
        parts = name.split(SEPARATOR)
        for depth in range(1, len(parts)):
            ancestors.add(SEPARATOR.join(parts[:depth]))
    return ancestors


def _ordered(names: set[str]) -> list[str]:
    return sorted(names, key=lambda n: (n != INBOX, n))
