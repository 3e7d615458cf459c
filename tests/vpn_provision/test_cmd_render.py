"""``vpn-provision render``: the tree, and ``--check`` running the validators."""

from __future__ import annotations

from pathlib import Path

from tests.support.tools import require_tool
from tests.support.vpn import CLI
from vpn_provision.state import State


def test_render_check_command(state: State, tmp_path: Path, cli: CLI) -> None:
    for tool in ("wg", "unbound-checkconf", "iked", "nft", "openssl"):
        require_tool(tool)
    o = tmp_path / "o"
    r = cli(
        "render", "--state", str(state.root), "--out", str(o), "--os", "all", "--check", "--json"
    )
    assert r.code == 0, r.out
    import json

    result = json.loads(r.out)
    statuses = {(c["name"], c["status"]) for c in result["checks"]}
    assert ("iked -n", "ok") in statuses and ("nft -c", "ok") in statuses
    assert all(c["status"] == "ok" for c in result["checks"])
    assert len(result["checks"]) >= 9
