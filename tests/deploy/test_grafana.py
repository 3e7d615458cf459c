"""deploy/grafana: the dashboard is well-formed and every query is valid PromQL.

Grafana is not installed here; promtool is. Each panel query (Grafana's interval variables
given values) becomes a recording rule, and ``promtool check rules`` parses it with
Prometheus' own PromQL parser.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.promql import dashboard, dashboard_exprs
from tests.support.tools import require_tool


def test_dashboard_is_well_formed() -> None:
    d = dashboard()
    assert d["uid"] and d["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource"}
    for panel in d["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel.get("description"), panel["title"]


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & taken, panel["title"]
        taken |= cells


def test_dashboard_covers_the_three_tools() -> None:
    text = " ".join(dashboard_exprs().values())
    for prefix in (
        "edgeward_corruption_",
        "edgeward_signed_url_",
        "edgeward_caldav_",
        "edgeward_printer_",
    ):
        assert prefix in text


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    binary = require_tool("promtool", "prometheus")
    exprs = dashboard_exprs()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": e}
                    for i, e in enumerate(exprs.values())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
    # The check is real: a broken query is refused.
    rules["groups"][0]["rules"] = [{"record": "dashboard:broken", "expr": "sum by (asn (x)"}]
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
