"""The state directory's ``settings.toml``: what ``init`` was told, as typed settings.

::

    host = "vpn.example.org"        # the name clients dial, and the server's IKE identity
    net4 = "10.77.0.0/24"           # device addresses (/32 each); .1 is the server
    net6 = "fd77::/64"              # device addresses (/128 each); ::1 is the server
    os = "linux"                    # which server files matter: linux | openbsd
    wg_port = 51820
    external_interface = "eth0"     # NAT out of this interface (OpenBSD: e.g. "vio0")
    public_url = "https://vpn.example.org/vpn"   # where `serve` is reached, for links
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from edgeward.config import listen_address, load_file, setting

ServerOS = Literal["linux", "openbsd"]
SERVER_OSES: Final[tuple[ServerOS, ...]] = ("linux", "openbsd")

_HOST: Final = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_IFACE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")


def check_host(value: str) -> None:
    if not _HOST.match(value):
        raise ValueError(
            f"expected a fully qualified DNS name such as vpn.example.org, got {value!r}"
        )


def check_net4(value: str) -> None:
    try:
        net = ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(f"expected an IPv4 network such as 10.77.0.0/24, got {value!r}") from None
    if net.prefixlen > 29:
        raise ValueError("expected an IPv4 network of /29 or larger")


def check_net6(value: str) -> None:
    try:
        net = ipaddress.IPv6Network(value)
    except ValueError:
        raise ValueError(f"expected an IPv6 network such as fd77::/64, got {value!r}") from None
    if net.prefixlen > 120:
        raise ValueError("expected an IPv6 network of /120 or larger")


def check_port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise ValueError("expected a port from 1 to 65535")


def check_iface(value: str) -> None:
    if not _IFACE.match(value):
        raise ValueError(f"expected an interface name such as eth0 or vio0, got {value!r}")


def check_url(value: str) -> None:
    if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
        raise ValueError(f"expected a base URL such as https://vpn.example.org/vpn, got {value!r}")


@dataclass(frozen=True)
class Settings:
    host: str = setting(
        help="the server's DNS name (clients dial it; IKE identity)", check=check_host
    )
    net4: str = setting(help="IPv4 pool, e.g. 10.77.0.0/24", check=check_net4)
    net6: str = setting(help="IPv6 pool, e.g. fd77::/64", check=check_net6)
    os: ServerOS = setting("linux", help="the server's operating system")
    wg_port: int = setting(51820, help="WireGuard UDP port", check=check_port)
    wg_interface: str = setting("wg0", help="WireGuard interface name", check=check_iface)
    external_interface: str = setting(
        "eth0", help="the interface to the Internet (NAT)", check=check_iface
    )
    le_cert: Path | None = setting(
        None, help="a Let's Encrypt fullchain.pem used as the IKEv2 server certificate"
    )
    le_key: Path | None = setting(None, help="its private key (privkey.pem)")
    public_url: str = setting(
        "http://127.0.0.1:8600",
        help="where `serve` is reached (links start with it)",
        check=check_url,
    )
    listen: str = setting(
        "127.0.0.1:8600", help="where `serve` listens (HOST:PORT)", check=listen_address
    )

    def __post_init__(self) -> None:
        if (self.le_cert is None) != (self.le_key is None):
            raise ValueError("le_cert and le_key go together")

    # Parsed once: every device's addresses are computed from them.
    @functools.cached_property
    def network4(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.net4)

    @functools.cached_property
    def network6(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network(self.net6)

    @functools.cached_property
    def server4(self) -> ipaddress.IPv4Address:
        return self.network4[1]

    @functools.cached_property
    def server6(self) -> ipaddress.IPv6Address:
        return self.network6[1]


def load_settings(path: Path) -> Settings:
    return load_file(Settings, path)


def to_toml(s: Settings) -> str:
    """The settings file ``init`` writes (every value quoted by hand: TOML strings)."""

    def q(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "# vpn-provision settings (written by `vpn-provision init`; edit, then `render`).",
        f"host = {q(s.host)}",
        f"net4 = {q(s.net4)}",
        f"net6 = {q(s.net6)}",
        f"os = {q(s.os)}",
        f"wg_port = {s.wg_port}",
        f"wg_interface = {q(s.wg_interface)}",
        f"external_interface = {q(s.external_interface)}",
        f"public_url = {q(s.public_url)}",
        f"listen = {q(s.listen)}",
    ]
    if s.le_cert is not None and s.le_key is not None:
        lines += [f"le_cert = {q(str(s.le_cert))}", f"le_key = {q(str(s.le_key))}"]
    return "\n".join(lines) + "\n"
