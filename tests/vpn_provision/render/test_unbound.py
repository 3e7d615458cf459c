"""unbound.conf for both systems, accepted by the real ``unbound-checkconf``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tools import require_tool
from vpn_provision import checks


@pytest.mark.parametrize("system", ["linux", "openbsd"])
def test_unbound_checkconf(out: Path, system: str) -> None:
    require_tool("unbound-checkconf", "unbound")
    conf = out / f"server/{system}/unbound.conf"
    assert checks.unbound_checkconf(conf).status == "ok"
    text = conf.read_text()
    assert "access-control: 0.0.0.0/0 refuse" in text and "interface: 10.77.0.1" in text
    broken = conf.with_name("broken.conf")
    broken.write_text(text.replace("hide-version: yes", "hide-version: maybe"))
    assert checks.unbound_checkconf(broken).status == "failed"
