"""``make run``'s nginx files: the shipped vhost, rendered, passes ``nginx -t`` as written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgeward.nginx_conf import leftover_production_paths
from middleware.demo_nginx import CORRUPTED_REQUEST, HTTPS_PORT, main, prepare
from tests.support.tools import require_tool


def test_prepare_renders_a_config_nginx_accepts(tmp_path: Path) -> None:
    nginx = require_tool("nginx")
    var = tmp_path / "var"
    notes = prepare(var)
    prefix = var / "nginx"
    conf = prefix / "nginx.conf"
    check = subprocess.run(
        [nginx, "-t", "-p", prefix, "-c", conf, "-e", prefix / "logs" / "error.log"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    vhost = (prefix / "conf" / "edgeward-app.conf").read_text()
    assert leftover_production_paths(vhost + conf.read_text()) == []
    assert f"return 301 https://$host:{HTTPS_PORT}$request_uri;" in vhost
    assert "syslog:" not in vhost.replace("# The syslog copy", "")
    assert f"access_log {var}/nginx/logs/edgeward-access.log edgeward_combined;" in conf.read_text()
    assert any(n.startswith("$ python -m middleware.demo_nginx --send-corrupted") for n in notes)
    # Idempotent: a second run keeps the certificate.
    ca = (prefix / "certs" / "ca.pem").read_bytes()
    prepare(var)
    assert (prefix / "certs" / "ca.pem").read_bytes() == ca


def test_the_corrupted_request_carries_the_seed_signature() -> None:
    line = CORRUPTED_REQUEST.split(b"\r\n", 1)[0]
    assert b"\x80\x01" in line and line.endswith(b" HTTP/1.1")


def test_send_corrupted_names_an_unreachable_port(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.net import free_port

    port = free_port()
    assert main(["--send-corrupted", "--port", str(port)]) == 1
    assert capsys.readouterr().err.startswith(f"cannot reach nginx on 127.0.0.1:{port}: ")
