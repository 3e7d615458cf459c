"""``doctor --profile FILE``: the profile's own checks, then (with a password) the whole
doctor run against the host, port, user and CA the profile gives a device."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from caldav_gateway.doctor.profile_checks import check_profile, read_profile
from caldav_gateway.doctor.report import Report, failed
from caldav_gateway.doctor.runner import run_doctor
from caldav_gateway.doctor.target import Target
from edgeward import cli
from edgeward.secrets import Secret, read_secret_file


def run_profile_doctor(args: argparse.Namespace) -> int:
    try:
        facts = read_profile(args.profile)
    except ValueError as exc:
        raise cli.UsageError(f"--profile {exc}") from None
    url = getattr(args, "url", None)
    user = getattr(args, "user", None) or facts.user
    password_file = getattr(args, "password_file", None)
    try:
        password = read_secret_file(password_file) if password_file is not None else None
    except ValueError as exc:
        raise cli.UsageError(f"--password-file {exc}") from None
    report = Report(f"{args.profile} → {facts.origin}{facts.principal_path}")
    if url is not None:
        try:
            given = Target.parse(url, user, Secret(""))
        except ValueError as exc:
            raise cli.UsageError(str(exc)) from None
        if (given.host.lower(), given.port) != (facts.host.lower(), facts.port):
            report.checks.append(
                failed(
                    "profile.host",
                    "profile points at the given server",
                    f"profile: {facts.host}:{facts.port}, given: {given.host}:{given.port}",
                    "make the profile again with the right --host/--port",
                )
            )
    with contextlib.ExitStack() as stack:
        authed = None
        if password is not None:
            ca: Path | None = None
            if facts.roots:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                ca = folder / "profile-ca.pem"
                ca.write_bytes(facts.roots_pem())
            target = Target.parse(
                facts.origin + facts.principal_path, user, password, ca, args.timeout
            )
            full = run_doctor(target)
            tls_ok = not any(c.failed for c in full.checks if c.id.startswith("tls."))
            if tls_ok:
                authed = stack.enter_context(target.client(trusted=True, with_auth=True))
        report.checks.extend(check_profile(facts, args.timeout, authed))
        if password is not None:
            report.checks.extend(full.checks)
    print(report.to_json() if args.json else report.to_text(), file=sys.stdout)
    return cli.EXIT_OK if report.ok else cli.EXIT_FAILED
