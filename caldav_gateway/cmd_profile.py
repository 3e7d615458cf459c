"""``caldav-gateway profile``: an Apple configuration profile that sets up the account."""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from pathlib import Path

from edgeward import cli
from edgeward.files import atomic_write
from edgeward.secrets import Secret

HELP = "write an Apple profile (.mobileconfig) that sets up a user's account in one tap"
DESCRIPTION = """\
Write a configuration profile for iPhone, iPad and Mac that creates USER's calendar
account with the right host, port, TLS and principal URL: no "Advanced" screen, no port
typed by hand. Address books get a CardDAV account too. When the gateway's certificate is
not publicly trusted, the profile also carries its root CA (--ca, or the self-signed last
certificate of --cert). The password is NOT written: the device asks for it once.

With --link the profile is not written to a file: it is kept in the gateway's collections
folder and a signed link is printed (with a QR code) that the running gateway serves once,
under /.profile/, until it expires.

exit status: 0 written, 1 the work failed, 2 bad arguments or configuration"""
EPILOG = """\
examples:
  caldav-gateway profile alice --host cal.example.org --config /etc/caldav-gateway/gateway.toml \\
      --sign --out alice.mobileconfig
  caldav-gateway profile alice --host cal.example.org --port 8443 \\
      --config /etc/caldav-gateway/gateway.toml --sign --link --expires-in 900
"""

_FROM_CONFIG = ("cert", "key", "collections")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("expected a port from 1 to 65535")
    return value


def _host(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    name = text.rstrip(".").lower()
    if not _HOSTNAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or IP address")
    return name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.argument_default = argparse.SUPPRESS  # no "(default: None)" in --help
    p.add_argument("user", metavar="USER", help="the account's user name (as in --htpasswd)")
    p.add_argument(
        "--host", required=True, type=_host, metavar="HOST", help="the name devices connect to"
    )
    p.add_argument("--port", type=_port, default=8443, metavar="PORT", help="the CalDAV port")
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write it, '-' for stdout (USER.mobileconfig)",
    )
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="gateway.toml: cert, key and collections"
    )
    p.add_argument("--cert", type=Path, metavar="FILE", help="the gateway's certificate chain")
    p.add_argument("--key", type=Path, metavar="FILE", help="the gateway's private key (--sign)")
    p.add_argument("--collections", type=Path, metavar="DIR", help="Radicale's collections")
    p.add_argument("--ca", type=Path, metavar="FILE", help="the root CA to include (PEM)")
    p.add_argument(
        "--sign", action="store_true", help="sign it (CMS) with the gateway's certificate"
    )
    p.add_argument(
        "--include-password",
        action="store_true",
        help="write the password of --password-file into the profile (not recommended)",
    )
    p.add_argument(
        "--password-file", type=Path, metavar="FILE", help="the password for --include-password"
    )
    p.add_argument(
        "--link", action="store_true", help="print a one-time link served by the gateway"
    )
    p.add_argument(
        "--expires-in", type=cli.link_seconds, default=900, metavar="SECONDS", help="link validity"
    )


def _paths(args: argparse.Namespace) -> dict[str, Path | None]:
    """cert/key/collections: flags win over --config."""
    found: dict[str, Path | None] = {name: getattr(args, name, None) for name in _FROM_CONFIG}
    config = getattr(args, "config", None)
    if config is not None:
        from caldav_gateway.cmd_serve import settings_from

        settings = settings_from(argparse.Namespace(config=config))
        for name in _FROM_CONFIG:
            if found[name] is None:
                found[name] = getattr(settings, name)
    return found


def _flag(args: argparse.Namespace, name: str) -> bool:
    return bool(getattr(args, name, False))  # absent when not given (argument_default)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise cli.UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from caldav_gateway.profile import (
        Account,
        ProfileError,
        build,
        has_address_books,
        root_to_include,
    )
    from edgeward.appleprofile import sign

    if (
        "/" in args.user
        or args.user in ("", ".", "..")
        or any(ord(c) < 32 or ord(c) == 127 for c in args.user)
    ):
        raise cli.UsageError(f"{args.user!r} is not a user name")
    paths = _paths(args)
    password = _password(args)
    cert, key, collections = paths["cert"], paths["key"], paths["collections"]
    chain = _read(cert, "certificate") if cert is not None else None
    ca = getattr(args, "ca", None)
    try:
        root = root_to_include(chain, args.host, _read(ca, "CA") if ca is not None else None)
    except ProfileError as exc:
        raise cli.UsageError(str(exc)) from None
    carddav = collections is not None and has_address_books(collections, args.user)
    account = Account(args.user, args.host, args.port)
    data = build(account, root=root, carddav=carddav, password=password)
    if _flag(args, "sign"):
        if chain is None or key is None:
            raise cli.UsageError("--sign needs the gateway's --cert and --key (or --config)")
        try:
            data = sign(data, chain, Secret(_read(key, "key").decode("ascii", "replace")))
        except ValueError as exc:
            raise cli.UsageError(f"cannot sign: {exc}") from None
    return _deliver(args, data, collections)


def _password(args: argparse.Namespace) -> Secret | None:
    """The password to write into the profile: only with ``--include-password``, never
    with ``--link`` (the profile would wait on disk), and said loudly."""
    from edgeward.secrets import read_secret_file

    if not _flag(args, "include_password"):
        return None
    if _flag(args, "link"):
        raise cli.UsageError(
            "--include-password cannot go with --link (the profile would wait on disk)"
        )
    if getattr(args, "password_file", None) is None:
        raise cli.UsageError("--include-password needs --password-file FILE")
    try:
        password = read_secret_file(args.password_file)
    except ValueError as exc:
        raise cli.UsageError(str(exc)) from None
    print(
        "warning: the profile holds the password in clear text; whoever gets the file "
        "can use the account",
        file=sys.stderr,
    )
    return password


def _deliver(args: argparse.Namespace, data: bytes, collections: Path | None) -> int:
    """Hand the profile out: a one-time link (with its QR code), standard output or a file."""
    from caldav_gateway import links
    from edgeward.qr import terminal

    if _flag(args, "link"):
        if collections is None:
            raise cli.UsageError("--link needs the gateway's --collections (or --config)")
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = links.issue(
            collections,
            args.user,
            data,
            base_url=f"https://{host}:{args.port}",
            expires_in=args.expires_in,
        )
        print(url)
        print(terminal(url), end="")
        return cli.EXIT_OK
    out = getattr(args, "out", None) or Path(f"{args.user}.mobileconfig")
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return cli.EXIT_OK

    try:
        atomic_write(out, data, mode=0o600)  # 0600: it may hold a password
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return cli.EXIT_FAILED
    print(f"wrote {out}", file=sys.stderr)
    return cli.EXIT_OK
