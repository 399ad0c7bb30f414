"""The base subject of RFC 5256 §2.1, which SORT SUBJECT orders by and THREAD groups by.
A new subject artifact is a pattern below, applied in `base_subject`'s loop.

Input is the decoded subject (RFC 2047 words already decoded, as the store keeps it).
"""

from __future__ import annotations

import re

_WSP_RUN = re.compile(r"[ \t\r\n]+")
# subj-blob = "[" *BLOBCHAR "]" *WSP ; subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_BLOB = r"\[[^\[\]]*\] *"
_BLOB_RE = re.compile(_BLOB)
# subj-leader = (*subj-blob subj-refwd) / WSP
_REFWD_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?) *(?:{_BLOB})?:", re.IGNORECASE)
_FWD_TRAILER = "(fwd)"
_FWD_HEADER = "[fwd:"


def base_subject(subject: str) -> tuple[str, bool]:
    """(base subject, case-folded; whether the subject marked a reply or forward: it held
    a subj-refwd, a "(fwd)" trailer or a "[fwd: ...]" wrapper, RFC 5256 §4 step 5)."""
    text = _WSP_RUN.sub(" ", subject)  # step 1: tabs, line ends, runs of spaces: one space
    replied = False
    while True:
        text, trailer = _strip_trailers(text)  # step 2
        text, leader = _strip_leaders(text)  # steps 3 to 5
        replied = replied or trailer or leader
        lowered = text.lower()
        if lowered.startswith(_FWD_HEADER) and text.endswith("]"):  # step 6
            text = text[len(_FWD_HEADER) : -1]
            replied = True
            continue
        return text.casefold(), replied


def _strip_trailers(text: str) -> tuple[str, bool]:
    """Step 2: remove trailing subj-trailer = "(fwd)" / WSP, repeatedly."""
    found = False
    while True:
        if text.endswith(" "):
            text = text[:-1]
        elif text.lower().endswith(_FWD_TRAILER):
            text = text[: -len(_FWD_TRAILER)]
            found = True
        else:
            return text, found


def _strip_leaders(text: str) -> tuple[str, bool]:
    """Steps 3-5: remove subj-leader prefixes, and a leading subj-blob when something
    non-blank stays after it, until neither applies."""
    found = False
    while True:
        if text.startswith(" "):
            text = text[1:]
            continue
        leader = _REFWD_LEADER.match(text)
        if leader:
            text = text[leader.end() :]
            found = True
            continue
        blob = _BLOB_RE.match(text)
        if blob and text[blob.end() :].strip(" "):
            text = text[blob.end() :]
            continue
        return text, found
