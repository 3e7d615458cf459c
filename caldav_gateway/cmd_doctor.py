"""``caldav-gateway doctor``: check a live deployment the way an Apple device meets it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from caldav_gateway.doctor.runner import run_doctor
from caldav_gateway.doctor.target import Target
from edgeward import cli
from edgeward.secrets import read_secret_file

HELP = "check a deployment from the client's side (TLS, probes, discovery)"
DESCRIPTION = """\
Check a running CalDAV server the way Apple's calendar daemons meet it, and print each
check with pass/fail and the fix:

  TLS      the certificate served WITHOUT SNI is valid for the host; the same one with SNI;
           more than 14 days left; TLS 1.2 or later
  probes   /.well-known/caldav redirects (301) to a path that answers; every probe path
           (/principals/, /dav/principals/, /caldav/v2, /calendar/dav/<user>/user/,
           /dav.php, /remote.php/dav/, ...) is 404 and never 401; an anonymous PROPFIND on
           / is 401 with a Basic realm
  discovery  with credentials: current-user-principal -> calendar-home-set -> calendars;
           OPTIONS on the principal announces DAV: calendar-access

  profile  with --profile FILE (a .mobileconfig from 'caldav-gateway profile', signed or
           not): its host, port and principal URL are the ones the server answers on, and
           the certificate served without SNI verifies against the profile's CA payload.
           URL and --user then come from the profile; --password-file adds discovery.

The password is read from a file and never printed; it is only sent once the certificate
checked out. Exit status: 0 all checks passed (warnings allowed), 1 a check failed,
2 bad arguments."""
EPILOG = """\
examples:
  # the make-run demo (private CA under ./var/)
  caldav-gateway doctor https://localhost:8443/ --user demo \\
      --password-file var/caldav/demo-password --ca var/caldav/ca.pem

  # a public deployment, machine-readable
  caldav-gateway doctor https://cal.example.org:8443/ --user alice \\
      --password-file ~/.config/cal.pw --json | jq '.checks[] | select(.status=="fail")'

  # a profile before handing it out (add --password-file for the full discovery)
  caldav-gateway doctor --profile alice.mobileconfig
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: no "(default: None)" in --help for options without a meaningful default.
    p.add_argument(
        "url",
        metavar="URL",
        nargs="?",
        default=argparse.SUPPRESS,
        help="the server as users type it, e.g. https://host:8443/ (with --profile: must match)",
    )
    p.add_argument(
        "--user", default=argparse.SUPPRESS, help="a real account on the server (required)"
    )
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="file whose first line is the password (never given on the command line; "
        "required without --profile)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="check this .mobileconfig against the live server (see above)",
    )
    p.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="trust only this CA (PEM), e.g. a private one (default: the system's trust store)",
    )
    p.add_argument(
        "--timeout",
        type=cli.seconds(most=3600.0),
        default=10.0,
        metavar="SECONDS",
        help="seconds per network operation",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document instead of text",
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "profile", None) is not None:
        from caldav_gateway.doctor.profile_run import run_profile_doctor

        return run_profile_doctor(args)
    missing = [
        name
        for name, attr in (("URL", "url"), ("--user", "user"), ("--password-file", "password_file"))
        if getattr(args, attr, None) is None
    ]
    if missing:
        raise cli.UsageError("missing " + ", ".join(missing) + " (or give --profile FILE)")
    try:
        password = read_secret_file(args.password_file)
    except ValueError as exc:
        raise cli.UsageError(f"--password-file: {exc}") from None
    try:
        target = Target.parse(
            args.url, args.user, password, getattr(args, "ca", None), args.timeout
        )
    except ValueError as exc:
        raise cli.UsageError(str(exc)) from None
    report = run_doctor(target)
    as_json = getattr(args, "json", False)
    print(report.to_json() if as_json else report.to_text(), file=sys.stdout)
    return cli.EXIT_OK if report.ok else cli.EXIT_FAILED
