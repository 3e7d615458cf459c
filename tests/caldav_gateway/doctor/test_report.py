"""The doctor's report: verdict, counts, and text that says each fix once."""

from __future__ import annotations

import json

import pytest

from caldav_gateway.doctor.report import Check, Report, failed, passed

FIX = "answer 404 for every path that is not / or a real principal"


@pytest.mark.parametrize(
    ("statuses", "ok", "verdict"),
    [
        ([], True, "OK: 0 passed, 0 failed, 0 warnings, 0 skipped"),
        (["pass", "warn", "skip"], True, "OK: 1 passed, 0 failed, 1 warnings, 1 skipped"),
        (["pass", "fail"], False, "FAILED: 1 passed, 1 failed, 0 warnings, 0 skipped"),
        (["fail", "fail", "skip"], False, "FAILED: 0 passed, 2 failed, 0 warnings, 1 skipped"),
    ],
)
def test_verdict_and_counts(statuses: list[str], ok: bool, verdict: str) -> None:
    report = Report("https://cal.test:8443/")
    report.checks = [Check(f"c{i}", "t", s, "d") for i, s in enumerate(statuses)]  # type: ignore[arg-type]
    assert report.ok is ok
    text = report.to_text()
    assert text.splitlines()[0] == "caldav-gateway doctor: https://cal.test:8443/"
    assert text.splitlines()[-1] == verdict
    doc = json.loads(report.to_json())
    assert doc["ok"] is ok and doc["url"] == "https://cal.test:8443/"
    assert sum(doc["counts"].values()) == len(statuses)
    assert [c["status"] for c in doc["checks"]] == statuses


def test_helpers_build_the_two_common_checks() -> None:
    assert passed("a", "title", "detail") == Check("a", "title", "pass", "detail", "")
    bad = failed("b", "title", "detail", FIX)
    assert bad.failed and bad.fix == FIX
    assert not passed("a", "t", "d").failed


def test_a_fix_shared_by_consecutive_failures_is_written_once() -> None:
    report = Report("u")
    report.checks = [
        failed("probe /principals/", "probe path", "→ 401", FIX),
        failed("probe /dav/", "probe path", "→ 401", FIX),
        passed("well-known", "redirect", "301"),
        Check("tls.expiry", "expiry", "warn", "12 days left", "renew"),
        Check("discovery.home", "home", "skip", "needs principal", "never shown"),
    ]
    lines = report.to_text().splitlines()
    assert lines[1].startswith("FAIL  probe /principals/")
    assert lines[2] == f"      fix: {FIX}"
    assert lines[4] == "      fix: (as above)"
    assert "      fix: renew" in lines
    assert "never shown" not in report.to_text()  # a skipped check has nothing to fix
