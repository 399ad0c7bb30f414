"""LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9), with RFC 5258 LIST-EXTENDED
selection and return options, RFC 6154 special-use attributes and RFC 5819 LIST-STATUS."""

from __future__ import annotations

import re

from groupware.protocols.imap import commands as c
from groupware.protocols.imap.handlers.mailboxes import status_items
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session
from groupware.services.mailboxes import INBOX, SEPARATOR, MailboxInfo


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


# RFC 9051 §6.3.9 LIST; RFC 3501 §6.3.9 LSUB
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
    boxes = await session.call(session.services.mailboxes.list_all, session.actor)
    by_name = {b.name: b for b in boxes}
    regexes = [pattern_regex(reference + p) for p in patterns]
    subscribed_only = command.lsub or "SUBSCRIBED" in selection
    names = set(by_name)
    # Parents that do not exist appear (\NonExistent / \Noselect) when a pattern names them.
    parents = {n.rsplit(SEPARATOR, 1)[0] for n in names if SEPARATOR in n}
    while parents - names:
        missing = parents - names
        names |= missing
        parents = {n.rsplit(SEPARATOR, 1)[0] for n in missing if SEPARATOR in n}
    for name in sorted(names, key=lambda n: (n != INBOX, n)):
        if not any(r.fullmatch(name) for r in regexes):
            continue
        box = by_name.get(name)
        attributes = _attributes(name, box, by_name, command.lsub, selection | returns)
        if subscribed_only and (box is None or not box.subscribed):
            if not _has_subscribed_child(name, by_name, selection):
                continue
            attributes = [a for a in attributes if a != "\\Subscribed"]
        if "SPECIAL-USE" in selection and (box is None or not box.special_use):
            continue
        line = f'{"LSUB" if command.lsub else "LIST"} ({" ".join(attributes)}) "{SEPARATOR}" '
        session.untagged(line.encode() + session.mailbox_out(name))
        if "STATUS" in returns and box is not None:
            items = await status_items(session, box, command.status_items)
            session.untagged(b"STATUS " + session.mailbox_out(name) + b" (" + items + b")")
    return None


def _attributes(
    name: str,
    box: MailboxInfo | None,
    by_name: dict[str, MailboxInfo],
    lsub: bool,
    options: set[str],
) -> list[str]:
    children = any(other.startswith(name + SEPARATOR) for other in by_name)
    attributes = []
    if box is None:
        attributes.append("\\Noselect" if lsub else "\\NonExistent")
    if not lsub:
        attributes.append("\\HasChildren" if children else "\\HasNoChildren")
    if box is not None and box.special_use:
        attributes.append(box.special_use)
    if box is not None and box.subscribed and "SUBSCRIBED" in options and not lsub:
        attributes.append("\\Subscribed")
    return attributes


def _has_subscribed_child(name: str, by_name: dict[str, MailboxInfo], selection: set[str]) -> bool:
    """RFC 5258 RECURSIVEMATCH: a parent shows when a child is subscribed (LSUB: as
    \\Noselect when the pattern's % stops at it — kept simple: only with the option)."""
    if "RECURSIVEMATCH" not in selection:
        return False
    return any(n.startswith(name + SEPARATOR) and b.subscribed for n, b in by_name.items())
