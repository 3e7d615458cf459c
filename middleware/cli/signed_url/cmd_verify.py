"""``signed-url verify``: check a signed URL; exit 0 valid, 1 invalid."""

from __future__ import annotations

import argparse
import json
import math
import time
from urllib.parse import urlsplit

from edgeward.cli import EXIT_FAILED, EXIT_OK, UsageError
from middleware.cli.signed_url.options import TIME_NOTE, add_scheme_options, keyring, nginx, utc
from middleware.signed.native import verify_url
from middleware.signed.nginx_scheme import MAX_TIME
from middleware.signed.outcome import Verdict

HELP = "check a signed URL (exit 0 valid, 1 invalid)"
EPILOG = """\
examples:
  signed-url verify --keys keys.txt 'https://example.org/media/x?kid=k1&sig=...'
  signed-url verify --json --scheme nginx --secret-file s.txt --remote-addr 127.0.0.1 \\
      '/s/link?md5=...&expires=2147483647'
"""


def add_arguments(verify: argparse.ArgumentParser) -> None:
    add_scheme_options(verify)
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


def run(args: argparse.Namespace) -> int:
    if args.leeway < 0 or args.leeway > MAX_TIME:
        raise UsageError("--leeway: expected a number of seconds, 0 or more")
    if args.now is not None and not (math.isfinite(args.now) and 0 <= args.now <= MAX_TIME):
        raise UsageError(f"--now: expected a {TIME_NOTE}")
    target = request_target(args.url)
    now = time.time() if args.now is None else args.now
    verdict: Verdict
    if args.scheme == "nginx":
        scheme, remote_addr = nginx(args)
        verdict = scheme.verify(target, remote_addr, now=now, leeway=args.leeway)
    else:
        verdict = verify_url(target, keyring(args), now=now, leeway=args.leeway)
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
        "exp_utc": utc(verdict.exp) if verdict.exp is not None else None,
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
        words.append(f"exp={verdict.exp} ({utc(verdict.exp)}, {rel})")
    elif verdict.ok:
        words.append("exp=never")
    if verdict.finding is not None:
        f = verdict.finding
        words.append(f"finding={f.kind} offset={f.offset} evidence={f.evidence_hex}")
    return " ".join(words)


def _span(seconds: float) -> str:
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"
