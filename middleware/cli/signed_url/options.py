"""What ``signed-url``'s subcommands share: the scheme options, keys and secrets, times."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Final

from edgeward.cli import UsageError
from edgeward.secrets import read_secret_file
from middleware.signed.keyring import KeyFileError, KeyRing
from middleware.signed.nginx_scheme import DEFAULT_TEMPLATE, MAX_TIME, NginxScheme, remote_addr_text

TIME_NOTE: Final = "unix time T: whole seconds since 1970, at most 9223372036854775807"
NGINX_DEFAULT_EXPIRES_IN: Final = 3600
_LAST_DATETIME: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime holds


def add_scheme_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheme",
        choices=["native", "nginx"],
        default="native",
        help="native: HMAC-SHA256 with --keys; nginx: secure_link_md5 with --secret-file",
    )
    p.add_argument("--keys", metavar="FILE", help="key file (native scheme)")
    p.add_argument(
        "--secret-file", metavar="FILE", help="file whose first line is nginx's secret (nginx)"
    )
    p.add_argument(
        "--template",
        default=DEFAULT_TEMPLATE,
        metavar="TEMPLATE",
        help="nginx: the secure_link_md5 expression, with {expires} {uri} {remote_addr} "
        "{secret} for $secure_link_expires $uri $remote_addr and the secret",
    )
    p.add_argument(
        "--remote-addr",
        metavar="ADDR",
        help="nginx: the client address the link is for, when the template uses {remote_addr}",
    )


def keyring(args: argparse.Namespace) -> KeyRing:
    if not args.keys:
        raise UsageError("the native scheme needs --keys FILE (make one with 'signed-url keygen')")
    try:
        return KeyRing.from_file(args.keys)
    except (KeyFileError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"--keys: {exc}") from None


def nginx(args: argparse.Namespace) -> tuple[NginxScheme, str]:
    if not args.secret_file:
        raise UsageError("--scheme nginx needs --secret-file FILE")
    try:
        secret = read_secret_file(args.secret_file)
    except (ValueError, OSError) as exc:  # OSError: a directory, a path too long...
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--secret-file: {detail}") from None
    try:
        scheme = NginxScheme(secret, args.template)
    except ValueError as exc:  # TemplateError, or text that is not UTF-8
        raise UsageError(f"--template: {exc}") from None
    remote_addr = args.remote_addr
    if "{remote_addr}" in args.template and remote_addr is None:
        raise UsageError("the template uses {remote_addr}: give --remote-addr ADDR")
    if remote_addr is not None:
        try:  # nginx's $remote_addr is always an address, in nginx's own spelling
            remote_addr = remote_addr_text(remote_addr)
        except ValueError:
            raise UsageError(f"--remote-addr: {remote_addr[:60]!r} is not an IP address") from None
    return scheme, remote_addr or ""


def expiry(args: argparse.Namespace, default_in: int | None) -> int | None:
    """The unix time a new link expires (``None``: never), from --expires-at/--expires-in."""
    if args.expires_at is not None:
        if not 0 < args.expires_at <= MAX_TIME:
            raise UsageError(f"--expires-at: expected a {TIME_NOTE}, above 0")
        return int(args.expires_at)
    expires_in = args.expires_in if args.expires_in is not None else default_in
    if expires_in is None:
        return None
    now = int(time.time())
    if not 0 < expires_in <= MAX_TIME - now:
        raise UsageError(
            "--expires-in: expected a number of seconds above 0 (a link that "
            "expires now or in the past is of no use)"
        )
    return now + int(expires_in)


def utc(t: int) -> str:
    """``t`` as an ISO 8601 UTC time; any unix time a link may carry (even past year 9999)."""
    if not 0 <= t <= _LAST_DATETIME:
        return "after year 9999" if t > 0 else "before 1970"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
