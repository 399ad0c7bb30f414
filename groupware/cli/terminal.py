"""The command line's terminal side: reading passwords, sizes, printing tables, and the
command's own refusals. Handlers in directory.py and access.py share these.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from groupware.errors import InvalidInput
from groupware.services.directory.passwords import generate_password

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class CommandFailed(Exception):
    """A refusal decided by the command itself (not by a service); the message is shown."""


def read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated?) from --password, one line of stdin, or a fresh random one."""
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput("--password-stdin: no password on standard input")
        return line, False
    if args.password is not None:
        return args.password, False
    return generate_password(), True


def parse_size(text: str) -> int:
    """Bytes, or a number with K, M or G (powers of 1024); 0 means unlimited."""
    number = text.strip().upper().removesuffix("B")
    unit = number[-1:] if number[-1:] in {"K", "M", "G"} else ""
    digits = number[: len(number) - len(unit)].strip()
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (bytes, or with K, M or G)")
    return int(digits) * _UNITS[unit]


def format_size(size: int) -> str:
    if size == 0:
        return "unlimited"
    for unit in ("G", "M", "K"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Aligned columns under a header; nothing at all when there are no rows."""
    if not rows:
        return
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
