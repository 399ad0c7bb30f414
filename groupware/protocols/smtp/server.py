"""SMTP listeners on the runtime's event loop: MX, submission (STARTTLS) and submissions
(implicit TLS), each an aiosmtpd protocol per connection with our authentication.

Authentication goes through services.auth off the loop; plaintext AUTH is refused
before TLS except from loopback (auth.loopback_is_secure), as Dovecot does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, TLSSetupException, syntax

from groupware import spool
from groupware.blocking import Blocking
from groupware.config import Config, Endpoint
from groupware.errors import AuthFailed, TryLater
from groupware.protocols.budget import ByteBudget
from groupware.protocols.connections import ConnectionLimits
from groupware.protocols.logins import check
from groupware.protocols.smtp import statuses
from groupware.protocols.smtp.data import read_data
from groupware.protocols.smtp.handler import Limits, SMTPHandler
from groupware.protocols.tally import Tally
from groupware.services import Services

MECHANISMS = ("PLAIN", "LOGIN")
log = logging.getLogger(__name__)


DSN_PARAMETERS = frozenset({"RET", "ENVID", "NOTIFY", "ORCPT"})  # RFC 3461 §4
# Every command resets the idle timer, so a client could hold its connection for ever
# with commands that move no mail, or with ones that fail. As Postfix does: past
# JUNK_COMMAND_LIMIT commands that move no mail (smtpd_junk_command_limit) each counts as
# an error, and the HARD_ERROR_LIMITth error (a 4xx or 5xx reply, smtpd_hard_error_limit)
# ends the session with 421. Both counts start again when a message is accepted, so a
# long session of many messages is fine.
JUNK_COMMANDS = frozenset({"NOOP", "RSET", "VRFY", "EXPN", "HELP", "HELO", "EHLO"})
JUNK_COMMAND_LIMIT = 100
HARD_ERROR_LIMIT = 20
# RFC 5321 §4.2 textstring = 1*(%d09 / %d32-126); §4.5.3.1.5: 512 octets with the CRLF.
_NOT_TEXT = re.compile(r"[^\t\x20-\x7e]")
MAX_REPLY_LINE = 510
BUDGET_MESSAGES = 1  # a listener's byte budget, in messages of smtp.max_message_bytes


class GroupwareSMTP(SMTP):
    """aiosmtpd's protocol with AUTH checked by services.auth (never on the loop), RFC 3461
    parameters let through to the handler, DATA read into a spool file within its own
    deadline (data.py) and processed within the listener's byte budget, and a 421 past
    the connection limits, a timeout, or too many errors and junk commands."""

    def __init__(
        self,
        handler: SMTPHandler,
        *,
        limits: ConnectionLimits,
        budget: ByteBudget,
        data_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._groupware = handler
        self._limits = limits
        self._budget = budget
        self._budget_wait = float(kwargs.get("timeout", 300))
        self._data_timeout = data_timeout
        self._ip = ""
        self._admitted = False
        self._errors = 0  # 4xx/5xx replies (and junk past its limit) since the last message
        self._junk = 0  # commands that moved no mail since the last message
        for name in JUNK_COMMANDS:  # aiosmtpd dispatches through this table
            self._smtp_methods[name] = self._counted_as_junk(self._smtp_methods[name])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self._ip = peer[0] if peer else ""
        self._admitted = self._limits.admit(self._ip)
        # Per connection: AUTH in clear only where the auth service allows it.
        tls = transport.get_extra_info("sslcontext") is not None
        self._auth_require_tls = not self._groupware.services.auth.plaintext_allowed(self._ip, tls)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted:
            self._limits.release(self._ip)
            self._admitted = False
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if not self._admitted:  # RFC 5321 §3.8: 421 and close
            await self.push(statuses.TOO_MANY_CONNECTIONS)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    def _counted_as_junk(
        self, method: Callable[[str | None], Awaitable[None]]
    ) -> Callable[[str | None], Awaitable[None]]:
        @functools.wraps(method)  # keeps aiosmtpd's @syntax marks, which HELP reads
        async def junk(arg: str | None) -> None:
            await method(arg)
            self._junk += 1
            if self._junk > JUNK_COMMAND_LIMIT:
                await self._count_error()

        return junk

    async def push(self, status: AnyStr) -> None:
        """Every reply goes out here, as RFC 5321 §4.2 has it: aiosmtpd echoes what the
        client sent in some (an unknown command, VRFY's argument), and a NUL, a bare CR,
        an undecodable octet or 1000 characters would otherwise go back on the wire. The
        errors among them are counted."""
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        await super().push(_NOT_TEXT.sub("?", text)[:MAX_REPLY_LINE])
        if text[:1] in ("4", "5") and text[:3] != "421":  # a 421 closes anyway
            await self._count_error()

    async def _count_error(self) -> None:
        self._errors += 1
        if self._errors < HARD_ERROR_LIMIT or self.transport is None:
            return
        log.info("SMTP client %s: too many errors", self._ip)
        await self.push(statuses.TOO_MANY_ERRORS)  # RFC 5321 §3.8: 421, then close
        self.transport.close()

    def _timeout_cb(self) -> None:
        """aiosmtpd's idle timer fired: no complete command (or no whole message, during
        DATA) in time. RFC 5321 §3.8: say 421 before closing."""
        transport = self.transport
        if transport is None:
            return
        log.info("SMTP client %s timed out", self._ip)
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(statuses.TIMEOUT.encode() + b"\r\n")
        transport.close()  # connection_lost ends the session

    # RFC 5321 §4.1.1.4 DATA: aiosmtpd's checks and hook around our reader.
    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        # aiosmtpd resets the timer per command only, so it bounds the whole message; ours
        # is longer than a command's.
        self._reset_timeout(self._data_timeout)
        path, out = spool.create(self._groupware.spool)
        try:
            with out:
                read = await read_data(self._reader, out, self.data_size_limit)
        except BaseException:  # the client left (the task is cancelled), or a disk error
            path.unlink(missing_ok=True)
            raise
        if read.closed or read.refusal:
            path.unlink(missing_ok=True)
            if read.closed:
                if self.transport is not None:
                    self.transport.close()
                return
            self.envelope = self._create_envelope()  # the transaction is over (§4.1.1.4)
            self._reset_timeout()
            await self.push(read.refusal)
            return
        assert self._timeout_handle is not None
        self._timeout_handle.cancel()  # the client waits on us now, not the other way
        try:
            status = await self._process(path, read.size)
        finally:
            if self.transport is not None:  # else the connection is gone, timer and all
                self._reset_timeout()
        self.envelope = self._create_envelope()
        if status.startswith("250"):  # mail was delivered: the limits count afresh
            self._errors = self._junk = 0
        await self.push(status)

    async def handle_exception(self, error: Exception) -> str:
        """A client breaking off its STARTTLS handshake is logged in one line; aiosmtpd
        logged it as an exception of ours, with its traceback, for every connection."""
        if isinstance(error, TLSSetupException):
            log.info("%s: TLS handshake failed: %r", self._ip, error.__cause__)
            return "421 4.7.0 TLS handshake failed"  # not sent: aiosmtpd closes at once
        status: str = await super().handle_exception(error)
        return status

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's reading of a MAIL/RCPT/VRFY path, where the email package's parser
        raises IndexError for an address without a domain ("a@"): a 553 malformed
        address, like any other it cannot parse, not an exception's 500."""
        try:
            found: tuple[str | None, str | None] = super()._getaddr(arg)
        except IndexError:
            return None, None
        return found

    async def _process(self, path: Path, size: int) -> str:
        """The DATA hook's reply for the message spooled at `path`, once the listener's
        byte budget has room for it (451 after smtp.timeout without). The file and the
        budget's share go when the hook is done, even if the client leaves meanwhile:
        its thread goes on with both, and must not be overtaken by the next message."""
        try:
            async with asyncio.timeout(self._budget_wait):
                taken = await self._budget.acquire(size)
        except TimeoutError:
            path.unlink(missing_ok=True)
            return statuses.BUSY
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        hook = asyncio.ensure_future(self._call_handler_hook("DATA", path))

        def done(_: asyncio.Future[Any]) -> None:
            self._budget.release(taken)
            path.unlink(missing_ok=True)

        hook.add_done_callback(done)
        status = await asyncio.shield(hook)
        return "250 OK" if status is MISSING else str(status)

    def _getparams(self, params: Any) -> dict[str, str | bool] | None:
        """Parameters minus RFC 3461's, which the handler reads from the options itself."""
        result: dict[str, str | bool] | None = super()._getparams(params)
        if result is not None:
            for name in DSN_PARAMETERS:
                result.pop(name, None)
        return result

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        # RFC 4616: [authzid] NUL authcid NUL passwd, with SASL-IR or after a challenge
        response = await self.challenge_auth("") if len(args) == 1 else _b64(args[1])
        if response is MISSING:  # the client gave up; aiosmtpd has answered already
            return AuthResult(success=False)
        if not isinstance(response, bytes):
            await self.push("501 5.5.2 Cannot decode the PLAIN response")
            return AuthResult(success=False, handled=True)
        parts = response.split(b"\x00")
        if len(parts) != 3:
            await self.push("501 5.5.2 Cannot split the PLAIN response")
            return AuthResult(success=False, handled=True)
        return await self._check(parts[1], parts[2])

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        login = _b64(args[1]) if len(args) > 1 else await self.challenge_auth("Username:")
        if login is None:
            await self.push("501 5.5.2 Cannot decode the LOGIN response")
            return AuthResult(success=False, handled=True)
        if not isinstance(login, bytes):
            return AuthResult(success=False)
        password = await self.challenge_auth("Password:")
        if not isinstance(password, bytes):
            return AuthResult(success=False)
        return await self._check(login, password)

    async def _check(self, login: bytes, password: bytes) -> AuthResult:
        services = self._groupware.services
        peer = self.session.peer[0] if self.session and self.session.peer else ""
        try:
            result = await check(
                services,
                self._groupware.blocking,
                login.decode("utf-8", "replace"),
                password.decode("utf-8", "replace"),
                "smtp",
                peer,
            )
        except TryLater:
            return AuthResult(success=False, handled=False, message=statuses.AUTH_THROTTLED)
        except AuthFailed:
            return AuthResult(success=False, handled=False, message=statuses.AUTH_INVALID)
        return AuthResult(success=True, auth_data=result)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


