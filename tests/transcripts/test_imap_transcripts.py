"""IMAP transcript tests: each tests/transcripts/imap/*.txt is replayed over real sockets
against a fresh server (SQLite) where alice@example.test exists. Add a file to add a test.

    # text       a comment; a first line "# xfail: reason" marks a known bug (the test
                 xfails while the transcript fails, and fails once it passes)
    C: text      sent on the default connection, then CRLF ("C:" alone: a bare CRLF)
    S: text      the next line the default connection must receive (without its CRLF)
    S~: text     consecutive S~: lines of one connection may arrive in any order
    S: {closed}  the server closes the connection here
    C1:, S1:     the same for connection 1 (C2:/S2: for connection 2, and so on)

A connection opens when first used; its greeting is checked ("* OK"), not written. C:
lines in a row go out in one write (pipelined, as one packet); an S: line waits (10 s at
most) for its connection's next line. A line left over at the end is a failure.

Placeholders. In S: lines {*} matches any text; {name} (lower case) captures what it
matches the first time and must match the same text ever after: [UIDVALIDITY {uidv}].
In C: lines {name} is replaced by its value and {0xNN} sends the octet NN. Built in:
{password} (alice's) and {sp} (a space, for a line that ends in one, as "+ " does).

Literals. A C: line ending in {n} or {n+} announces n octets: the text of the next C:
lines of that connection, each counted with its CRLF. A literal ends at the end of a
line's text (that line's CRLF ends the command), after a line's CRLF (the next C: line
goes on with the command; "C:" alone when nothing follows), or before a space or ")"
within a line (the rest of the line goes on with the command); any other end is a
miscount, reported before sending. A synchronising literal waits for the "+": write
"S: + Ready for literal data" before its content. Server literals are plain S: lines.
"""

from __future__ import annotations

import re
import select
import shutil
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware import runtime as runtime_module
from groupware.services.core.access import SYSTEM
from tests.conftest import ADMIN_PASSWORD, Served, make_config, serving, with_listeners
from tests.integration.test_imap import PASSWORD

FILES = sorted((Path(__file__).parent / "imap").glob("*.txt"))
ITEM = re.compile(r"(?P<kind>[CS])(?P<conn>\d*)(?P<any>~?):(?: ?)(?P<text>.*)")
PLACEHOLDER = re.compile(r"\{(\*|[a-z_][a-z0-9_]*|0x[0-9a-fA-F]{2})\}")
LITERAL = re.compile(rb"\{(\d+)\+?\}$")
BUILT_IN = {"password": PASSWORD, "sp": " ", "closed": "{closed}"}  # what line() says at EOF


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with alice's account, made once and copied for each transcript."""
    path = tmp_path_factory.mktemp("template")
    config = make_config(path, f"sqlite:///{path / 'groupware.db'}")
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    built = runtime_module.build(config)
    try:
        built.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
    finally:
        built.close()
    return path


@pytest.fixture
def server(template: Path, tmp_path: Path) -> Iterator[Served]:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'groupware.db'}")
    with serving(with_listeners(config, imap="on")) as served:
        yield served


class Failed(Exception):
    """A transcript that did not replay: the message says where and why."""


