"""deploy/prometheus: promtool checks the config and rules, and runs the rule unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from edgeward.run import URLS
from tests.support.promql import RULE_TESTS, RULES, SCRAPE, rule_exprs
from tests.support.tools import require_tool


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    binary = require_tool("promtool", "prometheus")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_promtool_check_config() -> None:
    result = promtool("check", "config", SCRAPE.name, cwd=SCRAPE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_exprs())} rules found" in result.stdout


def test_promtool_test_rules() -> None:
    assert len(RULE_TESTS) >= 2
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    cases = [c for f in RULE_TESTS for c in yaml.safe_load(f.read_text())["tests"]]
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = set(rule_exprs())
    assert alerts - fires == set(), "alerts without a test where they fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"


def test_rule_tests_catch_broken_alerts(tmp_path: Path) -> None:
    """The unit tests bite: with every alert's expression replaced by one that never
    fires, promtool reports a failure for each alert (one run for all, promtool is slow)."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["expr"] = "vector(0) > 1"
    (tmp_path / RULES.name).write_text(yaml.safe_dump(doc))
    (tmp_path / "tests").mkdir()
    for f in RULE_TESTS:
        shutil.copy(f, tmp_path / "tests" / f.name)
    result = promtool("test", "rules", *(str(tmp_path / "tests" / f.name) for f in RULE_TESTS))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert {a for a in rule_exprs() if f"alertname: {a}," not in output} == set()


def test_scrape_config_covers_every_metrics_port() -> None:
    """Every /metrics of the suite is scraped, on the ports `make run` announces."""
    doc = yaml.safe_load(SCRAPE.read_text())
    targets = {
        t for job in doc["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    expected = {"127.0.0.1:8000", "127.0.0.1:9465", "127.0.0.1:9466", "127.0.0.1:9467"}
    announced = " ".join(URLS.values())
    assert all(t in announced for t in expected), announced
    assert targets == expected
