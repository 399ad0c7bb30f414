"""Reading what `ParsedMessage` keeps of a header: field values by name from its decoded
"Name: value" lines, and the addr-specs of its address lists. Add readers of parsed
fields here, so that delivery rules and auto-replies never re-read a message's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable

from groupware.mime.structure import Address


def header_values(headers: str, name: str) -> list[str]:
    """Every value of the field `name` (any case) in `ParsedMessage.headers`, in order."""
    wanted = name.lower()
    values = []
    for line in headers.split("\n"):
        field, colon, value = line.partition(":")
        if colon and field.strip().lower() == wanted:
            values.append(value.strip())
    return values


def addr_specs(addresses: Iterable[Address]) -> list[str]:
    """ "mailbox@host" of each real address (group markers skipped), lower-cased."""
    return [
        f"{a.mailbox}@{a.host}".lower()
        for a in addresses
        if a.mailbox is not None and a.host is not None and (a.mailbox or a.host)
    ]
