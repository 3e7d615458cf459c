"""``make run``'s nginx: the shipped ``deploy/nginx`` vhost in front of the demo app.

:func:`prepare` renders the shipped files under ``var/nginx/`` (paths and ports only, see
``edgeward/nginx_conf.py``) with two changes a loopback demo needs: the plain-http
server's redirect keeps the demo's https port, and the syslog copy of the access log is
left out (the demo's ``dpi-watch`` follows the file). nginx runs unprivileged in that
prefix: pid, temp folders, logs and a certificate from a demo CA all live there.

The access log (``var/nginx/logs/edgeward-access.log``, ``edgeward_combined``) is what
``dpi-watch`` reads: a request line nginx refuses (the seed's ``0x80 0x01``) lands there
and in dpi-watch's metrics, though the app never sees it.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from edgeward import pki
from edgeward.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from edgeward.files import atomic_write
from edgeward.nginx_conf import (
    NginxPorts,
    leftover_production_paths,
    main_conf,
    make_prefix,
    render,
)
from edgeward.shipped import deploy_file
from edgeward.which import find_tool

HTTP_PORT: Final = 8080
HTTPS_PORT: Final = 8444
PORTS: Final = NginxPorts(
    http=HTTP_PORT, https=HTTPS_PORT, app=8000, syslog=0, stream=0, gateway=8443
)
ACCESS_LOG: Final = Path("nginx") / "logs" / "edgeward-access.log"
_INCLUDED: Final = ("edgeward-log-formats.conf", "realip.conf")


def _demo_vhost(prefix: Path) -> str:
    text = render(deploy_file("nginx/edgeward-app.conf").read_text(encoding="utf-8"), prefix, PORTS)
    lines = [line for line in text.splitlines() if "access_log syslog:" not in line]
    text = "\n".join(lines) + "\n"
    text = text.replace("https://$host$request_uri", f"https://$host:{HTTPS_PORT}$request_uri")
    leftover = leftover_production_paths(text)
    if leftover:
        raise RuntimeError(f"deploy/nginx/edgeward-app.conf: not rendered: {leftover[0]!r}")
    return text


def _certificate(certs: Path) -> Path:
    """A demo CA (``ca.pem``, for ``curl --cacert``) and a leaf for 127.0.0.1/localhost."""
    ca_file = certs / "ca.pem"
    if not (ca_file.exists() and (certs / "fullchain.pem").exists()):
        ca = pki.make_ca("edgeward demo nginx CA (make run)")
        leaf = pki.issue(ca, ["localhost", "127.0.0.1"], days=3650)
        pki.write_pair(leaf, certs / "privkey.pem", certs / "fullchain.pem")
        atomic_write(ca_file, ca.cert_pem())
    return ca_file


def prepare(var: Path) -> list[str]:
    """Write ``var/nginx/`` (rendered vhost, ``nginx.conf``, certificate); the banner lines."""
    prefix = var / "nginx"
    make_prefix(prefix)
    (prefix / "www").mkdir(exist_ok=True)
    for name in _INCLUDED:
        shipped = deploy_file(f"nginx/{name}").read_text(encoding="utf-8")
        (prefix / "conf" / name).write_text(render(shipped, prefix, PORTS), encoding="utf-8")
    vhost = prefix / "conf" / "edgeward-app.conf"
    vhost.write_text(_demo_vhost(prefix), encoding="utf-8")
    # The http-level access_log catches what no server's own log does: a request line
    # nginx refuses on the plain-http port, before any location is chosen.
    http_block = f"    include {vhost};\n    access_log {var / ACCESS_LOG} edgeward_combined;\n"
    (prefix / "nginx.conf").write_text(main_conf(prefix, http_block), encoding="utf-8")
    ca = _certificate(prefix / "certs")
    if find_tool("nginx") is None:
        return []  # make run leaves the service out and says how to install nginx
    return [
        f"nginx: the shipped deploy/nginx vhost, rendered in {prefix}/conf",
        f"$ curl --cacert {ca} https://127.0.0.1:{HTTPS_PORT}/",
        "$ python -m middleware.demo_nginx --send-corrupted"
        "   # nginx answers 400; dpi-watch counts it:",
        "$ curl -s http://127.0.0.1:9467/metrics | grep '^edgeward_corruption_events_total'",
    ]


# The seed's damage: two characters of the path replaced by 0x80 0x01 on the way.
CORRUPTED_REQUEST: Final = b"GET /media/ca\x80\x01t.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def send_corrupted(port: int = HTTP_PORT, host: str = "127.0.0.1") -> bytes:
    """Send :data:`CORRUPTED_REQUEST` as raw bytes (no client library would); nginx's
    status line."""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(CORRUPTED_REQUEST)
        answer = b""
        while b"\r\n" not in answer and (chunk := conn.recv(4096)):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m middleware.demo_nginx",
        description="Send the seed's corrupted request line (0x80 0x01) to make run's nginx.",
    )
    p.add_argument("--send-corrupted", action="store_true", help="send it and print the answer")
    p.add_argument("--port", type=int, default=HTTP_PORT, help="nginx's port on 127.0.0.1")
    args = p.parse_args(argv)
    if not args.send_corrupted:
        p.print_help()
        return EXIT_USAGE
    try:
        status = send_corrupted(args.port)
    except OSError as exc:
        print(
            f"cannot reach nginx on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return EXIT_FAILED
    print(status.decode("ascii", "replace"))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
