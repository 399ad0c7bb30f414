"""The author fields of a message (RFC 5322 §3.6.2 From: and Sender:, and §3.6.6
Resent-From: and Resent-Sender:), read strictly for policy: whom a submitted message
claims to come from (or to be resent by), and which domains may sign it.

`address.py` reads addresses leniently, for display. A policy check must instead see
every address some reader might take for the author: each field is read both by that
parser and by Python's `email.utils.getaddresses` (which our DMARC check and many filters
use), and the union is returned, so an address hidden from one reading by odd syntax is
still seen. Anything that cannot be read raises AuthorError. New rules go in
`read_authors` (the originator) or `read_resenders` (the latest resend).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from groupware.mime.address import parse_addresses
from groupware.mime.headers import Field, read_header

_FIELD_START = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")  # RFC 5322 §3.6.8 field-name
MAX_AUTHORS = 10  # addresses in one field; more is no real message (and costs lookups)
# RFC 5322 §3.6.6: the fields of a Resent- block, each at most once per block.
RESENT_FIELDS = frozenset(
    {
        "resent-date",
        "resent-from",
        "resent-sender",
        "resent-to",
        "resent-cc",
        "resent-bcc",
        "resent-message-id",
    }
)


class AuthorError(ValueError):
    """The author fields cannot be checked; the text says why (safe to show a client)."""


@dataclass(frozen=True)
class Authors:
    """The addr-specs of From: (never empty) and of Sender: (empty when absent), as
    written: the caller normalises them."""

    from_: tuple[str, ...]
    sender: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.from_ + self.sender


def read_authors(message: bytes) -> Authors:
    """From: and Sender: of `message` (its header section, up to the first empty line).

    RFC 5322 §3.6: exactly one From: and at most one Sender:. A group (RFC 6854) counts by
    its members; a From: with no address at all (an empty group, a bare name) is refused,
    as nothing would be left to check or to align DMARC with. Several From: fields are
    refused rather than checked one by one: receivers disagree on which one they show,
    the trick RFC 6376 §8.15 warns of. So is a header line that is neither a field
    (a name of printable ASCII, then the colon) nor a continuation: readers disagree on
    where such a header ends ("Fröm: x" ends it for Python's parser, and the From: below
    goes unseen).
    """
    _check_lines(message)
    header, _ = read_header(message, 0, len(message))
    froms = [f.value for f in header.fields if f.name.lower() == "from"]
    senders = [f.value for f in header.fields if f.name.lower() == "sender"]
    if not froms:
        raise AuthorError("no From: header field")
    if len(froms) > 1:
        raise AuthorError("more than one From: header field")
    if len(senders) > 1:
        raise AuthorError("more than one Sender: header field")
    from_ = _addresses("From", froms[0])
    sender = _addresses("Sender", senders[0]) if senders else ()
    return Authors(from_, sender)


def _check_lines(message: bytes) -> None:
    """AuthorError unless each line of the header section is a field or a continuation."""
    for number, line in enumerate(message.split(b"\n")):
        line = line.removesuffix(b"\r")
        if not line:
            return  # the end of the header section
        if line[:1] in (b" ", b"\t") and number > 0:
            continue
        if not _FIELD_START.match(line):
            raise AuthorError(f"header line {number + 1} is no header field")


@dataclass(frozen=True)
class Resenders:
    """The addr-specs of Resent-From: and Resent-Sender: in the topmost Resent- block, as
    written (both empty when the message was never resent)."""

    from_: tuple[str, ...] = ()
    sender: tuple[str, ...] = ()


def read_resenders(message: bytes) -> Resenders:
    """Resent-From: and Resent-Sender: of the latest resend of `message`.

    RFC 5322 §3.6.6: whoever resends a message adds a block of Resent- fields on top,
    each field at most once, Resent-From: always; so the topmost block is the latest
    resender's, and older ones (below it) are other people's and stay as they were. The
    block is the first run of Resent- fields, ended by any other field or by a name it
    already holds. A topmost block without Resent-From: is refused: readers would take
    an older block's for the resender's.
    """
    header, _ = read_header(message, 0, len(message))
    block = _topmost_resent_block(header.fields)
    if not block:
        return Resenders()
    if "resent-from" not in block:
        raise AuthorError("the topmost Resent- block has no Resent-From:")
    sender = block.get("resent-sender")
    return Resenders(
        _addresses("Resent-From", block["resent-from"]),
        _addresses("Resent-Sender", sender) if sender is not None else (),
    )


def _topmost_resent_block(fields: list[Field]) -> dict[str, str]:
    block: dict[str, str] = {}
    for field in fields:
        name = field.name.lower()
        if name not in RESENT_FIELDS:
            if block:
                break
            continue
        if name in block:
            break  # the next, older block
        block[name] = field.value
    return block


def _addresses(name: str, value: str) -> tuple[str, ...]:
    """Every addr-spec either reading finds in one field, in order, each once."""
    found: list[str] = []
    for address in parse_addresses(value):
        if address.host is None:
            continue  # a group's start or end marker: its members come on their own
        if not address.mailbox or not address.host:
            raise AuthorError(f"unreadable address in {name}:")
        found.append(f"{address.mailbox}@{address.host}")
    # getaddresses yields ("", "") for stray commas and the like: nothing to check there.
    found += [spec for _, spec in getaddresses([value]) if spec]
    unique = tuple(dict.fromkeys(found))
    if not unique:
        raise AuthorError(f"no address in {name}:")
    if len(unique) > MAX_AUTHORS:
        raise AuthorError(f"more than {MAX_AUTHORS} addresses in {name}:")
    return unique
