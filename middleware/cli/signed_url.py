"""``signed-url``: make keys, sign URLs, verify them (native or nginx scheme)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from edgeward.cli import EXIT_FAILED, EXIT_OK, UsageError, add_subcommand, parser, run, subcommands
from edgeward.logs import get_logger
from edgeward.secrets import read_secret_file
from middleware.signed.keyring import KeyFileError, KeyRing, new_key_line
from middleware.signed.native import sign_url, verify_url
from middleware.signed.nginx_scheme import DEFAULT_TEMPLATE, NginxScheme, TemplateError
from middleware.signed.outcome import Verdict
from middleware.signed.quoting import TargetError, quote_path

log = get_logger("middleware.signed_url")

DESCRIPTION = """\
Sign and verify URLs for SignedURLMiddleware (native scheme: HMAC-SHA256, key ids,
rotation) or for nginx's secure_link module (--scheme nginx: MD5 with a shared secret).

A key file holds lines '<kid> <secret>'; the first key signs, every key verifies.
"""

EPILOG = """\
examples:
  signed-url keygen --kid 2026-11 >> keys.txt      # new key; move it to the top to sign with it
  signed-url sign --keys keys.txt --expires-in 3600 '/media/cat.jpg?w=640'
  signed-url sign --keys keys.txt --quote '/media/a b/été.png'
  signed-url verify --keys keys.txt '/media/cat.jpg?w=640&exp=1893456000&kid=k1&sig=...'
  signed-url sign --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      --expires-at 2147483647 /s/link
  signed-url verify --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      '/s/link?md5=...&expires=2147483647'

