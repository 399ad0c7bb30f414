"""SEARCH, SORT and THREAD (RFC 9051 §6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES,
RFC 5256 SORT/THREAD): the criteria go to services.search with sequence numbers and
\\Recent turned into UIDs; results come back as numbers this session knows."""

from __future__ import annotations

from typing import Any

from groupware.protocols.imap import commands as c
from groupware.protocols.imap.contexts import MAX_CONTEXTS, SearchContext
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.selected import SelectedView, compact_set, ordered_set
from groupware.protocols.imap.session import Session
from groupware.services.mail import searchkeys as k


def resolve_key(key: k.Key, view: SelectedView, saved: tuple[int, ...]) -> k.Key:
    """The criteria with IMAP's own keys replaced by UID ranges."""
    if isinstance(key, c.SeqKey):
        if key.set.saved:
            return _uids(u for u in saved if view.seq_of(u) is not None)
        largest = (view.uids[-1] if view.uids else 0) if key.uid else view.exists
        if key.uid:
            return k.Uids(tuple(key.set.resolve(largest)))
        # deviation(RFC 9051 §6.4.4): numbers past EXISTS match nothing rather than BAD
        ranges = [(lo, min(hi, view.exists)) for lo, hi in key.set.resolve(largest)]
        return _uids(u for lo, hi in ranges for u in view.uids[lo - 1 : hi] if lo <= hi)
    if isinstance(key, c.RecentKey):
        recent = _uids(view.recent)
        return recent if key.recent else k.Not(recent)
    if isinstance(key, k.Not):
        return k.Not(resolve_key(key.key, view, saved))
    if isinstance(key, k.Or):
        return k.Or(resolve_key(key.left, view, saved), resolve_key(key.right, view, saved))
    if isinstance(key, k.And):
        return k.And(tuple(resolve_key(part, view, saved) for part in key.keys))
    return key


def _uids(uids: Any) -> k.Uids:
    ordered = sorted(set(uids))
    return k.Uids(tuple((u, u) for u in ordered)) if ordered else k.Uids(((0, 0),))


def _has_modseq(key: k.Key) -> bool:
    if isinstance(key, k.ModSeq):
        return True
    if isinstance(key, k.Not):
        return _has_modseq(key.key)
    if isinstance(key, k.Or):
        return _has_modseq(key.left) or _has_modseq(key.right)
    if isinstance(key, k.And):
        return any(_has_modseq(part) for part in key.keys)
    return False


# RFC 9051 §6.4.4 SEARCH; RFC 4731 ESEARCH; RFC 5182 SEARCHRES; RFC 7162 §3.1.5
async def cmd_search(session: Session, command: c.Search) -> str | None:
    view = session.selected
    key = resolve_key(command.key, view, session.saved_search)
    search = session.services.search
    found = await session.call(search.search, session.actor, view.name, key)
    uids = [u for u in found if view.seq_of(u) is not None]  # only messages the client knows
    modseqs: dict[int, int] = {}
    if _has_modseq(key):
        await session.enable_condstore()
        fetch = session.services.fetch
        states = await session.call(fetch.summaries, session.actor, view.name, uids)
        modseqs = {s.uid: s.modseq for s in states}
    numbers = uids if command.uid else [view.seq_of(u) or 0 for u in uids]
    if command.returns is None and not session.rev2:  # RFC 9051 has only ESEARCH
        tail = f" (MODSEQ {max(modseqs.values())})" if modseqs else ""
        session.untagged("SEARCH" + "".join(f" {n}" for n in numbers) + tail)
        return None
    returns = set(command.returns or ()) or {"ALL"}
    if "UPDATE" in returns:
        _keep_updating(session, command, key, uids)
    if "SAVE" in returns:
        picks = returns & {"MIN", "MAX"}
        if picks and not returns & {"ALL", "COUNT"} and uids:
            saved = [uids[0]] if "MIN" in picks else []
            saved += [uids[-1]] if "MAX" in picks else []
            session.saved_search = tuple(sorted(set(saved)))
        else:
            session.saved_search = tuple(uids)
        if returns == {"SAVE"}:
            return None  # RFC 5182 §2.4: SAVE alone answers nothing
    parts = [f'(TAG "{command.tag}")'] + (["UID"] if command.uid else [])
    if numbers:
        if "MIN" in returns:
            parts.append(f"MIN {min(numbers)}")
        if "MAX" in returns:
            parts.append(f"MAX {max(numbers)}")
        if "ALL" in returns:
            parts.append(f"ALL {compact_set(numbers)}")
    if "COUNT" in returns:
        parts.append(f"COUNT {len(numbers)}")
    if command.partial is not None:  # RFC 5267 §4.4: positions low..high of the result
        low, high = command.partial
        window = compact_set(numbers[low - 1 : high]) or "NIL"
        parts.append(f"PARTIAL ({low}:{high} {window})")
    # RFC 7162 §3.1.5: the highest MODSEQ of the messages reported (just MIN/MAX if so)
    reported = uids
    if uids and not returns & {"ALL", "COUNT"}:
        reported = [uids[0]] * ("MIN" in returns) + [uids[-1]] * ("MAX" in returns)
    if modseqs and reported:
        parts.append(f"MODSEQ {max(modseqs.get(u, 0) for u in reported)}")
    session.untagged("ESEARCH " + " ".join(parts))
    return None


