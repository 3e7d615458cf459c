"""``serve``'s start-up: file checks and warnings before binding, sockets bound all or none."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from caldav_gateway.server import (
    INSECURE_WARNING,
    ListenError,
    bind_all,
    check_startup,
    describe,
)
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.tls import CertificateError
from edgeward import pki
from tests.support.gateway import write_htpasswd
from tests.support.net import free_port


def _settings(tmp: Path, htpasswd: str | None = None, **kw: Any) -> GatewaySettings:
    users = tmp / "users"
    if htpasswd is None:
        write_htpasswd(users, {"alice": "pw-1"})
    else:
        users.write_text(htpasswd)
    if not kw.get("insecure_http"):
        leaf = pki.issue(pki.make_ca(), ["localhost"])
        pki.write_pair(leaf, tmp / "key.pem", tmp / "cert.pem")
        kw.setdefault("cert", tmp / "cert.pem")
        kw.setdefault("key", tmp / "key.pem")
    kw.setdefault("collections", tmp / "c")
    return GatewaySettings(htpasswd=users, **kw)


@pytest.mark.parametrize(
    ("htpasswd", "kw", "warnings"),
    [
        (None, {}, []),
        (None, {"insecure_http": True}, [INSECURE_WARNING]),
        ("", {}, ["no users yet; every path but / answers 404"]),
        ("alice:plain-pw\n", {}, ["1 htpasswd entry stored without a hash"]),
        (None, {"principals": ["dav"]}, ["username 'dav' collides with the probe family /dav/"]),
        (None, {"principals": ["DAV"], "policy": "denylist"}, ["this user cannot be served"]),
    ],
)
def test_warnings_said_before_serving(
    tmp_path: Path, htpasswd: str | None, kw: dict[str, Any], warnings: list[str]
) -> None:
    got = check_startup(_settings(tmp_path, htpasswd, **kw))
    assert len(got) == len(warnings)
    for said, expected in zip(got, warnings, strict=True):
        assert expected in said
    assert (tmp_path / "c").is_dir()


@pytest.mark.parametrize(
    ("htpasswd", "break_it", "error", "message"),
    [
        ("alice\n", None, ValueError, "line 1: not a 'user:hash' line"),
        (None, "collections-is-a-file", ValueError, "cannot be the collections folder"),
        (None, "key-of-another-cert", CertificateError, "does not belong to this certificate"),
    ],
)
def test_fatal_problems_are_named_before_binding(
    tmp_path: Path, htpasswd: str | None, break_it: str | None, error: type, message: str
) -> None:
    settings = _settings(tmp_path, htpasswd)
    if break_it == "collections-is-a-file":
        (tmp_path / "c").write_text("not a folder")
    elif break_it == "key-of-another-cert":
        other = pki.issue(pki.make_ca(), ["localhost"])
        (tmp_path / "key.pem").write_bytes(other.key_pem())
    with pytest.raises(error, match=message):
        check_startup(settings)


def test_bind_all_binds_both_or_neither(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics = f"127.0.0.1:{taken.getsockname()[1]}"
        listen = f"127.0.0.1:{free_port()}"
        settings = _settings(tmp_path, listen=listen, metrics_listen=metrics)
        with pytest.raises(ListenError, match=f"cannot listen on {metrics}"):
            bind_all(settings)
    # the CalDAV socket bound first was closed again: its port is free
    with socket.socket() as again:
        again.bind(("127.0.0.1", int(listen.rsplit(":", 1)[1])))


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({}, "serving CalDAV on https://127.0.0.1:{port}/ (1 worker(s), policy principals); "
         "metrics http://127.0.0.1:{metrics}/metrics"),
        ({"insecure_http": True, "metrics_listen": "off", "workers": 3, "policy": "denylist"},
         "serving CalDAV on http://127.0.0.1:{port}/ (3 worker(s), policy denylist); metrics off"),
    ],
)  # fmt: skip
def test_bind_and_describe(tmp_path: Path, kw: dict[str, Any], text: str) -> None:
    kw.setdefault("metrics_listen", f"127.0.0.1:{free_port()}")
    settings = _settings(tmp_path, listen="127.0.0.1:0", **kw)
    sock, metrics_sock = bind_all(settings)
    try:
        assert (metrics_sock is None) is (settings.metrics_listen == "off")
        assert sock.get_inheritable()  # --workers: the forked workers accept on it
        port = sock.getsockname()[1]
        metrics = settings.metrics_listen.rsplit(":", 1)[-1]
        assert describe(settings, sock) == text.format(port=port, metrics=metrics)
    finally:
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()
