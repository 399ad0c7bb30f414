"""Commands valid in every state: CAPABILITY, NOOP, LOGOUT, ID, ENABLE, COMPRESS, and the
capability list itself (what a session may see depends on its state and TLS)."""

from __future__ import annotations

from groupware.protocols.imap import commands as c
from groupware.protocols.imap.replies import Refused
from groupware.protocols.imap.session import Session, State

# Advertised once authenticated; each has tests (an extension offered untested is a
# trap for clients that take us at our word).
AUTHENTICATED_CAPABILITIES = (
    "IMAP4rev1",
    "IMAP4rev2",
    "LITERAL+",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CHILDREN",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "CREATE-SPECIAL-USE",
    "LIST-STATUS",
    "STATUS=SIZE",
    "ESEARCH",
    "SEARCHRES",
    "CONTEXT=SEARCH",
    "CONDSTORE",
    "QRESYNC",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "UTF8=ACCEPT",
    "MULTIAPPEND",
    "CATENATE",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=REFERENCES",
    "THREAD=ORDEREDSUBJECT",
    "BINARY",
    "NOTIFY",
)
ENABLED_NAMES = {"IMAP4REV2": "IMAP4rev2"}  # as advertised
ENABLEABLE = frozenset({"CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"})


def capabilities(session: Session) -> list[str]:
    """RFC 9051 §6.1.1: before login, what it takes to log in; after, what we support."""
    if session.state is State.NOT_AUTHENTICATED:
        # RFC 7888 §4: LITERAL- before login, where a command is small (server.Allowance):
        # literals up to 4096 octets.
        names = ["IMAP4rev1", "IMAP4rev2", "LITERAL-", "SASL-IR", "ID", "ENABLE", "IDLE"]
        if not session.channel.secure and session.tls_available:
            names.append("STARTTLS")
        if session.plaintext_allowed():
            names.append("AUTH=PLAIN")
        else:
            names.append("LOGINDISABLED")
        return names
    names = [n for n in AUTHENTICATED_CAPABILITIES if n not in session.hidden]
    names.append(f"APPENDLIMIT={session.limits.max_literal}")
    if (
        session.limits.compress
        and not session.compressed
        and "COMPRESS=DEFLATE" not in session.hidden
    ):
        names.append("COMPRESS=DEFLATE")
    return names


# RFC 9051 §6.1.1 CAPABILITY
async def cmd_capability(session: Session, command: c.Capability) -> str | None:
    session.untagged("CAPABILITY ", " ".join(capabilities(session)))
    return None


# RFC 9051 §6.1.2 NOOP (pending updates go out after every command)
async def cmd_noop(session: Session, command: c.Noop) -> str | None:
    return None


# RFC 9051 §6.1.3 LOGOUT
async def cmd_logout(session: Session, command: c.Logout) -> str | None:
    session.untagged("BYE Logging out")
    session.state = State.LOGOUT
    return None


# RFC 2971 ID: we tell our name; the client's fields are only logged by the server.
async def cmd_id(session: Session, command: c.Id) -> str | None:
    session.untagged('ID ("name" "groupware" "vendor" "groupware")')
    return None


# RFC 5161 ENABLE (CONDSTORE implied by QRESYNC, RFC 7162 §3.2.3)
async def cmd_enable(session: Session, command: c.Enable) -> str | None:
    if session.state is State.NOT_AUTHENTICATED:
        raise Refused("ENABLE needs a login", bad=True)
    newly = []
    for name in command.capabilities:
        wanted = name.upper()
        if wanted in ENABLEABLE and wanted not in session.hidden and wanted not in session.enabled:
            newly.append(wanted)
            if wanted != "CONDSTORE":  # enabled below, with what that must say
                session.enabled.add(wanted)
    session.untagged("ENABLED" + "".join(" " + ENABLED_NAMES.get(n, n) for n in newly))
    if "IMAP4REV2" in newly and session.view is not None:
        session.view.show_recent = False
    if "CONDSTORE" in newly or "QRESYNC" in newly:
        await session.enable_condstore()  # RFC 7162 §3.1: HIGHESTMODSEQ if selected
    return None


# RFC 4978 COMPRESS=DEFLATE: the OK goes out in clear, everything after it deflated.
async def cmd_compress(session: Session, command: c.Compress) -> str | None:
    if command.mechanism.upper() != "DEFLATE":
        raise Refused("Only DEFLATE is supported", bad=True)
    if "COMPRESS=DEFLATE" in session.hidden:
        raise Refused("COMPRESS is not offered to this account", bad=True)
    if session.compressed or not session.limits.compress:
        raise Refused("Compression is already active or not offered", "COMPRESSIONACTIVE")
    session.write(b"%s OK DEFLATE active\r\n" % command.tag.encode())
    await session.channel.drain()
    session.channel.compress()
    session.compressed = True
    return ""  # already answered
