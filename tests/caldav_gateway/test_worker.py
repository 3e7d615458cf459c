"""One serving process: uvicorn's settings, and a worker served in-process until SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from caldav_gateway.server import bind_all
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.worker import serve_worker, uvicorn_config
from edgeward import pki
from tests.support.gateway import write_htpasswd
from tests.support.net import free_port, refused


def _settings(tmp: Path, **kw: Any) -> GatewaySettings:
    write_htpasswd(tmp / "users", {"alice": "pw-worker-1"})
    return GatewaySettings(htpasswd=tmp / "users", collections=tmp / "c", **kw)


@pytest.mark.parametrize(("keep_alive", "uvicorn_keep_alive"), [(30.0, 30), (0.2, 1), (2.6, 3)])
def test_uvicorn_faces_clients_directly(
    tmp_path: Path, keep_alive: float, uvicorn_keep_alive: int
) -> None:
    cfg = uvicorn_config(
        _settings(tmp_path, insecure_http=True, keep_alive=keep_alive), app=None, reloader=None
    )  # type: ignore[arg-type]
    assert cfg.timeout_keep_alive == uvicorn_keep_alive
    assert cfg.proxy_headers is False  # never trust X-Forwarded-For on a client-facing port
    assert (cfg.ws, cfg.lifespan, cfg.server_header, cfg.access_log) == (
        "none",
        "off",
        False,
        False,
    )
    assert cfg.ssl_context_factory is None


def test_a_worker_serves_tls_and_metrics_until_sigterm(tmp_path: Path) -> None:
    ca = pki.make_ca("worker test CA")
    pki.write_pair(pki.issue(ca, ["127.0.0.1"]), tmp_path / "key.pem", tmp_path / "cert.pem")
    settings = _settings(
        tmp_path,
        listen="127.0.0.1:0",
        metrics_listen=f"127.0.0.1:{free_port()}",
        cert=tmp_path / "cert.pem",
        key=tmp_path / "key.pem",
    )
    sock, metrics_sock = bind_all(settings)
    port = sock.getsockname()[1]
    verify = ssl.create_default_context(cadata=ca.cert_pem().decode())

    async def main() -> tuple[list[int], str]:
        ready = asyncio.Event()
        worker = asyncio.create_task(
            serve_worker(
                settings,
                sock,
                with_metrics=True,
                radicale_log_level=40,
                metrics_sock=metrics_sock,
                ready=ready.set,
            )
        )
        await asyncio.wait_for(ready.wait(), 60)
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=verify) as c:
            codes = [
                (await c.request("PROPFIND", "/principals/")).status_code,
                (await c.request("PROPFIND", "/")).status_code,
            ]
        async with httpx.AsyncClient() as m:
            metrics = (await m.get(f"http://{settings.metrics_listen}/metrics")).text
        os.kill(os.getpid(), signal.SIGTERM)  # the worker's handler, not the default action
        await asyncio.wait_for(worker, 60)
        return codes, metrics

    codes, metrics = asyncio.run(main())
    assert codes == [404, 401]
    assert 'edgeward_caldav_requests_total{method="PROPFIND",status="404"}' in metrics
    assert sock.fileno() == -1 or refused(port)  # stopped listening on SIGTERM
