"""A POP3 session's maildrop: the INBOX as it was at login, numbered 1..n (RFC 1939 §5),
with the numbers DELE marked. A new per-message view (a size, an id) is a method here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from groupware.protocols.pop3.replies import Refused
from groupware.services.mail.messages import MessageState

INBOX = "INBOX"  # RFC 1939 §1: the maildrop is the user's INBOX


@dataclass
class Maildrop:
    uidvalidity: int
    messages: tuple[MessageState, ...]  # in UID order: message n is messages[n - 1]
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE

    def message(self, number: int) -> MessageState:
        """RFC 1939 §5: a number that is not in the maildrop, or is marked, is refused."""
        if not 1 <= number <= len(self.messages):
            raise Refused(f"No such message {number}")
        if number in self.deleted:
            raise Refused(f"Message {number} is already deleted")
        return self.messages[number - 1]

    def listing(self) -> Iterator[tuple[int, MessageState]]:
        """The messages not marked as deleted, with their numbers."""
        for number, state in enumerate(self.messages, start=1):
            if number not in self.deleted:
                yield number, state

    def stat(self) -> tuple[int, int]:
        """(count, octets) of the messages not marked. Stored messages have CRLF line
        ends, so the stored size is the size RFC 1939 asks for."""
        count = size = 0
        for _, state in self.listing():
            count += 1
            size += state.size
        return count, size

    def unique_id(self, state: MessageState) -> str:
        """RFC 1939 §7 UIDL: the same for a message in every session, never reused; a new
        UIDVALIDITY (INBOX recreated) makes every id new, as it must."""
        return f"{self.uidvalidity}.{state.uid}"

    def delete(self, number: int) -> None:
        self.message(number)  # refuses unknown and already marked numbers
        self.deleted.add(number)

    def marked_uids(self) -> list[int]:
        return sorted(self.messages[number - 1].uid for number in self.deleted)
