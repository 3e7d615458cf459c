"""QR codes of the client configs: each decodes (zbarimg) to its config; drawn in worker
processes they equal a fresh render."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tools import in_ci, require_tool
from tests.support.vpn import run_tool
from vpn_provision.render import render, snapshot
from vpn_provision.state import State


def test_every_qr_code_decodes_to_its_config(out: Path) -> None:
    zbarimg = require_tool("zbarimg", "zbar-tools")
    pngs = sorted(out.glob("clients/*/*.png"))
    assert len(pngs) == 2
    for png in pngs:
        p = run_tool(zbarimg, "--raw", "-q", str(png))
        assert p.returncode == 0, p.stderr
        assert p.stdout == png.with_suffix(".conf").read_text() + "\n"


def test_qr_codes_drawn_in_worker_processes_are_a_fresh_render(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import os

    from vpn_provision.render import tree

    if len(os.sched_getaffinity(0)) < 2:
        if in_ci():  # CI has two cores: the pool must be exercised there
            pytest.fail("one core: the render never starts worker processes")
        pytest.skip("one core: the render never starts worker processes")
    serial = render(dataclasses.replace(snapshot(state), cache=None), ["linux", "openbsd"])
    monkeypatch.setattr(tree, "POOL_MIN", 1)  # alice and bob are enough to use the pool
    drawn = tree._draw_missing(snapshot(state))
    assert sorted(drawn.values()) == sorted(
        serial[f"clients/{n}/{n}.png"].data for n in ("alice", "bob")
    )
    assert render(snapshot(state), ["linux", "openbsd"]) == serial
    assert tree._draw_missing(snapshot(state)) == {}  # every device cached: nothing to draw
