"""Metric names that the shipped rules and dashboard use."""

from __future__ import annotations

import json
import re
from typing import Any, Final

import yaml

from tests.support.render import DEPLOY

RULES: Final = DEPLOY / "prometheus" / "edgeward-rules.yml"
RULE_TESTS: Final = sorted((DEPLOY / "prometheus" / "tests").glob("*.test.yml"))
SCRAPE: Final = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD: Final = DEPLOY / "grafana" / "edgeward.json"

_NAME: Final = re.compile(r"\bedgeward_[A-Za-z0-9_]*[A-Za-z0-9]\b")
# Grafana's interval variables, given the values Grafana would give them.
_GRAFANA_VARS: Final = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def names_in(text: str) -> set[str]:
    return set(_NAME.findall(text))


def rule_exprs() -> dict[str, str]:
    """alert name → expression."""
    doc = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"] if "alert" in r}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_exprs() -> dict[str, str]:
    """``panel title / refId`` → expression, Grafana variables substituted."""
    out = {}
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in _GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            out[f"{panel['title']} / {target['refId']}"] = expr
    return out


def used_names() -> dict[str, set[str]]:
    """metric name → where it is used (rules text, annotations included; dashboard)."""
    used: dict[str, set[str]] = {}
    for name in names_in(RULES.read_text()):
        used.setdefault(name, set()).add("rules")
    for where, expr in dashboard_exprs().items():
        for name in names_in(expr):
            used.setdefault(name, set()).add(f"dashboard: {where}")
    return used