def parse(path: Path) -> list[tuple[int, str, str, list[str]]]:
    """(line number, "C" or "S", connection, texts): one text, or an S~ group's texts."""
    items: list[tuple[int, str, str, list[str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        found = ITEM.fullmatch(line)
        if found is None or found["kind"] + found["any"] == "C~":
            raise Failed(f"{path.name}:{number}: not a C:, S: or # line: {line!r}")
        kind, conn, unordered, text = found.group("kind", "conn", "any", "text")
        if unordered and items and items[-1][1:3] == ("S~", conn):
            items[-1][3].append(text)
        else:
            items.append((number, kind + unordered, conn, [text]))
    return items


class Connection:
    """One client socket: lines in (the last few kept for failure messages), bytes out."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.outgoing = b""
        self.literal = 0  # octets of an announced literal still to come
        self.received: deque[str] = deque(maxlen=8)
        greeting = self.line()
        if not greeting.startswith("* OK"):
            raise Failed(f"unexpected greeting {greeting!r}")

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise Failed("timed out waiting for a line") from None
            self.buffer += chunk or b"{closed}\r\n"  # the server hung up: S: {closed}
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        self.received.append(line.decode("utf-8", "surrogateescape"))
        return self.received[-1]

    def leftover(self) -> bytes:
        while select.select([self.sock], [], [], 0.05)[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        return self.buffer

    def send(self, data: bytes) -> None:
        """Queue one C: line, checking where announced literals end (module docstring)."""
        rest = data
        if self.literal > len(data) + 2:
            self.literal -= len(data) + 2
            rest = b""
        elif self.literal:
            end, self.literal = self.literal, 0
            if end == len(data) + 1 or (end < len(data) and data[end : end + 1] not in b" )"):
                raise Failed(f"a literal ends at column {end} of this line: count again")
            rest = data[end:]
        found = LITERAL.search(rest)
        if found:
            self.literal = int(found.group(1))
        self.outgoing += data + b"\r\n"

    def flush(self) -> None:
        if self.outgoing:
            self.sock.sendall(self.outgoing)
            self.outgoing = b""


class Transcript:
    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.values: dict[str, str] = dict(BUILT_IN)
        self.connections: dict[str, Connection] = {}

    def fill(self, text: str) -> bytes:
        """A C: line's octets, placeholders replaced."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("0x"):  # 8-bit octets as surrogateescape spells them
                octet = int(name, 16)
                return chr(octet if octet < 0x80 else 0xDC00 + octet)
            if name not in self.values:
                raise Failed(f"{{{name}}} has no value yet")
            return self.values[name]

        return PLACEHOLDER.sub(value, text).encode("utf-8", "surrogateescape")

    def pattern(self, text: str) -> re.Pattern[str]:
        """An S: line as a regular expression; named groups capture new placeholders."""
        parts, seen, pos = [], set(), 0
        for match in PLACEHOLDER.finditer(text):
            parts.append(re.escape(text[pos : match.start()]))
            name, pos = match.group(1), match.end()
            if name == "*":
                parts.append(".*")
            elif name in self.values:
                parts.append(re.escape(self.values[name]))
            elif name in seen:
                parts.append(f"(?P={name})")
            else:
                seen.add(name)
                parts.append(f"(?P<{name}>.+?)")
        parts.append(re.escape(text[pos:]))
        return re.compile("".join(parts), re.DOTALL)

    def expect(self, conn: Connection, texts: list[str]) -> None:
        """The next len(texts) lines: in this order, or any order for an S~ group."""
        for each in self.connections.values():
            each.flush()
        patterns = [self.pattern(text) for text in texts]
        for _ in texts:
            got = conn.line()
            match = next((m for p in patterns if (m := p.fullmatch(got))), None)
            if match is None:
                wanted = "\n            ".join(texts)
                raise Failed(f"expected: {wanted}\n  got:      {got}")
            patterns.remove(match.re)
            self.values.update(match.groupdict())

    def run(self) -> None:
        for number, kind, name, texts in parse(self.path):
            conn = self.connections.get(name)
            try:
                if conn is None:
                    conn = self.connections[name] = Connection(self.port)
                if kind == "C":
                    conn.send(self.fill(texts[0]))
                else:
                    self.expect(conn, texts)
            except (Failed, OSError) as error:
                recent = "\n    ".join(conn.received if conn else ()) or "(nothing)"
                raise Failed(
                    f"{self.path.name}:{number} (connection {name or 'C:/S:'}) {error}\n"
                    f"  last lines received:\n    {recent}"
                ) from None
        for name, conn in self.connections.items():
            conn.flush()
            if extra := conn.leftover():
                raise Failed(f"{self.path.name}: not expected on {name or 'C:/S:'}: {extra!r}")

    def close(self) -> None:
        for conn in self.connections.values():
            conn.sock.close()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_transcript(server: Served, path: Path) -> None:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    reason = first.removeprefix("# xfail:").strip() if first.startswith("# xfail:") else None
    transcript = Transcript(path, server.ports["imap"])
    failure = None
    try:
        transcript.run()
    except Failed as error:
        failure = str(error)
    finally:
        transcript.close()
    if failure is not None:
        if reason is not None:
            where = failure.partition("\n  last lines received")[0]
            pytest.xfail(f"{reason}\n{where}")
        pytest.fail(failure, pytrace=False)
    if reason is not None:
        pytest.fail(f"{path.name} passes now: remove its '# xfail: {reason}' line", pytrace=False)
