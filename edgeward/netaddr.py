"""``HOST:PORT`` parsing for ``--listen`` style options (IPv6 in brackets)."""

from __future__ import annotations

import ipaddress


def parse_hostport(value: str, *, default_port: int | None = None) -> tuple[str, int]:
    """``"127.0.0.1:8443"`` → ``("127.0.0.1", 8443)``; ``"[::1]:80"`` → ``("::1", 80)``.

    Raises ``ValueError`` with a message that says what was expected.
    """
    text = value.strip()
    host: str
    port_text: str | None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{value!r}: missing ']' after IPv6 address")
        host = text[1:end]
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{value!r}: expected [IPV6]:PORT")
        port_text = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{value!r}: {host!r} is not an IPv6 address") from None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ValueError(f"{value!r}: write IPv6 addresses in brackets, e.g. [::1]:8443")
    else:
        host, port_text = text, None
    if not host:
        raise ValueError(f"{value!r}: missing host (e.g. 127.0.0.1:8443)")
    if port_text is None or port_text == "":
        if default_port is None:
            raise ValueError(f"{value!r}: expected HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{value!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def client_bucket(address: str) -> str:
    """The key under which limits count a client: an IPv4 address, or an IPv6 /64.

    An IPv6 host usually holds a whole /64 (SLAAC, privacy addresses) and can pick any
    address in it, so per-address counting would give it an unlimited budget. An IPv4-mapped
    address counts as its IPv4 address; anything unparsable counts as itself.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
