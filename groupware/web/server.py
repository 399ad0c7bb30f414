"""The portal's HTTP listener: the WSGI app on waitress (threads), run beside the asyncio
loop, with limits waitress lacks: connections per client address, a deadline for a
request's headers, a minimum rate for its body (as Apache's mod_reqtimeout), and a small
body for every path but /dav. Other limits are waitress's own settings, passed in
`WebListener`.

A view may keep its response open as an event stream (server-sent events): it hands a
`Feed` to `environ[STREAM_KEY]`; once the response's head is out, the connection leaves
waitress for the asyncio loop (web/eventstreams.py), holding no thread of the pool.

Slow clients cost waitress no thread (it reads whole requests before handing them on)
but a connection each; without these, a hundred connections trickling header lines
filled its connection limit and the portal and /dav stopped answering anyone, and a
thousand trickling a body one byte a minute did the same; bodies of 64 MiB to /login,
spooled to disk before any check, filled the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from typing import Any, Protocol

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from groupware.config import Endpoint, WebConfig
from groupware.web.eventstreams import Feed, StreamCarrier
from groupware.web.sessions import COOKIE

log = logging.getLogger(__name__)
_BUSY = b"Too many connections from your address; try again later.\n"
# RFC 9110 §15.6.4 (503) with §10.2.3 Retry-After, sent before reading the request and
# followed by the close that "Connection: close" announces (RFC 9112 §9.6).
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_BUSY)).encode() + b"\r\n"
    b"Retry-After: 30\r\n"
    b"Connection: close\r\n\r\n" + _BUSY
)
# The listening socket and waitress's trigger sit in the same map as the connections.
OWN_SOCKETS = 2
# A body, once the headers are in, gets header_timeout seconds and one more for each
# MIN_BODY_RATE bytes received, but never more than MAX_BODY_SECONDS (20 MiB to /dav
# in 10 minutes is 35 KB/s).
MIN_BODY_RATE = 1_000
MAX_BODY_SECONDS = 600
# The portal's own forms are small; only /dav, the form that carries a message's
# attachments and the .ics and .vcf imports take big bodies (web.max_body_bytes).
FORM_BODY_BYTES = 1024 * 1024
STREAM_KEY = "groupware.stream"  # environ: the function a view hands its Feed to
# the portal's paths that take up to max_body_bytes (from a logged-in browser)
UPLOADS = frozenset({"/mail/compose", "/calendar/import", "/contacts/import"})


class ConnectionCounter(Protocol):
    """Connections open, in all and per client address (protocols/connections.py)."""

    def admit(self, ip: str) -> bool: ...
    def release(self, ip: str) -> None: ...


class WebListener:
    """The WSGI app on waitress, in a thread of its own."""

    name = "http"

    def __init__(
        self,
        app: Any,
        endpoint: Endpoint,
        web: WebConfig,
        counter: ConnectionCounter,
        reuse_port: bool = False,
    ) -> None:
        proxy: dict[str, Any] = {}
        if web.trusted_proxy:
            # Behind a TLS-terminating proxy: believe its word on scheme and client.
            proxy = {
                "trusted_proxy": web.trusted_proxy,
                "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
            }
        adjustments = Adjustments(
            host=endpoint.host,
            port=endpoint.port,
            threads=web.threads,
            ident="groupware",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=web.max_body_bytes,
            # At it waitress stops accepting (newcomers wait in the backlog): one place
            # more than the counter's total, so that the counter meets them with a 503.
            # Connections of a trusted proxy, which the counter does not see, stop there.
            connection_limit=web.max_connections + OWN_SOCKETS + 1,
            # How often idle connections and header deadlines are looked at.
            cleanup_interval=max(1, min(30, web.header_timeout // 2)),
            # poll(), not select(): a thousand connections outgrow select's FD_SETSIZE.
            asyncore_use_poll=True,
            **proxy,
        )
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adjustments.threads)
        shared = _shared_socket(adjustments.listen[0]) if reuse_port else None
        self.server = LimitedServer(
            app,
            map={},
            _sock=shared,
            dispatcher=dispatcher,
            adj=adjustments,
            sockinfo=adjustments.listen[0],
            bind_socket=shared is None,
        )
        self.server.limit(counter, web.header_timeout, web.trusted_proxy)
        self.port = int(self.server.effective_port)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # the socket closes under the loop at shutdown
            self.server.run()

    async def start(self) -> None:
        self.server.carrier.bind(asyncio.get_running_loop())
        self._thread.start()
        log.info("http listening on %s:%s", self.server.effective_host, self.port)

    def stop_accepting(self) -> None:
        """Leave new connections to the other workers (closed in waitress's thread)."""
        # The dispatcher's own close: waitress's server close would close the trigger too,
        # which the open channels (and stop) still pull.
        self.server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(self.server))

    def busy(self) -> int:
        """None worth waiting for: browsers reconnect, their event streams too."""
        return 0

    async def stop(self) -> None:
        self.server.carrier.close_all()
        # Requests being served finish (up to 5 s); then the loop closes every channel
        # itself (from its own thread, via the trigger), which empties its map and ends it.
        await asyncio.to_thread(self.server.task_dispatcher.shutdown, True, 5)
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        await asyncio.to_thread(self._thread.join, 5)


