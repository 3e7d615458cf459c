"""Run every group of checks against one target, in the order an Apple client would meet them."""

from __future__ import annotations

import contextlib
import logging

from caldav_gateway.doctor.discovery_checks import check_discovery
from caldav_gateway.doctor.probe_checks import all_probe_checks
from caldav_gateway.doctor.report import Report
from caldav_gateway.doctor.target import Target
from caldav_gateway.doctor.tls_checks import check_tls
from edgeward.logs import get_logger

log = get_logger("caldav_gateway.doctor")


def run_doctor(target: Target) -> Report:
    # httpx logs every request at INFO; the report already lists what matters.
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.WARNING)
    report = Report(target.url)
    log.info("checking TLS on %s:%s", target.host, target.port)
    tls = check_tls(target)
    report.checks.extend(tls.checks)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(target.client(trusted=tls.trusted))
        # The password only travels over a connection whose certificate checked out.
        authed = (
            stack.enter_context(target.client(trusted=True, with_auth=True))
            if tls.trusted
            else None
        )
        log.info("checking the well-known redirect and the probe paths")
        report.checks.extend(all_probe_checks(target, client, authed))
        log.info("checking discovery as %s", target.user)
        report.checks.extend(check_discovery(target, authed))
    bad = [c.id for c in report.checks if c.failed]
    if bad:
        log.warning("%d checks failed: %s", len(bad), ", ".join(bad))
    return report
