"""The webmail's search box: words and operators turned into search keys.

    from:ann to:bob subject:"budget 2027" body:invoice is:unread is:flagged is:read
    has:attachment before:2026-12-01 after:2026-11-01 in:Archive  plain words (anywhere)

Every term must match (AND). Plain words are words: each must start a word of the
message ("inv" finds "invoice", not "convince"), as search engines read them, and the
full-text index answers. A value with spaces is quoted. `in:` names one folder
(otherwise every folder is searched); before: and after: days are not included; a term
that looks like an operator but is not one (a URL, a time) is looked for as it is.
Pure: text in, keys out; InvalidInput for what it cannot read, with the reason.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import date, timedelta

from groupware.errors import InvalidInput
from groupware.services.mail import searchkeys as k

MAX_QUERY = 500  # characters
MAX_TERMS = 20
_HEADERS = {"from": "from", "to": "to", "cc": "cc", "subject": "subject"}
_STATES = {
    "unread": k.Flag("\\Seen", present=False),
    "read": k.Flag("\\Seen"),
    "flagged": k.Flag("\\Flagged"),
}


@dataclass(frozen=True)
class Query:
    key: k.Key
    folder: str | None  # `in:`; None: every folder


def parse_query(text: str) -> Query:
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"a search takes at most {MAX_QUERY} characters")
    if "\x00" in text:
        raise InvalidInput("a search cannot hold a NUL character")
    try:
        terms = shlex.split(text)
    except ValueError:
        raise InvalidInput("a quote is not closed") from None
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"a search takes at most {MAX_TERMS} terms")
    keys: list[k.Key] = []
    folder = None
    for term in terms:
        name, colon, value = term.partition(":")
        name = name.lower()
        if not colon or not value or not name.isalpha():
            keys.append(_words(term))
        elif name in _HEADERS:
            keys.append(k.Header(_HEADERS[name], value))
        elif name == "body":
            keys.append(k.Text(value, "body"))
        elif name == "is":
            if value.lower() not in _STATES:
                raise InvalidInput(f"is: takes {', '.join(_STATES)}, not {value!r}")
            keys.append(_STATES[value.lower()])
        elif name == "has":
            if value.lower() not in ("attachment", "attachments"):
                raise InvalidInput(f"has: takes attachment, not {value!r}")
            keys.append(k.HasAttachments())
        elif name in ("before", "after"):
            day = _day(value)
            if name == "before":
                keys.append(k.Date("sent", "before", day))
            elif day < date.max:
                keys.append(k.Date("sent", "since", day + timedelta(days=1)))
            else:
                raise InvalidInput("nothing was written after the last day there is")
        elif name == "in":
            folder = value
        else:  # not one of ours (a URL, a time): looked for as it is
            keys.append(_words(term))
    if not keys and folder is None:
        raise InvalidInput("type something to search for")
    key: k.Key = keys[0] if len(keys) == 1 else (k.And(tuple(keys)) if keys else k.All())
    return Query(key, folder)


def _words(term: str) -> k.Key:
    """A plain term: its words, each starting a word of the message (found by the full
    -text index); a term of no letters or digits ("+", "::") as a substring."""
    return k.Words(term) if any(ch.isalnum() for ch in term) else k.Text(term)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"a date is written 2026-12-31, not {value!r}") from None
