"""Parsers fuzzed: settings, device names, wg-quick stripping, cache files. Bad input is
a clear error (or a cache miss), never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeward.cli import UsageError
from edgeward.config import ConfigError, load_mapping
from vpn_provision.render.cache import Entry, parse
from vpn_provision.render.wireguard import strip_wg_quick
from vpn_provision.settings import Settings
from vpn_provision.state import check_device_name

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


@given(st.text(max_size=40))
def test_device_names_are_checked_never_crash(name: str) -> None:
    try:
        check_device_name(name)
    except UsageError:
        return
    assert name == name.lower() and "/" not in name and " " not in name and 0 < len(name) <= 32


@given(st.text(max_size=300))
def test_strip_wg_quick_is_idempotent_and_drops_only_wg_quick_keys(text: str) -> None:
    once = strip_wg_quick(text)
    assert strip_wg_quick(once) == once
    for line in once.splitlines():
        if "=" in line:
            assert line.split("=", 1)[0].strip().lower() not in {"address", "dns", "postup"}


@given(st.binary(max_size=200))
def test_a_damaged_cache_file_is_a_miss(raw: bytes) -> None:
    result = parse(raw)
    assert result is None or all(isinstance(e, Entry) for e in result.values())


def test_cache_round_trip() -> None:
    from vpn_provision.render.cache import ClientCache

    assert parse(b"a.conf 600 3\nabcb.png 644 0\n") == {
        "a.conf": Entry(b"abc", 0o600),
        "b.png": Entry(b"", 0o644),
    }
    assert parse(b"a.conf 600 9\nabc") is None  # truncated
    assert ClientCache  # the writer is exercised by the render tests