def _keep_updating(session: Session, command: c.Search, key: k.Key, uids: list[int]) -> None:
    """RFC 5267 §4.2 RETURN (UPDATE): remember the search so later changes are told."""
    if command.partial is not None or "SAVE" in (command.returns or ()):
        raise Refused("UPDATE cannot be combined with PARTIAL or SAVE", bad=True)
    if command.tag in session.contexts:
        raise Refused("A search with this tag is already being updated", bad=True)
    if len(session.contexts) >= MAX_CONTEXTS:
        raise Refused("Too many searches being updated", f'NOUPDATE "{command.tag}"')
    returns = frozenset(command.returns or ()) - {"UPDATE"}
    session.contexts[command.tag] = SearchContext(command.tag, key, command.uid, returns, set(uids))


# RFC 5267 §4.3 CANCELUPDATE
async def cmd_cancelupdate(session: Session, command: c.CancelUpdate) -> str | None:
    unknown = [tag for tag in command.tags if tag not in session.contexts]
    if unknown:
        raise Refused(f"No search with tag {unknown[0]} is being updated", bad=True)
    for tag in command.tags:
        del session.contexts[tag]
    return None


# RFC 5256 §3 SORT
async def cmd_sort(session: Session, command: c.Sort) -> str | None:
    view = session.selected
    key = resolve_key(command.key, view, session.saved_search)
    criteria = [(s.name, s.reverse) for s in command.criteria]
    search = session.services.search
    found = await session.call(search.sort, session.actor, view.name, criteria, key)
    uids = [u for u in found if view.seq_of(u) is not None]
    numbers = uids if command.uid else [view.seq_of(u) or 0 for u in uids]
    if command.returns is None:
        session.untagged("SORT" + "".join(f" {n}" for n in numbers))
        return None
    # RFC 5267 §3.2 ESORT: MIN/MAX are the first/last in sort order, ALL keeps the order
    returns = set(command.returns) or {"ALL"}
    unknown = returns - {"MIN", "MAX", "ALL", "COUNT"}
    if unknown:
        raise Refused(f"Unknown RETURN option {sorted(unknown)[0]}", bad=True)
    parts = [f'(TAG "{command.tag}")'] + (["UID"] if command.uid else [])
    if numbers:
        if "MIN" in returns:
            parts.append(f"MIN {numbers[0]}")
        if "MAX" in returns:
            parts.append(f"MAX {numbers[-1]}")
        if "ALL" in returns:
            parts.append(f"ALL {ordered_set(numbers)}")
    if "COUNT" in returns:
        parts.append(f"COUNT {len(numbers)}")
    session.untagged("ESEARCH " + " ".join(parts))
    return None


# RFC 5256 §4 THREAD=REFERENCES and THREAD=ORDEREDSUBJECT
async def cmd_thread(session: Session, command: c.Thread) -> str | None:
    if command.algorithm not in ("REFERENCES", "ORDEREDSUBJECT"):
        raise Refused(f"Unsupported threading algorithm {command.algorithm}", bad=True)
    view = session.selected
    key = resolve_key(command.key, view, session.saved_search)
    search = session.services.search
    trees = await session.call(
        search.thread_references, session.actor, view.name, key, command.algorithm
    )
    number = (lambda u: u) if command.uid else (lambda u: view.seq_of(u) or 0)
    session.untagged("THREAD " + "".join(_thread(tree, number) for tree in trees))
    return None


def _thread(tree: Any, number: Any) -> str:
    """RFC 5256 §4 thread-list: (uid child…) with siblings as (…)(…)."""
    uid, children = tree
    if uid is None:  # a dummy parent: its children are siblings of one thread
        return "(" + "".join(_thread(child, number) for child in children) + ")"
    if not children:
        return f"({number(uid)})"
    if len(children) == 1:
        inner = _thread(children[0], number)[1:-1]
        return f"({number(uid)} {inner})"
    return f"({number(uid)} " + "".join(_thread(child, number) for child in children) + ")"