def _shared_socket(sockinfo: tuple[int, int, int, Any]) -> socket.socket:
    """The listening socket bound with SO_REUSEPORT: every worker process binds one on
    the same port, and the kernel shares the connections out."""
    family, kind, proto, address = sockinfo
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(address)
    return sock


class _SmallBody:
    """waitress's settings for one request, with a smaller largest body."""

    def __init__(self, adj: Adjustments, max_body: int) -> None:
        self._adj, self.max_request_body_size = adj, max_body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adj, name)


class LimitedParser(HTTPRequestParser):  # type: ignore[misc]
    """waitress's request parser, taking FORM_BODY_BYTES at most but for /dav and the
    webmail's form that carries attachments: refused (413) as soon as the headers say
    so, or as the body passes it."""

    adj: Any  # waitress's Adjustments, then maybe a _SmallBody

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        path = str(self.path or "")
        # The webmail's form takes files from a logged-in browser only (the view checks
        # the session; a stranger's body is cut short before it is spooled to disk).
        logged_in = f"{COOKIE}=" in str(self.headers.get("COOKIE", ""))
        uploads = path.startswith("/dav/") or path == "/dav" or (path in UPLOADS and logged_in)
        if not uploads:
            limit = min(FORM_BODY_BYTES, self.adj.max_request_body_size)
            self.adj = _SmallBody(self.adj, limit)


class PortalTask(WSGITask):  # type: ignore[misc]
    """A request to the WSGI app whose view may turn its response into an event stream:
    the response's head and first chunk are written as usual, the last chunk is not,
    and the connection is handed over (LimitedChannel.hand_over) instead of closing."""

    feed: Feed | None = None
    _streaming = False

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ[STREAM_KEY] = self._adopt
        return environ

    def _adopt(self, feed: Feed) -> None:
        self.feed = feed

    def service(self) -> None:
        try:
            super().service()
        finally:
            if self.feed is not None and not self._streaming:
                self.feed.stop()  # adopted, but the response failed or was no stream

    def finish(self) -> None:
        # A stream answers one GET that nothing follows on its connection: a pipelined
        # request after it would be answered inside the stream.
        alone = self.request.command == "GET" and len(self.channel.requests) == 1
        if self.feed is None or self.status[:3] != "200" or not alone:
            super().finish()
            return
        if not self.wrote_header:
            self.write(b"")
        self.close_on_finish = False  # the stream goes on, in the carrier's hands
        self._streaming = True
        self.channel.hand_over(self.feed, chunked=self.chunked_response)


