"""The demo app of ``make run`` carries the sensor: a damaged link shows up at /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import uvicorn_server


def test_the_demo_counts_a_damaged_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path))
    from middleware.demo import build_app

    app = build_app()
    with uvicorn_server(app) as url, httpx.Client() as client:
        home = client.get(url + "/")
        assert "/media/IMG_20%80%01.jpg" in home.text
        damaged = client.get(url + "/media/IMG_20%80%01.jpg")
        assert damaged.status_code == 400  # SignedURLMiddleware: corrupted, not forged
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while True:
            metrics = client.get(url + "/metrics").text
            seen = [
                line
                for line in metrics.splitlines()
                if line.startswith("edgeward_corruption_events_total{")
                and 'kind="dpi_signature"' in line
                and 'source="asgi"' in line
            ]
            if seen or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert seen, "no corruption event at /metrics"
    assert 'edgeward_requests_by_asn_total{asn="unknown"}' in metrics
    events = (tmp_path / "middleware" / "corruption.jsonl").read_text()
    assert '"kind": "dpi_signature"' in events and '"detail": "path"' in events