exit codes: 0 done / valid, 1 invalid (the reason is printed), 2 usage or key-file error.
"""

NGINX_DEFAULT_EXPIRES_IN = 3600


def build_parser() -> argparse.ArgumentParser:
    p = parser("signed-url", DESCRIPTION, EPILOG)
    sub = subcommands(p)

    keygen = add_subcommand(
        sub,
        "keygen",
        "print a fresh '<kid> <secret>' line (32 random bytes)",
        epilog="example:\n  signed-url keygen --kid 2026-12 >> /etc/edgeward/keys.txt",
    )
    keygen.add_argument(
        "--kid",
        default=datetime.now(UTC).strftime("%Y-%m"),
        help="key id: 1-32 of A-Z a-z 0-9 . _ - (default: this month, which makes "
        "rotation easy to follow)",
    )

    sign = add_subcommand(
        sub,
        "sign",
        "print the signed URL for a request-target",
        epilog="examples:\n"
        "  signed-url sign --keys keys.txt --expires-in 600 '/media/cat.jpg?w=640'\n"
        "  signed-url sign --scheme nginx --secret-file s.txt --remote-addr 127.0.0.1 /s/link",
    )
    _scheme_options(sign)
    when = sign.add_mutually_exclusive_group()
    when.add_argument(
        "--expires-in",
        type=int,
        metavar="S",
        help=f"link expires S seconds from now (without --expires-*: native links never "
        f"expire, nginx links expire in {NGINX_DEFAULT_EXPIRES_IN} s)",
    )
    when.add_argument("--expires-at", type=int, metavar="T", help="link expires at unix time T")
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

    verify = add_subcommand(
        sub,
        "verify",
        "check a signed URL (exit 0 valid, 1 invalid)",
        epilog="example:\n  signed-url verify --keys keys.txt 'https://example.org/media/x?kid=k1&sig=...'",
    )
    _scheme_options(verify)
    verify.add_argument(
        "--leeway", type=int, default=0, metavar="S", help="seconds of clock skew forgiven"
    )
    verify.add_argument(
        "--now", type=float, default=None, metavar="T", help="check as if at unix time T"
    )
    verify.add_argument(
        "url", metavar="URL", help="a request-target (/path?query) or a full http(s) URL"
    )
    return p


def _scheme_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheme",
        choices=["native", "nginx"],
        default="native",
        help="native: HMAC-SHA256 with --keys; nginx: secure_link_md5 with --secret-file",
    )
    p.add_argument("--keys", metavar="FILE", help="key file (native scheme)")
    p.add_argument(
        "--secret-file", metavar="F", help="file whose first line is nginx's secret (nginx)"
    )
    p.add_argument(
        "--template",
        default=DEFAULT_TEMPLATE,
        help="nginx: the secure_link_md5 expression, with {expires} {uri} {remote_addr} "
        "{secret} for $secure_link_expires $uri $remote_addr and the secret",
    )
    p.add_argument(
        "--remote-addr",
        default=None,
        metavar="A",
        help="nginx: the client address the link is for, when the template uses {remote_addr}",
    )


def _keyring(args: argparse.Namespace) -> KeyRing:
    if not args.keys:
        raise UsageError("the native scheme needs --keys FILE (make one with 'signed-url keygen')")
    try:
        return KeyRing.from_file(args.keys)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None


def _nginx(args: argparse.Namespace) -> tuple[NginxScheme, str]:
    if not args.secret_file:
        raise UsageError("--scheme nginx needs --secret-file F")
    try:
        scheme = NginxScheme(read_secret_file(args.secret_file), args.template)
    except (TemplateError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # a directory, a path too long: read_secret_file names the rest
        raise UsageError(f"--secret-file {args.secret_file}: {exc.strerror or exc}") from None
    if "{remote_addr}" in args.template and args.remote_addr is None:
        raise UsageError("the template uses {remote_addr}: give --remote-addr A")
    return scheme, args.remote_addr or ""


def cmd_keygen(args: argparse.Namespace) -> int:
    try:
        print(new_key_line(args.kid))
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    target = args.target
    try:
        if args.quote:
            path, sep, query = target.partition("?")
            target = quote_path(path) + sep + query
        if args.scheme == "nginx":
            scheme, remote_addr = _nginx(args)
            expires_at = args.expires_at
            if expires_at is None:
                expires_in = args.expires_in or NGINX_DEFAULT_EXPIRES_IN
                expires_at = int(time.time()) + expires_in
            print(scheme.sign(target, expires_at=expires_at, remote_addr=remote_addr))
        else:
            url = sign_url(
                target, _keyring(args), expires_at=args.expires_at, expires_in=args.expires_in
            )
            print(url)
    except (TargetError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def request_target(url: str) -> bytes:
    """The request-target of a full URL, or the argument itself when it is one."""
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not url.startswith("/"):
        raise UsageError(f"expected /path?query or an http(s) URL, got {url[:60]!r}")
    return url.encode("utf-8", "surrogateescape")


def cmd_verify(args: argparse.Namespace) -> int:
    target = request_target(args.url)
    if args.leeway < 0:
        raise UsageError("--leeway must be >= 0")
    now = time.time() if args.now is None else args.now
    verdict: Verdict
    if args.scheme == "nginx":
        scheme, remote_addr = _nginx(args)
        verdict = scheme.verify(target, remote_addr, now=now, leeway=args.leeway)
    else:
        verdict = verify_url(target, _keyring(args), now=now, leeway=args.leeway)
    print(describe(verdict, now))
    return EXIT_OK if verdict.ok else EXIT_FAILED


def describe(verdict: Verdict, now: float) -> str:
    words = [verdict.result if verdict.ok else f"invalid: {verdict.result}", f"({verdict.reason})"]
    if verdict.kid is not None:
        words.append(f"kid={verdict.kid}")
    if verdict.exp is not None:
        delta = verdict.exp - now
        rel = f"in {_span(delta)}" if delta >= 0 else f"{_span(-delta)} ago"
        words.append(f"exp={verdict.exp} ({_utc(verdict.exp)}, {rel})")
    elif verdict.ok:
        words.append("exp=never")
    if verdict.finding is not None:
        f = verdict.finding
        words.append(f"finding={f.kind} offset={f.offset} evidence={f.evidence_hex}")
    return " ".join(words)


def _utc(t: int) -> str:
    """``t`` as an ISO 8601 UTC time; any unix time a link may carry (even past year 9999)."""
    if not 0 <= t <= _LAST_DATETIME:
        return "after year 9999" if t > 0 else "before 1970"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_LAST_DATETIME = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime holds


def _span(seconds: float) -> str:
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


COMMANDS = {"keygen": cmd_keygen, "sign": cmd_sign, "verify": cmd_verify}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
