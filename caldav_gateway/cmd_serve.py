"""``caldav-gateway serve``: Radicale on a dedicated port that Apple devices never re-prompt on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from caldav_gateway.settings import GatewaySettings
from caldav_gateway.tls import CertificateError
from edgeward import cli
from edgeward.config import ConfigError, load_mapping, read_toml

HELP = "serve CalDAV (embedded Radicale) over TLS on a dedicated port"
DESCRIPTION = """\
Serve Radicale on its own IP:port with one TLS certificate for every client (Apple daemons
that omit SNI get the right one too). /.well-known/caldav redirects to /, / and the paths of
real users go to Radicale, and every other path (Apple's probes: /principals/, /dav/...,
/caldav/v2, /calendar/dav/...) answers 404 — never 401, so devices never re-prompt.
Flags override the values of --config. The certificate files are re-read when they change.
"""
EPILOG = """\
examples:
  # the usual deployment (certbot renews the files; no restart needed)
  caldav-gateway serve --cert /etc/letsencrypt/live/cal.example.org/fullchain.pem \\
      --key /etc/letsencrypt/live/cal.example.org/privkey.pem \\
      --htpasswd /etc/caldav-gateway/users --collections /var/lib/caldav-gateway

  # everything in a file, two worker processes
  caldav-gateway serve --config /etc/caldav-gateway/gateway.toml --workers 2

  # create a user (bcrypt) for --htpasswd
  htpasswd -B -c /etc/caldav-gateway/users alice

then point the device at the bare host (https://cal.example.org:8443): discovery follows
/.well-known/caldav. Metrics: curl http://127.0.0.1:9465/metrics
policy: 'principals' (default) serves only / and users' own paths; usernames become
discoverable (401 for a real user, 404 otherwise). 'denylist' answers 404 only for known
probe families and hides usernames, but a probe nobody has seen yet may get 401.

exit codes: 0 stopped by SIGINT/SIGTERM; 1 a port could not be bound (the message names
it) or workers kept dying; 2 a configuration error (file, key or flag named).
"""

# Flag → settings key; flags given on the command line override --config.
_FLAGS = (
    "listen",
    "cert",
    "key",
    "htpasswd",
    "collections",
    "metrics_listen",
    "insecure_http",
    "web",
    "workers",
    "policy",
    "principals",
    "tls_min_version",
)
_PATHS = ("cert", "key", "htpasswd", "collections")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Absent flags stay absent (not None), so that --config supplies their values and
    # --help shows the real defaults written in each help text.
    p.argument_default = argparse.SUPPRESS
    p.add_argument("--config", metavar="FILE", help="gateway.toml with the settings")
    p.add_argument("--listen", metavar="HOST:PORT", help="CalDAV port (default 0.0.0.0:8443)")
    p.add_argument(
        "--cert", metavar="FILE", help="PEM certificate with its chain, served to everyone"
    )
    p.add_argument("--key", metavar="FILE", help="PEM private key of the certificate")
    p.add_argument(
        "--htpasswd", metavar="FILE", help="users (bcrypt or SHA-512 hashes; re-read on change)"
    )
    p.add_argument("--collections", metavar="DIR", help="where Radicale stores the calendars")
    p.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="/metrics address, never the CalDAV port (default 127.0.0.1:9465; 'off')",
    )
    p.add_argument(
        "--insecure-http",
        action="store_true",
        help="plain HTTP for local experiments (Apple clients will not send passwords over it)",
    )
    p.add_argument(
        "--web",
        action="store_true",
        help="also serve Radicale's web interface under /.web",
    )
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")
    p.add_argument(
        "--policy",
        choices=["principals", "denylist"],
        help="which paths reach Radicale (default principals; see below)",
    )
    p.add_argument(
        "--principal",
        dest="principals",
        action="append",
        metavar="USER",
        help="serve this user's path (repeat; default: every user of --htpasswd)",
    )
    p.add_argument(
        "--tls-min-version", choices=["1.2", "1.3"], help="oldest TLS accepted (default 1.2)"
    )


def settings_from(args: argparse.Namespace) -> GatewaySettings:
    """Merge --config and the flags, validated by one schema (errors name file and key)."""
    data: dict[str, Any] = {}
    source = "command line"
    base = Path.cwd()
    given: str | None = getattr(args, "config", None)
    if given is not None and (not str(given).strip() or "\x00" in str(given)):
        raise ConfigError("command line", "--config", f"expected a path, got {given!r}")
    config = Path(given) if given is not None else None
    if config is not None:
        source = f"{config} (and command-line flags)"
        base = config.resolve().parent
        data = read_toml(config)
    for name in _FLAGS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name in _PATHS and (not str(value).strip() or "\x00" in str(value)):
            raise ConfigError("command line", f"--{name}", f"expected a path, got {value!r}")
        # Relative paths from the command line are relative to where it was typed.
        data[name] = str(Path(value).resolve()) if name in _PATHS else value
    return load_mapping(GatewaySettings, data, source=source, base_dir=base)


def run(args: argparse.Namespace) -> int:
    from caldav_gateway import server  # Radicale is imported only when serving

    settings = settings_from(args)
    try:
        return server.serve(
            settings,
            log_level=getattr(args, "log_level", "info"),
            log_format=getattr(args, "log_format", "text"),
        )
    except CertificateError as exc:
        raise cli.UsageError(str(exc)) from None
    except ValueError as exc:  # unreadable htpasswd and the like: names the file
        raise cli.UsageError(str(exc)) from None
    except RuntimeError as exc:  # Radicale's way of refusing its configuration
        raise cli.UsageError(f"Radicale refused to start: {exc}") from None
    except server.ListenError as exc:  # names the address itself
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_FAILED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return cli.EXIT_FAILED
