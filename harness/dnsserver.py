"""A small authoritative DNS server on 127.0.0.1 for tests and benchmarks, over UDP and TCP.

Serve a dict zone {(name, type): [rdata text]}; add a failure mode as a set of names next
to `servfail` and `silent`. Tests wrap it in a fixture: `with DNSServer(zone) as dns: ...`.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterable
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 60
MAX_CNAME_HOPS = 8

Zone = dict[tuple[str, str], list[str]]


def txt_rdata(value: str) -> str:
    """A TXT value as zone-file text: quoted, split into strings of at most 255 octets."""
    chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


class DNSServer:
    """Answers from `zone`; names are compared case-insensitively and without the final dot.

    TXT entries are given as plain values (quoted and split here); other types as rdata text
    ("10 mx.example.test.", "192.0.2.1"). Unknown names get NXDOMAIN, known names without
    the asked type an empty NOERROR answer. Names in `servfail` get SERVFAIL; names in
    `silent` get no answer at all (a timeout). `queries` counts what was asked.
    """

    def __init__(self, zone: Zone | None = None) -> None:
        self.zone: Zone = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        for key, values in (zone or {}).items():
            self.add(key[0], key[1], values)

    @property
    def address(self) -> str:
        """ "127.0.0.1:port", as `Resolver([...])` takes it."""
        return f"127.0.0.1:{self.port}"

    def add(self, name: str, rdtype: str, values: Iterable[str]) -> None:
        key = (_key(name), rdtype.upper())
        with self._lock:
            self.zone.setdefault(key, []).extend(values)

    def set(self, name: str, rdtype: str, values: Iterable[str]) -> None:
        with self._lock:
            self.zone[(_key(name), rdtype.upper())] = list(values)

    def __enter__(self) -> DNSServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind UDP on a free port, then TCP on the same one (retrying if that is taken)."""
        server = self
        for _ in range(20):
            udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _UDPHandler)
            port = udp.server_address[1]
            try:
                tcp = _TCPServer(("127.0.0.1", port), _TCPHandler)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for UDP and TCP")
        for listener in (udp, tcp):
            listener.daemon_threads = True
            listener.dns = server  # type: ignore[attr-defined]
            thread = threading.Thread(target=listener.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            self._servers.append(listener)
            self._threads.append(thread)
        self.port = port

    def stop(self) -> None:
        for listener in self._servers:
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query in wire format, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name, rdtype = _key(question.name.to_text()), dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
            if name in self.silent:
                return None
            if name in self.servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            self._fill(response, name, rdtype)
        return response.to_wire(max_size=65535)  # the UDP handler truncates if needed

    def _fill(self, response: dns.message.Message, name: str, rdtype: str) -> None:
        for _ in range(MAX_CNAME_HOPS):
            values = self.zone.get((name, rdtype))
            if values:
                response.answer.append(_rrset(name, rdtype, values))
                return
            target = self.zone.get((name, "CNAME"))
            if not target or rdtype == "CNAME":
                break
            response.answer.append(_rrset(name, "CNAME", target[:1]))
            name = _key(target[0])
        if not any(key[0] == name for key in self.zone) and not response.answer:
            response.set_rcode(dns.rcode.NXDOMAIN)


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.dns.answer(data)  # type: ignore[attr-defined]
        if reply is None:
            return
        if len(reply) > _udp_limit(data):
            reply = _truncated(data)
        sock.sendto(reply, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            while True:
                header = _read(conn, 2)
                if header is None:
                    return
                data = _read(conn, struct.unpack("!H", header)[0])
                if data is None:
                    return
                reply = self.server.dns.answer(data)  # type: ignore[attr-defined]
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True


def _read(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _udp_limit(wire: bytes) -> int:
    """The largest UDP reply the client takes: 512, or its EDNS0 payload size (RFC 6891)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return 512
    return max(512, query.payload) if query.edns >= 0 else 512


def _truncated(wire: bytes) -> bytes:
    """An empty answer with TC set: the client retries over TCP (RFC 7766)."""
    response = dns.message.make_response(dns.message.from_wire(wire))
    response.flags |= dns.flags.AA | dns.flags.TC
    return response.to_wire()


def _rrset(name: str, rdtype: str, values: list[str]) -> dns.rrset.RRset:
    texts = [txt_rdata(value) for value in values] if rdtype == "TXT" else values
    return dns.rrset.from_text_list(name + ".", TTL, dns.rdataclass.IN, rdtype, texts)


def _key(name: str) -> str:
    return name.lower().rstrip(".")
