"""`vpn-provision list`: active devices, or all with ``--all``; never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.vpn import CLI, make_state
from vpn_provision.state import State


@pytest.mark.parametrize(
    ("extra", "names"), [([], ["alice", "bob"]), (["--all"], ["alice", "bob", "carol"])]
)
def test_list_json(state: State, cli: CLI, extra: list[str], names: list[str]) -> None:
    r = cli("list", "--state", str(state.root), "--json", *extra)
    assert r.code == 0, r.err
    listed = json.loads(r.out)
    assert [d["name"] for d in listed] == names
    assert [d["removed"] is not None for d in listed] == [n == "carol" for n in names]
    assert "private" not in r.out and "p12_password" not in r.out


def test_list_text_one_line_per_device(state: State, cli: CLI) -> None:
    lines = cli("list", "--state", str(state.root), "--all").out.splitlines()
    assert [line.split()[0] for line in lines] == ["alice", "bob", "carol"]
    assert "10.77.0.2" in lines[0] and "fd77::2" in lines[0]
    assert "removed" in lines[2] and "removed" not in lines[0]


def test_an_empty_state_says_how_to_add(tmp_path: Path, cli: CLI) -> None:
    make_state(tmp_path / "st").close()
    r = cli("list", "--state", str(tmp_path / "st"))
    assert r.code == 0 and "vpn-provision add" in r.out
    assert json.loads(cli("list", "--state", str(tmp_path / "st"), "--json").out) == []
