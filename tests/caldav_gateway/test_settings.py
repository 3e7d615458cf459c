"""``gateway.toml`` settings: what a combination must hold, and each key's check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from caldav_gateway.settings import GatewaySettings
from edgeward.config import ConfigError, load_mapping

BASE: dict[str, Any] = {
    "htpasswd": "users",
    "collections": "collections",
    "cert": "cert.pem",
    "key": "key.pem",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, None),
        ({"htpasswd": None}, "htpasswd is required"),
        ({"collections": None}, "collections is required"),
        ({"metrics_listen": "0.0.0.0:8443"}, "metrics_listen must differ from listen"),
        ({"cert": None}, "cert and key are required"),
        ({"key": None}, "cert and key are required"),
        ({"cert": None, "key": None, "insecure_http": True}, None),
        ({"metrics_listen": "off"}, None),
    ],
)
def test_what_a_gateway_needs(change: dict[str, Any], message: str | None) -> None:
    values = {k: Path(v) if isinstance(v, str) else v for k, v in BASE.items()}
    values.update(change)
    if message is None:
        GatewaySettings(**values)
        return
    with pytest.raises(ValueError, match=message):
        GatewaySettings(**values)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("workers", 0, "workers"),
        ("workers", 257, "workers"),
        ("listen", "nohost", "listen"),
        ("metrics_listen", "127.0.0.1:99999", "metrics_listen"),
        ("principals", ["alice", ".."], "'..' is not a username"),
        ("principals", ["a/b"], "'a/b' is not a username"),
        ("principals", [""], "'' is not a username"),
        ("reload_interval", 0, "reload_interval"),
        ("max_xml_depth", 0, "max_xml_depth"),
        ("policy", "allowlist", "policy"),
        ("tls_min_version", "1.1", "tls_min_version"),
        ("throttle", {"limit": 0}, "throttle"),
    ],
)
def test_each_key_is_checked_and_named(tmp_path: Path, key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        load_mapping(GatewaySettings, {**BASE, key: value}, base_dir=tmp_path)
    assert exc.value.source == "<config>" and str(exc.value).startswith("<config>")


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    s = load_mapping(GatewaySettings, BASE, base_dir=tmp_path)
    assert (s.listen, s.metrics_listen, s.workers, s.policy) == (
        "0.0.0.0:8443",
        "127.0.0.1:9465",
        1,
        "principals",
    )
    assert s.htpasswd == tmp_path / "users"  # relative to the file that names it
    assert s.max_xml_depth == 64 and s.max_body == 16 * 1024 * 1024
