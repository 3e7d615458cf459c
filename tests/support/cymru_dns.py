"""A tiny DNS server on loopback that answers like Team Cymru's IP-to-ASN service.

Team Cymru publishes (and ipwhois' ``dns`` method queries):

- ``<reversed IPv4>.origin.asn.cymru.com`` (nibbles for ``origin6``) TXT
  ``"ASN | prefix | CC | registry | allocated"``;
- ``AS<n>.asn.cymru.com`` TXT ``"ASN | CC | registry | allocated | AS name"``.

Unknown names get NXDOMAIN. ``delay`` makes every answer late (each query is answered on
its own thread, like a real server under load). ``queries`` counts what was asked.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class CymruDNS:
    # prefix -> (asn, country, registry, as name)
    prefixes: dict[str, tuple[int, str, str, str]]
    delay: float = 0.0
    port: int = 0
    queries: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each query

    def origin(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        best: tuple[int, str] | None = None
        for prefix, (asn, cc, registry, _name) in self.prefixes.items():
            net = ipaddress.ip_network(prefix)
            if (
                ip.version == net.version
                and ip in net
                and (best is None or net.prefixlen > best[0])
            ):
                best = (net.prefixlen, f"{asn} | {prefix} | {cc} | {registry} | 2001-05-17")
        return best[1] if best else None

    def asn(self, number: int) -> str | None:
        for asn, cc, registry, name in self.prefixes.values():
            if asn == number:
                return f"{asn} | {cc} | {registry} | 2001-05-17 | {name}"
        return None

    def answer_for(self, qname: str) -> str | None:
        name = qname.rstrip(".").lower()
        if name.endswith(".origin.asn.cymru.com"):
            parts = name.removesuffix(".origin.asn.cymru.com").split(".")
            try:
                return self.origin(ipaddress.IPv4Address(".".join(reversed(parts))))
            except ValueError:
                return None
        if name.endswith(".origin6.asn.cymru.com"):
            nibbles = "".join(reversed(name.removesuffix(".origin6.asn.cymru.com").split(".")))
            nibbles = nibbles.ljust(32, "0")
            groups = ":".join(nibbles[i : i + 4] for i in range(0, 32, 4))
            return self.origin(ipaddress.IPv6Address(groups))
        if name.startswith("as") and name.endswith(".asn.cymru.com"):
            number = name.removesuffix(".asn.cymru.com")[2:]
            return self.asn(int(number)) if number.isdigit() else None
        return None

    def handle(self, sock: socket.socket, data: bytes, peer: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        qname = question.name.to_text()
        self.queries.append(qname)
        self.arrivals.append(time.monotonic())
        if self.delay:
            time.sleep(self.delay)
        response = dns.message.make_response(query)
        text = self.answer_for(qname) if question.rdtype == dns.rdatatype.TXT else None
        if text is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.append(
                dns.rrset.from_text(question.name, 14400, "IN", "TXT", f'"{text}"')
            )
        with contextlib.suppress(OSError):
            sock.sendto(response.to_wire(), peer)


@contextlib.contextmanager
def cymru_dns(
    prefixes: dict[str, tuple[int, str, str, str]], *, delay: float = 0.0
) -> Iterator[CymruDNS]:
    server = CymruDNS(prefixes, delay)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    server.port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=server.handle, args=(sock, data, peer), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(2)
        sock.close()
