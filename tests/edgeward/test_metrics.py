"""``/metrics``: the ASGI app (one registry, or every worker's files in multiprocess mode)
and the small server on its own address."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from edgeward.metrics import PREFIX, metrics_app, metrics_server, serve_metrics
from edgeward.serving import bind_tcp


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    counter = Counter("edgeward_test_things_total", "Things.", ["kind"], registry=registry)
    counter.labels(kind="a").inc(3)
    return registry


async def _get(app: object, path: str = "/metrics") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


def test_metrics_app_exposes_the_given_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    reply = asyncio.run(_get(metrics_app(_registry())))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert 'edgeward_test_things_total{kind="a"} 3.0' in reply.text
    assert "python_info" not in reply.text  # only the given registry


def test_metrics_app_defaults_to_the_process_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    import middleware.metrics  # noqa: F401  (declares edgeward_* metrics in the default registry)

    text = asyncio.run(_get(metrics_app())).text
    assert "python_info" in text and "edgeward_signed_url_checks_total" in text


def test_multiprocess_mode_reads_the_workers_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In multiprocess mode the app reads the folder's files, not this process's registry:
    an empty folder exposes none of the process's own metrics."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = asyncio.run(_get(metrics_app())).text
    assert "python_info" not in text and "edgeward_" not in text


def test_every_shared_metric_name_has_the_prefix() -> None:
    assert PREFIX == "edgeward_"
    from prometheus_client.registry import REGISTRY

    import middleware.metrics  # noqa: F401

    names = {m.name for m in REGISTRY.collect()}
    ours = {n for n in names if "edgeward" in n}
    assert ours and all(n.startswith(PREFIX) for n in ours)


def test_serve_metrics_on_its_own_address() -> None:
    async def main() -> tuple[int, str, bool]:
        sock = bind_tcp("127.0.0.1:0")
        listen = f"127.0.0.1:{sock.getsockname()[1]}"
        server, task = await serve_metrics(listen, _registry(), sock=sock)
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://{listen}/metrics", timeout=30)
        server.should_exit = True
        await task
        with socket.socket() as probe:
            closed = probe.connect_ex(("127.0.0.1", int(listen.rsplit(":", 1)[1]))) != 0
        return reply.status_code, reply.text, closed

    status, text, closed = asyncio.run(main())
    assert status == 200 and 'edgeward_test_things_total{kind="a"} 3.0' in text
    assert closed  # stopped means stopped listening


def test_serve_metrics_names_a_taken_address() -> None:
    taken = bind_tcp("127.0.0.1:0")
    listen = f"127.0.0.1:{taken.getsockname()[1]}"
    try:
        with pytest.raises(OSError, match=f"cannot listen on {listen}"):
            asyncio.run(serve_metrics(listen, _registry()))
    finally:
        taken.close()


def test_metrics_server_is_quiet_and_embedded() -> None:
    server = metrics_server("127.0.0.1:9999", _registry())
    assert server.config.host == "127.0.0.1" and server.config.port == 9999
    assert server.config.access_log is False and server.config.lifespan == "off"
    with server.capture_signals():  # leaves the program's handlers alone
        pass
