"""The VPN tool's metrics: every download result exists from the start; device and link
counts are read from the state when scraped, through one collector per process."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from edgeward.onetime import RESULTS
from vpn_provision import metrics


def test_every_download_result_is_exported_before_it_happens() -> None:
    text = generate_latest(REGISTRY).decode()
    for result in RESULTS:
        assert f'edgeward_vpn_downloads_total{{result="{result}"}}' in text


def test_state_counts_are_read_at_scrape_time_and_registered_once() -> None:
    counts = {"devices": 3, "links": 7}
    metrics.register_state(lambda: counts["devices"], lambda: counts["links"])
    metrics.register_state(lambda: counts["devices"], lambda: counts["links"])  # re-pointed
    assert REGISTRY.get_sample_value("edgeward_vpn_devices") == 3
    counts.update(devices=2, links=8)
    assert REGISTRY.get_sample_value("edgeward_vpn_devices") == 2
    assert REGISTRY.get_sample_value("edgeward_vpn_links_issued_total") == 8
    text = generate_latest(REGISTRY).decode()
    assert text.count("# TYPE edgeward_vpn_devices gauge") == 1