class SMTPListener:
    """One SMTP port: MX ("smtp"), "submission" or "submissions"."""

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        config: Config,
        services: Services,
        blocking: Blocking,
        tls: ssl.SSLContext,
        tally: Tally | None = None,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.port = endpoint.port
        kind = "mx" if name == "smtp" else "submission"
        self.handler = SMTPHandler(
            kind,
            config.hostname,
            services,
            blocking,
            Path(config.data_dir) / "spool",
            Limits(config.smtp.max_recipients, config.smtp.max_message_bytes),
        )
        self.limits = ConnectionLimits(
            config.smtp.max_connections, config.smtp.max_connections_per_ip, tally, name
        )
        # Messages in processing at once, in octets: one of the largest (each costs a few
        # times its size in memory while DKIM and MIME parsing read it), or many small ones.
        self.budget = ByteBudget(BUDGET_MESSAGES * config.smtp.max_message_bytes)
        self._config = config
        self._tls = tls
        self._server: asyncio.Server | None = None

    def _protocol(self) -> GroupwareSMTP:
        implicit = self.name == "submissions"
        smtp = self._config.smtp
        return GroupwareSMTP(
            self.handler,
            limits=self.limits,
            budget=self.budget,
            data_timeout=smtp.data_timeout,
            hostname=self._config.hostname,
            ident="groupware ESMTP",
            data_size_limit=self.handler.limits.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=None if implicit else self._tls,
            # Not require_starttls: loopback may submit in clear (auth.loopback_is_secure);
            # elsewhere AUTH needs TLS and MAIL needs AUTH, which comes to the same.
            require_starttls=False,
            auth_required=self.handler.kind == "submission",
            auth_require_tls=True,
            # MX takes no logins: users submit on 587/465.
            auth_exclude_mechanism=[] if self.handler.kind == "submission" else MECHANISMS,
            timeout=smtp.timeout,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            host=self.endpoint.host,
            port=self.endpoint.port,
            ssl=self._tls if self.name == "submissions" else None,
            reuse_port=self._config.server.workers > 1 or None,  # several worker processes
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", self.name, self.endpoint.host, self.port)

    def stop_accepting(self) -> None:
        """Leave new connections to the other workers; serve the open ones on."""
        if self._server is not None:
            self._server.close()

    def busy(self) -> int:
        return self.limits.here

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
