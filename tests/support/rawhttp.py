"""A raw HTTP/1.1 client: sends the request-target byte for byte (httpx would normalise
dot segments and re-encode), optionally from another loopback source address."""

from __future__ import annotations

import socket


def fetch(port: int, target: bytes, *, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """GET ``target`` from 127.0.0.1:``port``: the status code and the body."""
    address = ("127.0.0.1", port)
    with socket.create_connection(address, timeout=10, source_address=(source, 0)) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def get(port: int, target: bytes, *, source: str = "127.0.0.1") -> int:
    return fetch(port, target, source=source)[0]
