"""Settings fuzzed and tabled: bad input is a ``ConfigError`` naming the key, never a
traceback."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeward.config import ConfigError, load_mapping
from vpn_provision.settings import Settings

VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
)
KEYS = st.sampled_from(
    [
        "host",
        "net4",
        "net6",
        "os",
        "wg_port",
        "wg_interface",
        "external_interface",
        "le_cert",
        "le_key",
        "public_url",
        "listen",
        "unknown",
    ]
)


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_settings_errors_are_config_errors(data: dict[str, Any]) -> None:
    message = ""
    try:
        load_mapping(Settings, data, source="settings.toml")
    except ConfigError as exc:
        message = str(exc)
    assert message == "" or message.startswith("settings.toml: ")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("host", "vpn", "fully qualified"),
        ("net4", "10.0.0.0/30", "/29 or larger"),
        ("net6", "fd00::/124", "/120 or larger"),
        ("wg_port", 0, "1 to 65535"),
        ("os", "windows", "one of"),
        ("public_url", "ftp://x", "base URL"),
        ("listen", "localhost", "expected HOST:PORT"),
    ],
)
def test_settings_name_key_and_problem(key: str, value: object, problem: str) -> None:
    data: dict[str, Any] = {"host": "vpn.example.org", "net4": "10.0.0.0/24", "net6": "fd00::/64"}
    data[key] = value
    with pytest.raises(ConfigError) as info:
        load_mapping(Settings, data, source="s.toml")
    assert info.value.key == key and problem in str(info.value)
