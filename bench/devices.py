"""Device setup benchmark: what an app's first contact costs the server.

Starts `groupware serve` (bench/webmail.py's WebServer: SQLite on a temporary data
directory) with one user, then, one client on a kept-alive connection, --samples times
each, server time from request to last byte:
  autoconfig    GET /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=…
  autodiscover  POST /autodiscover/autodiscover.xml for the user's address
  unknown       the same for an address nobody has (its time should match: no enumeration)
  profile       GET /settings/devices/apple.mobileconfig, logged in
and 8 clients at once for --seconds on autodiscover (requests/s), and in this process the
CMS signature of one profile with a CA-issued P-256 key. Prints a table and a JSON line.
Usage: python bench/devices.py [--samples 300] [--seconds 5]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.webmail import PASSWORD, USER, Web, WebServer, summary  # noqa: E402

REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
    'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{}</EMailAddress>'
    "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
    "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
)


def post(connection: http.client.HTTPConnection, address: str) -> float:
    started = time.perf_counter()
    connection.request(
        "POST",
        "/autodiscover/autodiscover.xml",
        REQUEST.format(address).encode(),
        {"Content-Type": "text/xml"},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def timed_get(web: Web, path: str) -> float:
    started = time.perf_counter()
    status, _, _ = web.request("GET", path)
    assert status == 200, (path, status)
    return (time.perf_counter() - started) * 1000


def concurrent_rate(port: int, seconds: float, clients: int = 8) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def work(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            post(connection, f"someone{k}@example.test")
            done[k] += 1
        connection.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def signing_ms(samples: int) -> float:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from groupware.services.devices.profiles import sign

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench CA")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")]))
        .issuer_name(ca)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as folder:
        cert, pem = Path(folder) / "c.pem", Path(folder) / "k.pem"
        cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        started = time.perf_counter()
        for _ in range(samples):
            assert sign(b"<plist>" + b"x" * 4000 + b"</plist>", cert, pem) is not None
        return (time.perf_counter() - started) * 1000 / samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as folder:
        server = WebServer(Path(folder), f"sqlite:///{folder}/g.db", 100)
        server.initialise(PASSWORD, [USER], PASSWORD)
        server.start_web()
        try:
            web = Web(server.http_port)
            web.log_in(USER)
            connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
            times: dict[str, list[float]] = {
                "autoconfig": [],
                "autodiscover": [],
                "unknown": [],
                "profile": [],
            }
            for round_number in range(args.samples + 10):
                row = {
                    "autoconfig": timed_get(
                        web,
                        f"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={USER}",
                    ),
                    "profile": timed_get(web, "/settings/devices/apple.mobileconfig"),
                }
                # Known and unknown in turns, each first every other round: their times
                # are compared, and the first request after another one waits longer.
                pair = [("autodiscover", USER), ("unknown", "nobody@example.test")]
                for name, address in pair[:: 1 if round_number % 2 else -1]:
                    row[name] = post(connection, address)
                if round_number >= 10:
                    for name, value in row.items():
                        times[name].append(value)
            connection.close()
            rate = concurrent_rate(server.http_port, args.seconds)
        finally:
            server.stop()
    results: dict[str, object] = {name: summary(values) for name, values in times.items()}
    results["autodiscover_8_clients_per_s"] = round(rate)
    results["sign_ms"] = round(signing_ms(50), 2)
    print(f"{'operation':<14} {'p50 ms':>8} {'p95 ms':>8}")
    for name in times:
        row = results[name]
        assert isinstance(row, dict)
        print(f"{name:<14} {row['p50_ms']:>8} {row['p95_ms']:>8}")
    print(f"autodiscover, 8 clients: {rate:.0f} requests/s; CMS signing: {results['sign_ms']} ms")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
