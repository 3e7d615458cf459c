"""Real servers for the tests: uvicorn in a thread, any command as a child process, nginx."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from edgeward.nginx_conf import main_conf, make_prefix
from tests.support.net import free_port, wait_port
from tests.support.tools import require_tool


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a child: SIGTERM, then SIGKILL after 10 s; reaps it either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def uvicorn_server(app: Any, *, host: str = "127.0.0.1", **config: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn in a thread; yields the base URL."""
    port = free_port(host)
    cfg = uvicorn.Config(app, host=host, port=port, log_level="warning", **config)
    server = uvicorn.Server(cfg)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # generous: a loaded machine is slow
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def process(
    argv: Sequence[str],
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30.0,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process; wait until ``port`` listens; stop it (SIGTERM, then SIGKILL)."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        list(argv),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if port is not None:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    detail = log.read_text(errors="replace")[-2000:] if log else ""
                    raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {detail}")
                try:
                    wait_port(port, host, timeout=0.5)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def nginx(http_block: str, tmp: Path, *, extra_main: str = "") -> Iterator[Path]:
    """Run the real nginx with ``http_block`` (the inside of ``http { }``) under ``tmp``.

    ``{prefix}`` in the block is replaced by the prefix folder (logs live in
    ``{prefix}/logs``). Yields the prefix. The block must ``listen`` on 127.0.0.1 ports
    the caller chose with :func:`free_port`.
    """
    binary = require_tool("nginx")
    prefix = tmp / "nginx"
    make_prefix(prefix)
    conf = prefix / "nginx.conf"
    block = http_block.replace("{prefix}", str(prefix))
    conf.write_text(main_conf(prefix, block, extra_main=extra_main))
    check = subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        time.sleep(0.05)
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while not (prefix / "nginx.pid").exists():
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"nginx exited: {err}")
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not write its pid file")
            time.sleep(0.05)
        yield prefix
    finally:
        stop(proc)
