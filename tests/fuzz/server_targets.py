"""Fuzz targets that need a running server: SMTP sessions over a socket (aiosmtpd with our
handler), and IMAP SEARCH, SORT and THREAD carried through to services.search on a real
database. Each harness starts what it needs once; the target then takes any bytes.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from groupware import runtime as runtime_module
from groupware.config import Config
from groupware.errors import GroupwareError
from groupware.protocols.imap import commands as c
from groupware.protocols.imap import grammar as imap
from groupware.protocols.imap.handlers.search import resolve_key
from groupware.protocols.imap.selected import SelectedView
from groupware.services import Services
from groupware.services.core.access import SYSTEM, Principal
from tests.conftest import ADMIN_PASSWORD, make_config, serving, with_listeners
from tests.fuzz.protocol_targets import IMAP_TOKENS, imap_commands
from tests.fuzz.target import TESTS, Finding, Run, Target

PASSWORD = "Alice-pass-1234"
SOCKET_TIMEOUT = 30.0  # seconds without a reply or the close: the server hung
# RFC 5321 §4.2: Reply-code [ SP / "-" textstring ], textstring = 1*(HT / %d32-126);
# §4.5.3.1.5: a reply line is at most 512 octets with its CRLF.
_REPLY = re.compile(rb"[2-5][0-9]{2}(?:[ -][\t\x20-\x7e]*)?")
MAX_REPLY_LINE = 510
# aiosmtpd's answer when a hook raised: an exception got out of our handler.
_HOOK_FAILED = b"500 Error: ("
_STARTTLS = re.compile(rb"(?im)^starttls[^\n]*\n")

SMTP_TOKENS = (
    *(b"EHLO client.example\r\n", b"HELO x\r\n", b"MAIL FROM:<", b"RCPT TO:<", b">\r\n"),
    *(b"alice@example.test", b"someone@elsewhere.example", b"<>", b"DATA\r\n", b"\r\n.\r\n"),
    *(b"RSET\r\n", b"NOOP\r\n", b"QUIT\r\n", b"VRFY x\r\n", b"STARTTLS\r\n", b"AUTH PLAIN"),
    *(b"AUTH LOGIN\r\n", b" AGFsaWNlQGV4YW1wbGUudGVzdABBbGljZS1wYXNzLTEyMzQ=", b"*\r\n"),
    *(b" SIZE=100", b" BODY=8BITMIME", b" SMTPUTF8", b" RET=HDRS", b" ENVID=x+2B"),
    *(b" NOTIFY=SUCCESS,FAILURE", b" ORCPT=rfc822;a@b", b"Subject: x\r\n", b"\r\n", b"\n"),
    *(b"\r", b"\x00", b"\xc3\xa9", b"\xff", b" ", b":", b"x" * 600),
)
SMTP_SEEDS = (
    b"EHLO client.example\r\nMAIL FROM:<someone@elsewhere.example>\r\n"
    b"RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n",
    b"EHLO client.example\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABBbGljZS1wYXNzLTEyMzQ=\r\n"
    b"MAIL FROM:<alice@example.test> RET=HDRS ENVID=x\r\n"
    b"RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\n\r\nx\r\n.\r\nQUIT\r\n",
    b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.test>\r\nRSET\r\nVRFY a\r\nQUIT\r\n",
)
SEARCH_SEEDS = (
    b"a SEARCH ALL\r\nb UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR FROM alice "
    b'SUBJECT "h\xc3\xa9" NOT (SEEN 1:3,5 SINCE 1-Jan-2020)\r\n',
    b"c SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 HEADER X-Mailer thunder LARGER 10\r\n",
    b"d UID THREAD REFERENCES US-ASCII TEXT hello UID 1:* KEYWORD $Forwarded\r\n",
    b"e SEARCH MODSEQ 1 BODY {5}\r\nhello NEW OLD RECENT YOUNGER 100 SENTON 1-Feb-2024\r\n",
)


def _config(workdir: Path, database_url: str | None, **listeners: str) -> Config:
    url = database_url or f"sqlite:///{workdir / 'fuzz.db'}"
    config = make_config(workdir, url)
    runtime_module.initialise(config, admin_password=ADMIN_PASSWORD)
    return with_listeners(config, **listeners)


@contextmanager
def smtp_server(workdir: Path, database_url: str | None) -> Iterator[Run]:
    """MX and submission on loopback with one user; each input is one session on each."""
    config = _config(workdir, database_url, smtp="on", submission="on")
    with serving(config) as served:
        served.services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        ports = (served.ports["smtp"], served.ports["submission"])

        def run(data: bytes) -> None:
            for port in ports:
                check_replies(smtp_session(port, data))

        yield run


def smtp_session(port: int, data: bytes) -> bytes:
    """Send `data`, end our side, and read what the server answers until it closes.
    Nothing is sent after a STARTTLS command: what follows it would be TLS (after a
    failed handshake the server reads no more and closes in asyncio's 60 s)."""
    starttls = _STARTTLS.search(data)
    data = data[: starttls.end()] if starttls else data
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as client:
        try:
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
            while chunk := client.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server hung up first (too many bad commands, a TLS handshake...)
        except TimeoutError:
            raise Finding(f"no reply nor close in {SOCKET_TIMEOUT} s") from None
    return bytes(received)


def check_replies(received: bytes) -> None:
    """Every line the server wrote is a well-formed reply, none of them a hook's failure;
    the first is the greeting (or 421 past the connection limits)."""
    lines = received.split(b"\r\n")
    if not lines[0].startswith((b"220 ", b"421 ")):
        raise Finding(f"no greeting: {received[:80]!r}")
    for line in lines[:-1]:
        if not _REPLY.fullmatch(line) or len(line) > MAX_REPLY_LINE:
            raise Finding(f"malformed reply line {line[:120]!r}")
        if line.startswith(_HOOK_FAILED):
            raise Finding(f"a hook raised: {line[:200]!r}")
    if lines[-1]:
        raise Finding(f"reply cut short: {lines[-1][:80]!r}")


@contextmanager
def search_service(workdir: Path, database_url: str | None) -> Iterator[Run]:
    """services.search over a mailbox of the MIME corpus; each input is IMAP commands,
    of which SEARCH, SORT and THREAD run as the IMAP handlers run them."""
    config = _config(workdir, database_url)
    built = runtime_module.build(config)
    try:
        services = built.services
        info = services.directory.add_user(SYSTEM, "alice@example.test", PASSWORD)
        alice = services.auth.principal(info.id)
        assert alice is not None
        uids = _fill(services, alice, workdir)
        view = SelectedView(0, "INBOX", False, uids, recent=uids[::3])

        def run(data: bytes) -> None:
            for parts in imap_commands(data):
                try:
                    command = imap.parse_command(parts)
                except imap.ParseError:
                    continue
                _search(services, alice, view, command)

        yield run
    finally:
        built.close()


def _fill(services: Services, alice: Principal, workdir: Path) -> list[int]:
    uids = []
    for number, path in enumerate(sorted((TESTS / "data" / "mime").glob("*.eml"))[:12]):
        copy = workdir / f"m{number}.eml"
        copy.write_bytes(path.read_bytes())
        flags = ("\\Seen", "$Forwarded")[: number % 3]
        uids.append(services.messages.append(alice, "INBOX", copy, flags).uid)
    return uids


def _search(services: Services, alice: Principal, view: SelectedView, command: object) -> None:
    search = services.search
    if isinstance(command, (c.Search, c.Sort, c.Thread)):
        key = resolve_key(command.key, view, tuple(view.uids[:2]))
        try:
            if isinstance(command, c.Search):
                search.search(alice, "INBOX", key)
            elif isinstance(command, c.Sort):
                criteria = [(k.name, k.reverse) for k in command.criteria]
                search.sort(alice, "INBOX", criteria, key)
            else:
                search.thread_references(alice, "INBOX", key, command.algorithm)
        except GroupwareError:
            pass  # a clear NO at the IMAP door (replies.py)


TARGETS = (
    Target(
        "smtp_session",
        tokens=SMTP_TOKENS,
        seeds=lambda: list(SMTP_SEEDS),
        max_len=8192,
        harness=smtp_server,
    ),
    Target(
        "imap_search",
        tokens=IMAP_TOKENS,
        seeds=lambda: list(SEARCH_SEEDS),
        max_len=8192,
        harness=search_service,
    ),
)
