"""Ports and readiness on loopback."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def refused(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP connection to ``host:port`` is refused now (nothing listens there)."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return True
    return False
