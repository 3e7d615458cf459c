"""``signed-url``: make keys, sign URLs, verify them (native or nginx scheme)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import stat
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
from middleware.signed.nginx_scheme import (
    DEFAULT_TEMPLATE,
    MAX_TIME,
    NginxScheme,
)
from middleware.signed.outcome import Verdict
from middleware.signed.quoting import quote_path

log = get_logger("middleware.signed_url")

DESCRIPTION = """\
Sign and verify URLs for SignedURLMiddleware (native scheme: HMAC-SHA256, key ids,
rotation) or for nginx's secure_link module (--scheme nginx: MD5 with a shared secret).

A key file holds lines '<kid> <secret>'; the first key signs, every key verifies.
"""

EPILOG = """\
examples:
  signed-url keygen --kid 2026-11 --out keys.txt   # new key (file 0600); move it to the top to sign
  signed-url sign --keys keys.txt --expires-in 3600 '/media/cat.jpg?w=640'
  signed-url sign --keys keys.txt --quote '/media/a b/été.png'
  signed-url verify --keys keys.txt '/media/cat.jpg?w=640&exp=1893456000&kid=k1&sig=...'
  signed-url sign --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      --expires-at 2147483647 /s/link
  signed-url verify --scheme nginx --secret-file nginx.secret --remote-addr 203.0.113.7 \\
      '/s/link?md5=...&expires=2147483647'

exit codes: 0 done / valid, 1 invalid (the reason is printed), 2 usage or key-file error.
"""

TIME_OPTIONS_NOTE = "unix time T: whole seconds since 1970, at most 9223372036854775807"

NGINX_DEFAULT_EXPIRES_IN = 3600


def build_parser() -> argparse.ArgumentParser:
    p = parser("signed-url", DESCRIPTION, EPILOG)
    sub = subcommands(p)

    keygen = add_subcommand(
        sub,
        "keygen",
        "make a fresh '<kid> <secret>' line (32 random bytes)",
        epilog="examples:\n  signed-url keygen --kid 2026-12 --out /etc/edgeward/keys.txt\n"
        "  signed-url keygen                 # print the line instead",
    )
    keygen.add_argument(
        "--kid",
        default=datetime.now(UTC).strftime("%Y-%m"),
        help="key id: 1-32 of A-Z a-z 0-9 . _ - (default: this month, which makes "
        "rotation easy to follow)",
    )
    keygen.add_argument(
        "--out",
        metavar="FILE",
        help="append the line to FILE, created readable by its owner only (0600); "
        "without it the line is printed",
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
        metavar="SECONDS",
        help=f"link expires SECONDS from now (without --expires-*: native links never "
        f"expire, nginx links expire in {NGINX_DEFAULT_EXPIRES_IN} s)",
    )
    when.add_argument(
        "--expires-at", type=int, metavar="T", help="link expires at " + TIME_OPTIONS_NOTE
    )
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
        "--leeway", type=int, default=0, metavar="SECONDS", help="clock skew forgiven"
    )
    verify.add_argument("--now", type=float, metavar="T", help="check as if at unix time T")
    verify.add_argument(
        "--json",
        action="store_true",
        help="print the verdict as one JSON object (result, ok, reason, kid, exp, target...)",
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


def _keyring(args: argparse.Namespace) -> KeyRing:
    if not args.keys:
        raise UsageError("the native scheme needs --keys FILE (make one with 'signed-url keygen')")
    try:
        return KeyRing.from_file(args.keys)
    except (KeyFileError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"--keys: {exc}") from None


def _nginx(args: argparse.Namespace) -> tuple[NginxScheme, str]:
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
        try:  # nginx's $remote_addr is always an address
            remote_addr = str(ipaddress.ip_address(remote_addr))
        except ValueError:
            raise UsageError(f"--remote-addr: {remote_addr[:60]!r} is not an IP address") from None
    return scheme, remote_addr or ""


def cmd_keygen(args: argparse.Namespace) -> int:
    try:
        line = new_key_line(args.kid)
    except KeyFileError as exc:
        raise UsageError(f"--kid: {exc}") from None
    if args.out is None:
        print(line)
        return EXIT_OK
    _append_private(args.out, line)
    print(f"key {args.kid} appended to {args.out}", file=sys.stderr)
    return EXIT_OK


def _append_private(path: str, line: str) -> None:
    """Append ``line`` to ``path``, a regular file created with mode 0600 (an existing one
    that others can read is refused: a signing key must not be shared by accident)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--out {path}: {detail}") from None
    with os.fdopen(fd, "a", encoding="ascii") as out:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"--out {path}: not a regular file")
        if st.st_mode & 0o077:
            raise UsageError(f"--out {path}: readable by group or others; chmod 600 it first")
        if st.st_size and not _ends_with_newline(path):
            out.write("\n")
        out.write(line + "\n")


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _expiry(args: argparse.Namespace, default_in: int | None) -> int | None:
    """The unix time a new link expires (``None``: never), from --expires-at/--expires-in."""
    if args.expires_at is not None:
        if not 0 < args.expires_at <= MAX_TIME:
            raise UsageError(f"--expires-at: expected a {TIME_OPTIONS_NOTE}, above 0")
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


