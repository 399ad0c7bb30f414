"""RFC 5256 §4 THREAD=REFERENCES over plain message facts: containers linked by
Message-ID, References and In-Reply-To, dummies pruned, roots gathered by base subject.

Pure: the caller loads `ThreadMessage`s and formats the `ThreadNode` trees. A new
threading algorithm (ORDEREDSUBJECT, REFS) is a function beside `thread_references`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from groupware.mime.subject import base_subject

# (UID, children): UID None is a dummy, a thread root that only groups its children.
ThreadNode: TypeAlias = tuple[int | None, tuple["ThreadNode", ...]]


@dataclass(frozen=True)
class ThreadMessage:
    uid: int
    message_id: str | None
    references: tuple[str, ...]  # the References field's msg-ids, in order
    in_reply_to: str | None
    subject: str  # decoded
    date: datetime  # RFC 5256 §2.2 sent date: Date: field, else the internal date


@dataclass(eq=False)
class _Box:
    """A container of RFC 5256 §4: a message, or a dummy standing for one not here."""

    message: ThreadMessage | None = None
    parent: _Box | None = None
    children: list[_Box] = field(default_factory=list)

    def adopt(self, child: _Box) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def descends_from(self, other: _Box) -> bool:
        box: _Box | None = self
        while box is not None:
            if box is other:
                return True
            box = box.parent
        return False

    def first(self) -> ThreadMessage | None:
        """The message itself, or for a dummy its first child's (children sorted)."""
        if self.message is not None or not self.children:
            return self.message
        return self.children[0].first()


def thread_references(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """The threads of `messages`, each a tree of UIDs, in RFC 5256 order."""
    boxes = _link(sorted(messages, key=lambda m: m.uid))
    roots = _prune([box for box in boxes if box.parent is None], at_root=True)
    for box in roots:  # §4 step 4: a dummy root is dated by its first child
        _sort(box.children, recursive=False)
    _sort(roots, recursive=False)
    roots = _gather(roots)
    _sort(roots, recursive=True)
    return [_node(box) for box in roots]


def _normal(message_id: str) -> str:
    """RFC 5256 §4: msg-ids compare case-sensitively, after normalising quoting."""
    return message_id.strip().strip("<>").replace('"', "")


def _link(messages: Sequence[ThreadMessage]) -> list[_Box]:
    """§4 step 1: every message in a container, linked to its references."""
    table: dict[str, _Box] = {}
    boxes: list[_Box] = []

    def container(message_id: str) -> _Box:
        if message_id not in table:
            table[message_id] = _Box()
            boxes.append(table[message_id])
        return table[message_id]

    for message in messages:
        own = _normal(message.message_id or "")
        if own and (own not in table or table[own].message is None):
            box = container(own)
        else:  # no Message-ID, or a later duplicate: a unique one of its own
            box = _Box()
            boxes.append(box)
        box.message = message
        references = [r for r in map(_normal, message.references) if r]
        if not references and message.in_reply_to and _normal(message.in_reply_to):
            references = [_normal(message.in_reply_to)]
        parent: _Box | None = None
        for reference in references:  # step 1.A: link the chain, keep existing parents
            current = container(reference)
            if parent is not None and current.parent is None and not parent.descends_from(current):
                parent.adopt(current)
            parent = current
        # Step 1.B: the last reference is the parent, whatever the message had before.
        if box.parent is not None:
            box.parent.children.remove(box)
            box.parent = None
        if parent is not None and not parent.descends_from(box):
            parent.adopt(box)
    return boxes


def _prune(boxes: list[_Box], at_root: bool) -> list[_Box]:
    """§4 step 3: drop childless dummies; splice a dummy's children into its place,
    except a dummy root with several children, which stays to group them."""
    kept: list[_Box] = []
    for box in boxes:
        box.children = _prune(box.children, at_root=False)
        if box.message is None:
            if not box.children:
                continue
            if not at_root or len(box.children) == 1:
                for child in box.children:
                    child.parent = box.parent
                kept.extend(box.children)
                continue
        kept.append(box)
    return kept


def _sort(boxes: list[_Box], recursive: bool) -> None:
    """Siblings by sent date, then UID (RFC 5256 §2.2); children first when recursive."""
    if recursive:
        for box in boxes:
            _sort(box.children, recursive=True)

    def when(box: _Box) -> tuple[datetime, int]:
        first = box.first()
        assert first is not None  # pruned: every dummy left has children
        return first.date, first.uid

    boxes.sort(key=when)


def _gather(roots: list[_Box]) -> list[_Box]:
    """§4 step 5: merge root threads that share a base subject."""

    def subject(box: _Box) -> tuple[str, bool]:
        first = box.first()
        return base_subject(first.subject) if first is not None else ("", False)

    table: dict[str, _Box] = {}
    for box in roots:  # step 5.B
        text, _ = subject(box)
        if not text:
            continue
        held = table.get(text)
        # A dummy wins the place, then a message that is no reply or forward.
        if held is None or (
            held.message is not None
            and (box.message is None or (subject(held)[1] and not subject(box)[1]))
        ):
            table[text] = box
    result = list(roots)
    for box in roots:  # step 5.C
        text, replied = subject(box)
        held = table.get(text) if text else None
        if held is None or held is box:
            continue
        result.remove(box)
        if held.message is None and box.message is None:
            for child in list(box.children):
                held.adopt(child)
        elif held.message is None or (replied and not subject(held)[1]):
            held.adopt(box)
        else:
            dummy = _Box()
            result[result.index(held)] = dummy
            dummy.adopt(held)
            dummy.adopt(box)
            table[text] = dummy
    return result


def _node(box: _Box) -> ThreadNode:
    uid = box.message.uid if box.message is not None else None
    return uid, tuple(_node(child) for child in box.children)


def thread_ordered_subject(messages: Sequence[ThreadMessage]) -> list[ThreadNode]:
    """RFC 5256 §4 ORDEREDSUBJECT: messages grouped by base subject, each group ordered
    by sent date with the first as parent of all the others; groups by their first."""
    groups: dict[str, list[ThreadMessage]] = {}
    for message in sorted(messages, key=lambda m: (m.date, m.uid)):
        groups.setdefault(base_subject(message.subject)[0], []).append(message)
    threads = sorted(groups.values(), key=lambda group: (group[0].date, group[0].uid))
    return [(group[0].uid, tuple((m.uid, ()) for m in group[1:])) for group in threads]


def conversation_key(
    message_id: str | None, references: Sequence[str], in_reply_to: str | None
) -> str | None:
    """What a message's conversation is known by: its root, the first of its References
    (RFC 5322 §3.6.4 keeps that one when a long list is cut), else the message it
    answers, else itself; hashed to a fixed length. None without any Message-ID."""
    root = references[0] if references else in_reply_to or message_id
    if not root:
        return None
    return hashlib.sha256(root.strip().encode("utf-8", "surrogateescape")).hexdigest()[:32]
