"""``signed-url sign``: the signed URL for a request-target, in either scheme."""

from __future__ import annotations

import argparse

from edgeward.cli import EXIT_OK, UsageError
from middleware.cli.signed_url.options import (
    NGINX_DEFAULT_EXPIRES_IN,
    TIME_NOTE,
    add_scheme_options,
    expiry,
    keyring,
    nginx,
)
from middleware.signed.native import sign_url
from middleware.signed.quoting import quote_path

HELP = "print the signed URL for a request-target"
EPILOG = """\
examples:
  signed-url sign --keys keys.txt --expires-in 600 '/media/cat.jpg?w=640'
  signed-url sign --scheme nginx --secret-file s.txt --remote-addr 127.0.0.1 /s/link
"""


def add_arguments(sign: argparse.ArgumentParser) -> None:
    add_scheme_options(sign)
    when = sign.add_mutually_exclusive_group()
    when.add_argument(
        "--expires-in",
        type=int,
        metavar="SECONDS",
        help=f"link expires SECONDS from now (without --expires-*: native links never "
        f"expire, nginx links expire in {NGINX_DEFAULT_EXPIRES_IN} s)",
    )
    when.add_argument("--expires-at", type=int, metavar="T", help="link expires at " + TIME_NOTE)
    sign.add_argument(
        "--quote",
        action="store_true",
        help="TARGET is an unencoded path (spaces, accents): percent-encode it first",
    )
    sign.add_argument(
        "target",
        metavar="TARGET",
        help="path plus optional query, percent-encoded, exactly as the browser will send it",
    )


def run(args: argparse.Namespace) -> int:
    target = args.target
    try:
        if args.quote:
            path, sep, query = target.partition("?")
            target = quote_path(path) + sep + query
    except ValueError as exc:  # TargetError, or text that is not UTF-8
        raise UsageError(f"TARGET: {exc}") from None
    try:
        if args.scheme == "nginx":
            scheme, remote_addr = nginx(args)
            expires_at = expiry(args, NGINX_DEFAULT_EXPIRES_IN) or 0
            url = scheme.sign(target, expires_at=expires_at, remote_addr=remote_addr)
        else:
            url = sign_url(target, keyring(args), expires_at=expiry(args, None))
    except ValueError as exc:  # TargetError: what the scheme (or nginx) refuses
        raise UsageError(f"TARGET: {exc}") from None
    print(url)
    return EXIT_OK