class LimitedChannel(HTTPChannel):  # type: ignore[misc]
    """A connection that knows when the request it is reading began (`header_clock`,
    None once its headers are in or between requests), when its body began
    (`body_clock`, None unless a body is being read) and whether it was counted."""

    parser_class = LimitedParser
    task_class = PortalTask
    # (feed, chunked) from the moment a response became a stream until the loop hands
    # the connection over, once the response's head is flushed.
    handing: tuple[Feed, bool] | None = None
    header_clock: float | None = None
    body_clock: float | None = None
    counted: str | None = None  # the client address, while it holds a place
    _timed: object = None  # the request whose clock runs
    connected: bool  # waitress's: the socket is open

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The first request's headers are due from the moment of connecting: a client
        # that connects and sends nothing is as slow as one that trickles.
        self.header_clock = self.creation_time

    def received(self, data: bytes) -> bool:
        if self.handing is not None:  # a stream's client has nothing more to ask
            self.will_close = True
            return False
        done = bool(super().received(data))
        request = self.request
        if request is None or request.headers_finished:
            self.header_clock = None  # between requests: waitress's idle timeout rules
        elif request is not self._timed:
            if self._timed is not None or self.header_clock is None:
                self.header_clock = time.time()  # a later request began in this data
            self._timed = request
        if request is None or not request.headers_finished or request.completed:
            self.body_clock = None
        elif self.body_clock is None:
            self.body_clock = time.time()
        return done

    def body_late(self, now: float, grace: float) -> bool:
        """Whether the body being read came slower than MIN_BODY_RATE (after `grace`
        seconds) or took MAX_BODY_SECONDS."""
        started, request = self.body_clock, self.request
        if started is None or request is None:
            return False
        allowed = grace + int(request.body_bytes_received) / MIN_BODY_RATE
        return now - started > min(allowed, MAX_BODY_SECONDS)

    def hand_over(self, feed: Feed, *, chunked: bool) -> None:
        """Called from the request's thread once its response is a stream: the loop hands
        the connection to the stream carrier when what is written so far is out."""
        self.handing = (feed, chunked)
        self.server.pull_trigger()

    def writable(self) -> bool:
        return bool(super().writable()) or self.handing is not None

    def handle_write(self) -> None:
        super().handle_write()
        handing = self.handing
        if handing is None or self.total_outbufs_len or self.requests:
            return
        if not self.connected or self.will_close:
            self.handing = None
            handing[0].stop()
            return
        self.handing = None
        ip, self.counted = self.counted, None  # the place is the stream's now
        sock = self.socket
        self.del_channel()  # out of waitress's map; the socket stays open
        self.connected = False
        self.server.carrier.adopt(sock, handing[0], chunked=handing[1], ip=ip)

    def del_channel(self, map: Any = None) -> None:
        super().del_channel(map)
        self.server.release(self)
        if self.handing is not None:  # closed before the stream could be handed over
            self.handing[0].stop()
            self.handing = None


class LimitedServer(TcpWSGIServer):  # type: ignore[misc]
    """waitress's TCP server, turning away a client address past its share of
    connections (503 and close) and closing connections whose headers are late."""

    channel_class = LimitedChannel

    def limit(self, counter: ConnectionCounter, header_timeout: int, trusted_proxy: str) -> None:
        self._counter = counter
        self._header_timeout = header_timeout
        # A reverse proxy carries every client on its own connections: it limits them
        # (deploy/nginx.conf); here it counts only against the total.
        self._proxy = trusted_proxy
        self._lock = threading.Lock()  # channels close on request threads too
        self.carrier = StreamCarrier(self.release_address)

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
        except OSError:  # a connection gone before accept(), or no descriptor left
            log.debug("http accept failed", exc_info=True)
            return
        ip = str(addr[0])
        counted = self._proxy not in ("*", ip)
        if counted:
            with self._lock:
                admitted = self._counter.admit(ip)
            if not admitted:
                _turn_away(conn)
                return
        try:
            self.set_socket_options(conn)
            channel = self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)
        except OSError:
            if counted:
                with self._lock:
                    self._counter.release(ip)
            conn.close()
            return
        channel.counted = ip if counted else None

    def release(self, channel: LimitedChannel) -> None:
        with self._lock:
            ip, channel.counted = channel.counted, None
            if ip is not None:
                self._counter.release(ip)

    def release_address(self, ip: str | None) -> None:
        """A place held by an event stream, free again (the stream ended)."""
        if ip is not None:
            with self._lock:
                self._counter.release(ip)

    def maintenance(self, now: float) -> None:
        """waitress's idle timeout, then the header deadline (as nginx's
        client_header_timeout) and the body's minimum rate: a request whose headers, or
        body, are late ends its connection."""
        super().maintenance(now)
        cutoff = now - self._header_timeout
        for channel in list(self.active_channels.values()):
            started = channel.header_clock
            late = started is not None and started < cutoff
            if (late or channel.body_late(now, self._header_timeout)) and not channel.requests:
                channel.will_close = True


def _turn_away(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setblocking(False)
        conn.send(REFUSAL)  # a fresh socket's buffer takes it whole, or the client is gone
        conn.shutdown(socket.SHUT_WR)
    conn.close()
