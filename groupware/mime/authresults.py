"""What our own Authentication-Results field (RFC 8601) says about a message, for the
reader's summary: the SPF, DKIM and DMARC verdicts the SMTP listener recorded.

Only a field whose authserv-id is our host name counts: the listener removes such
fields from what arrives (protocols/smtp/accept.py), so nobody else can write one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

METHODS = ("spf", "dkim", "dmarc")
FAILED = frozenset({"fail", "softfail", "permerror"})
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_RESULT = re.compile(r"(?:^|;)\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdicts:
    """Each method's result ("pass", "fail", "none", …); a method absent is missing.
    With several DKIM signatures, one that passed is the verdict."""

    results: tuple[tuple[str, str], ...]

    @property
    def failed(self) -> tuple[str, ...]:
        """The methods that failed, for the reader's warning."""
        return tuple(method for method, result in self.results if result in FAILED)


def our_verdicts(head: str, hostname: str) -> Verdicts | None:
    """The verdicts of the topmost Authentication-Results field that `hostname` wrote,
    in a message's header section `head`; None when there is none."""
    for line in _UNFOLD.sub(" ", head).splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() != "authentication-results":
            continue
        authserv, _, rest = value.partition(";")
        if authserv.split() and authserv.split()[0].lower() == hostname.lower():
            return _verdicts(rest)
    return None


def _verdicts(text: str) -> Verdicts:
    found: dict[str, str] = {}
    for method, result in _RESULT.findall(_without_comments(text)):
        method, result = method.lower(), result.lower()
        if method == "dkim" and found.get("dkim") == "pass":
            continue
        found[method] = result
    return Verdicts(tuple((m, found[m]) for m in METHODS if m in found))


def _without_comments(text: str) -> str:
    """The field without its (comments), which may hold anything (RFC 5322 §3.2.2)."""
    depth, kept = 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept)
