"""iked.conf, accepted by the real ``iked -n``."""

from __future__ import annotations

from pathlib import Path

from tests.support.tools import require_tool
from vpn_provision import checks


def test_iked_says_configuration_ok(out: Path) -> None:
    require_tool("iked", "openiked")
    result = checks.iked_n(out / "server/openbsd/iked.conf")
    assert result.status == "ok", result.detail
    broken = out / "server/openbsd/broken.conf"
    broken.write_text((out / "server/openbsd/iked.conf").read_text().replace("ecp384", "ecp999"))
    assert checks.iked_n(broken).status == "failed"