def cmd_sign(args: argparse.Namespace) -> int:
    target = args.target
    try:
        if args.quote:
            path, sep, query = target.partition("?")
            target = quote_path(path) + sep + query
    except ValueError as exc:  # TargetError, or text that is not UTF-8
        raise UsageError(f"TARGET: {exc}") from None
    try:
        if args.scheme == "nginx":
            scheme, remote_addr = _nginx(args)
            expires_at = _expiry(args, NGINX_DEFAULT_EXPIRES_IN) or 0
            url = scheme.sign(target, expires_at=expires_at, remote_addr=remote_addr)
        else:
            url = sign_url(target, _keyring(args), expires_at=_expiry(args, None))
    except ValueError as exc:  # TargetError: what the scheme (or nginx) refuses
        raise UsageError(f"TARGET: {exc}") from None
    print(url)
    return EXIT_OK


def request_target(url: str) -> bytes:
    """The request-target of a full URL, or the argument itself when it is one."""
    if url.startswith(("http://", "https://")):
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL" and the like
            raise UsageError(f"URL: {exc}: {url[:60]!r}") from None
        url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not url.startswith("/"):
        raise UsageError(f"URL: expected /path?query or an http(s) URL, got {url[:60]!r}")
    try:
        return url.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte decoded to
        return url.encode("utf-8", "surrogatepass")


def cmd_verify(args: argparse.Namespace) -> int:
    if args.leeway < 0 or args.leeway > MAX_TIME:
        raise UsageError("--leeway: expected a number of seconds, 0 or more")
    if args.now is not None and not (math.isfinite(args.now) and 0 <= args.now <= MAX_TIME):
        raise UsageError(f"--now: expected a {TIME_OPTIONS_NOTE}")
    target = request_target(args.url)
    now = time.time() if args.now is None else args.now
    verdict: Verdict
    if args.scheme == "nginx":
        scheme, remote_addr = _nginx(args)
        verdict = scheme.verify(target, remote_addr, now=now, leeway=args.leeway)
    else:
        verdict = verify_url(target, _keyring(args), now=now, leeway=args.leeway)
    print(json.dumps(as_json(verdict)) if args.json else describe(verdict, now))
    return EXIT_OK if verdict.ok else EXIT_FAILED


def as_json(verdict: Verdict) -> dict[str, object]:
    """The verdict as JSON-ready values (``--json``)."""
    f = verdict.finding
    return {
        "result": verdict.result,
        "ok": verdict.ok,
        "reason": verdict.reason,
        "kid": verdict.kid,
        "exp": verdict.exp,
        "exp_utc": _utc(verdict.exp) if verdict.exp is not None else None,
        "target": verdict.target.decode("utf-8", "backslashreplace") if verdict.ok else None,
        "finding": {"kind": f.kind, "offset": f.offset, "evidence_hex": f.evidence_hex}
        if f is not None
        else None,
    }


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
