"""One doctor run: TLS first, then probes, then discovery; the password only over trusted TLS."""

from __future__ import annotations

from caldav_gateway.doctor.runner import run_doctor
from caldav_gateway.doctor.target import Target
from edgeward.secrets import Secret
from tests.support.gateway import Gateway


def _group(check_id: str) -> str:
    if check_id.startswith("tls."):
        return "tls"
    if check_id.startswith("discovery."):
        return "discovery"
    return "probes"


def test_the_gateway_passes_in_the_order_a_client_meets_it(gateway: Gateway) -> None:
    target = Target.parse(gateway.url + "/", "alice", Secret(gateway.users["alice"]), gateway.ca)
    report = run_doctor(target)
    assert report.ok, report.to_text()
    groups = [_group(c.id) for c in report.checks]
    assert groups == sorted(groups, key=["tls", "probes", "discovery"].index)
    assert set(groups) == {"tls", "probes", "discovery"}
    assert report.url == target.url


def test_an_untrusted_certificate_fails_tls_and_keeps_the_password_home(gateway: Gateway) -> None:
    # No --ca: the gateway's private CA is not in the system store.
    target = Target.parse(gateway.url + "/", "alice", Secret(gateway.users["alice"]))
    report = run_doctor(target)
    assert not report.ok
    assert any(c.failed for c in report.checks if c.id.startswith("tls."))
    discovery = [c for c in report.checks if c.id.startswith("discovery.")]
    assert discovery and all(c.status == "skip" for c in discovery)
    # the anonymous probes still ran (over the unverified connection) and passed
    probes = [c for c in report.checks if c.id.startswith("probe ")]
    assert probes and all(c.status == "pass" for c in probes)
    assert all("with credentials" not in c.detail for c in probes)
