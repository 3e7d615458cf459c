"""deploy/nginx/vpn-provision.conf in front of a real `vpn-provision serve`: the link works
once through nginx, nothing else is proxied, the link stays out of nginx's access log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.servers import nginx, process
from tests.support.vpn import CLI, serve_argv
from vpn_provision.state import State

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_link_through_nginx(state: State, cli: CLI, tmp_path: Path) -> None:
    serve_port, web_port = free_port(), free_port()
    location = (ROOT / "deploy/nginx/vpn-provision.conf").read_text()
    location = location.replace("127.0.0.1:8600", f"127.0.0.1:{serve_port}")
    block = f"""
    access_log {{prefix}}/logs/access.log;
    server {{
        listen 127.0.0.1:{web_port};
        root {{prefix}}/empty;
{location}
    }}
"""
    target = cli("link", "alice", "--state", str(state.root)).out.split()[0]
    target = target.removeprefix("http://127.0.0.1:8600")
    argv = serve_argv(state.root, serve_port)
    with (
        process(argv, port=serve_port, log=tmp_path / "serve.log"),
        nginx(block, tmp_path) as prefix,
    ):
        (prefix / "empty").mkdir(exist_ok=True)
        base = f"http://127.0.0.1:{web_port}"
        first = httpx.get(base + target)
        assert first.status_code == 200 and "VPN for alice" in first.text
        assert first.headers["cache-control"] == "no-store"
        assert httpx.get(base + target).status_code == 404
        for path in ("/", "/d/", "/metrics", "/state.db"):
            r = httpx.get(base + path)
            assert r.status_code in (403, 404) and "alice" not in r.text
        log = prefix / "logs" / "access.log"
        assert "sig=" not in (log.read_text() if log.exists() else "")
    from vpn_provision.web import store

    rows = store(state).audit_rows()
    assert rows[0].result == "ok" and rows[0].client == "127.0.0.1"
