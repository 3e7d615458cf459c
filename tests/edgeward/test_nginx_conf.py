"""The shipped nginx files under a local prefix: the swap table, what must not survive it,
and an unprivileged ``nginx.conf`` the real nginx accepts and runs."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from edgeward.nginx_conf import (
    NginxPorts,
    leftover_production_paths,
    main_conf,
    make_prefix,
    render,
)
from tests.support.net import free_port, wait_port
from tests.support.servers import nginx
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
PORTS = NginxPorts(http=18080, https=18443, app=18000, syslog=15140, stream=18444, gateway=18445)
PREFIX = Path("/tmp/edgeward-prefix")


@pytest.mark.parametrize(
    ("line", "rendered"),
    [
        ("listen 80;", "listen 127.0.0.1:18080;"),
        ("listen 443 ssl;", "listen 127.0.0.1:18443 ssl;"),
        ("listen 192.0.2.10:443;", "listen 127.0.0.1:18444;"),
        ("server 127.0.0.1:8000;", "server 127.0.0.1:18000;"),
        ("server 127.0.0.1:8443;", "server 127.0.0.1:18445;"),
        (
            "access_log syslog:server=127.0.0.1:5140 x;",
            "access_log syslog:server=127.0.0.1:15140 x;",
        ),
        ("include /etc/nginx/edgeward/a.conf;", "include /tmp/edgeward-prefix/conf/a.conf;"),
        (
            "ssl_certificate /etc/letsencrypt/live/example.org/fullchain.pem;",
            "ssl_certificate /tmp/edgeward-prefix/certs/fullchain.pem;",
        ),
        ("access_log /var/log/nginx/a.log;", "access_log /tmp/edgeward-prefix/logs/a.log;"),
        ("root /var/www/letsencrypt;", "root /tmp/edgeward-prefix/www;"),
        ("proxy_set_header Host $host;", "proxy_set_header Host $host;"),  # the rest stays
    ],
)
def test_render_swaps_production_places(line: str, rendered: str) -> None:
    assert render(f"    {line}\n", PREFIX, PORTS) == f"    {rendered}\n"


def test_render_drops_ipv6_listens_and_keeps_their_ipv4_twin() -> None:
    text = "server {\n    listen 80;\n    listen [::]:80;\n}\n"
    assert render(text, PREFIX, PORTS) == "server {\n    listen 127.0.0.1:18080;\n}\n"


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("include /etc/nginx/x.conf;", ["include /etc/nginx/x.conf;"]),
        ("root /srv/www;", ["root /srv/www;"]),
        ("pid /run/nginx.pid;", ["pid /run/nginx.pid;"]),
        ("  # access_log /var/log/nginx/a.log;", []),  # a comment
        ("root /tmp/x; # was /var/www", []),  # a trailing comment
        ("root /tmp/x/etc/y;", []),  # /etc/ inside a local path
        ("return 301 https://example.org/var/x;", []),  # a URL path
        ("root ./opt/x;", []),
    ],
)
def test_leftover_production_paths(text: str, left: list[str]) -> None:
    assert leftover_production_paths(text) == left


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "deploy/nginx").glob("*.conf")))
def test_every_shipped_file_renders_without_production_paths(name: str) -> None:
    text = render((ROOT / "deploy/nginx" / name).read_text(), PREFIX, PORTS)
    assert leftover_production_paths(text) == []


def test_main_conf_keeps_everything_in_the_prefix(tmp_path: Path) -> None:
    prefix = tmp_path / "p"
    make_prefix(prefix)
    assert sorted(p.name for p in prefix.iterdir()) == ["certs", "conf", "logs", "tmp"]
    text = main_conf(prefix, "    # http block", extra_main="worker_rlimit_nofile 1024;")
    assert "daemon off;" in text and f"pid {prefix}/nginx.pid;" in text
    assert f"error_log {prefix}/logs/error.log" in text
    assert "worker_rlimit_nofile 1024;" in text and "    # http block" in text
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f"{kind}_temp_path {prefix}/tmp/" in text
    assert leftover_production_paths(text) == []
    binary = require_tool("nginx")
    (prefix / "nginx.conf").write_text(text)
    check = subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr


def test_main_conf_runs_nginx_unprivileged_in_the_prefix(tmp_path: Path) -> None:
    port = free_port()
    block = (
        f"access_log {{prefix}}/logs/access.log;\n"
        f"server {{ listen 127.0.0.1:{port}; location / {{ return 200 'ok'; }} }}"
    )
    with nginx(block, tmp_path) as prefix:
        wait_port(port, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=30) as reply:
            assert reply.read() == b"ok"
        assert (prefix / "nginx.pid").exists()
    assert "GET /x" in (prefix / "logs" / "access.log").read_text()
