"""deploy/nginx: every file passes ``nginx -t``; a request goes through the shipped vhost.

The files are rendered under a temporary prefix (paths and ports only, see render.py);
the real nginx then judges the real directives, and the end-to-end test sends real
requests through them to a real uvicorn serving the demo app, and checks that both edge
sensors (``dpi-watch tail`` on the log file, ``dpi-watch syslog`` on nginx's datagrams)
count every line and the corrupted one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from edgeward import pki
from middleware.demo import app as demo_app
from middleware.edge.nginx_log import parse_combined
from tests.support.net import free_port
from tests.support.render import (
    DEPLOY,
    LOG_FORMATS,
    NGINX_DIR,
    NginxPorts,
    leftover_production_paths,
    render_nginx,
)
from tests.support.servers import nginx, uvicorn_server
from tests.support.services import BIN, sample, scrape, started
from tests.support.tools import in_ci, require_tool

STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
LINK_SECRET = "test-link-secret-not-for-production"
# The test's client connects from 127.0.0.1, which stands in for the trusted front proxy.
TRUST_LOOPBACK = "set_real_ip_from 127.0.0.1;\n"


def _ports(app: int = 1) -> NginxPorts:
    udp = free_port(kind=socket.SOCK_DGRAM)
    return NginxPorts(free_port(), free_port(), app, udp, free_port(), free_port())


@dataclass(frozen=True)
class Site:
    prefix: Path
    conf: Path  # the rendered edgeward-app.conf
    ca: pki.Issued


def write_site(prefix: Path, ports: NginxPorts, *, secure_link: bool) -> Site:
    """The shipped nginx files, rendered into ``prefix`` the way deploy/README.md installs them."""
    conf_dir = prefix / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (prefix / "logs").mkdir(exist_ok=True)
    (prefix / "www").mkdir(exist_ok=True)
    for name in ("edgeward-log-formats.conf", "realip.conf", "secure-link.conf"):
        text = render_nginx((NGINX_DIR / name).read_text(), prefix, ports)
        if name == "realip.conf":
            text += TRUST_LOOPBACK
        (conf_dir / name).write_text(text)
    secret = (NGINX_DIR / "secure-link-secret.conf.example").read_text()
    secret = secret.replace("replace-with-a-long-random-secret", LINK_SECRET)
    (conf_dir / "secure-link-secret.conf").write_text(secret)
    app_conf = (NGINX_DIR / "edgeward-app.conf").read_text()
    if secure_link:
        app_conf = app_conf.replace(
            "# include /etc/nginx/edgeward/secure-link.conf;",
            "include /etc/nginx/edgeward/secure-link.conf;",
        )
    rendered = render_nginx(app_conf, prefix, ports)
    assert leftover_production_paths(rendered) == []
    conf = conf_dir / "edgeward-app.conf"
    conf.write_text(rendered)
    ca = pki.make_ca("edgeward test CA")
    leaf = pki.issue(ca, ["example.org", "127.0.0.1"])
    pki.write_pair(leaf, prefix / "certs" / "privkey.pem", prefix / "certs" / "fullchain.pem")
    return Site(prefix, conf, ca)


def nginx_t(main_conf: str, prefix: Path) -> subprocess.CompletedProcess[str]:
    binary = require_tool("nginx")
    conf = prefix / "nginx-t.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{user}pid {prefix}/t.pid;\nerror_log {prefix}/logs/t-error.log;\n{main_conf}")
    return subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )


def _http(block: str, prefix: Path) -> str:
    return (
        "events { worker_connections 64; }\n"
        f"http {{\n  client_body_temp_path {prefix}/tmp-body;\n"
        f"  proxy_temp_path {prefix}/tmp-proxy;\n{block}\n}}\n"
    )


def _stream_module() -> str:
    if not STREAM_MODULE.exists():
        hint = "apt-get install -y libnginx-mod-stream"
        if in_ci():
            pytest.fail(f"nginx's stream module is required in CI ({hint}; see .ci/run)")
        pytest.skip(f"nginx's stream module missing ({hint})")
    return f"load_module {STREAM_MODULE};\n"


def test_log_formats_file_has_both_formats() -> None:
    text = LOG_FORMATS.read_text()
    assert re.search(r"log_format\s+edgeward_json\s+escape=json", text)
    assert "edgeward_combined" in text


def test_dpi_watch_flags_named_in_nginx_files_exist() -> None:
    """A comment telling the reader to run ``dpi-watch ... --flag`` names a real flag."""
    helps = "".join(
        subprocess.run(
            [str(BIN / "dpi-watch"), sub, "--help"], capture_output=True, text=True, check=True
        ).stdout
        for sub in ("tail", "syslog")
    )
    known = set(re.findall(r"--[a-z][a-z-]*", helps))
    files = [*sorted((DEPLOY / "nginx").glob("*.conf")), DEPLOY / "k8s" / "app.yaml"]
    named = {
        (f.name, flag)
        for f in files
        for cmd in re.findall(r"dpi-watch[^`\n]*", f.read_text())
        for flag in re.findall(r"--[a-z][a-z-]*", cmd)
    }
    assert named, "no dpi-watch command found in the nginx files"
    assert {(f, flag) for f, flag in named if flag not in known} == set()


@pytest.mark.parametrize("secure_link", [False, True], ids=["plain", "with-secure-link"])
def test_app_vhost_passes_nginx_t(tmp_path: Path, secure_link: bool) -> None:
    site = write_site(tmp_path, _ports(), secure_link=secure_link)
    result = nginx_t(_http(f"include {site.conf};", tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@pytest.mark.parametrize(
    ("name", "context"),
    [
        ("edgeward-log-formats.conf", "http"),
        ("realip.conf", "server"),
        ("secure-link.conf", "server"),
        ("caldav-stream.conf", "main"),
    ],
)
def test_each_file_passes_nginx_t_in_its_context(tmp_path: Path, name: str, context: str) -> None:
    ports = _ports()
    site = write_site(tmp_path, ports, secure_link=False)
    included = tmp_path / "conf" / f"only-{name}"
    included.write_text(render_nginx((NGINX_DIR / name).read_text(), tmp_path, ports))
    assert leftover_production_paths(included.read_text()) == []
    if context == "main":
        main = _stream_module() + "events { worker_connections 64; }\n" + f"include {included};\n"
    elif context == "http":
        main = _http(f"include {included};", tmp_path)
    else:
        server = f"server {{ listen 127.0.0.1:{ports.http}; include {included}; }}"
        upstream = f"upstream edgeward_app {{ server 127.0.0.1:{ports.app}; }}"
        main = _http(f"{upstream}\n{server}", tmp_path)
    result = nginx_t(main, tmp_path)
    assert result.returncode == 0, result.stderr
    assert site.prefix == tmp_path


def test_a_broken_file_fails_nginx_t(tmp_path: Path) -> None:
    """The check is real: the same rendering with one directive misspelt is refused."""
    site = write_site(tmp_path, _ports(), secure_link=False)
    text = site.conf.read_text()
    broken = re.sub(r"^(\s*)proxy_pass ", r"\1proxy_passs ", text, count=1, flags=re.M)
    site.conf.write_text(broken)
    result = nginx_t(_http(f"include {site.conf};", tmp_path), tmp_path)
    assert result.returncode != 0
    assert "proxy_passs" in result.stderr


def nginx_token(expires: int, uri: str, remote_addr: str, secret: str) -> str:
    """nginx's secure_link_md5 token for the shipped expression (public formula)."""
    digest = hashlib.md5(f"{expires}{uri}{remote_addr} {secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Running:
    site: Site
    ports: NginxPorts
    syslog_metrics: int  # dpi-watch syslog, fed by nginx's access_log syslog:
    tail_metrics: int  # dpi-watch tail, following the access log file


@pytest.fixture
def running_site(tmp_path: Path) -> Iterator[Running]:
    syslog_metrics, tail_metrics = free_port(), free_port()
    with uvicorn_server(demo_app) as base:
        app_port = int(base.rsplit(":", 1)[1])
        ports = NginxPorts(
            free_port(),
            free_port(),
            app_port,
            free_port(kind=socket.SOCK_DGRAM),
            free_port(),
            free_port(),
        )
        prefix = tmp_path / "nginx"
        site = write_site(prefix, ports, secure_link=True)
        listen = [
            str(BIN / "dpi-watch"),
            "syslog",
            "--listen",
            f"127.0.0.1:{ports.syslog}",
            "--nginx-format",
            "json",
            "--metrics-listen",
            f"127.0.0.1:{syslog_metrics}",
        ]
        with (
            started(listen, syslog_metrics, tmp_path / "dpi-syslog.log"),
            nginx(f"include {site.conf};", tmp_path),
        ):
            tail = [
                str(BIN / "dpi-watch"),
                "tail",
                str(prefix / "logs" / "edgeward-access.log"),
                "--from-start",
                "--metrics-listen",
                f"127.0.0.1:{tail_metrics}",
            ]
            with started(tail, tail_metrics, tmp_path / "dpi-tail.log"):
                yield Running(site, ports, syslog_metrics, tail_metrics)


def _edge_counts(port: int) -> tuple[float, float]:
    """(requests seen, dpi_signature events) from a dpi-watch's /metrics."""
    text = scrape(port)
    return (
        sample(text, "edgeward_requests_by_asn_total"),
        sample(text, "edgeward_corruption_events_total", kind="dpi_signature", source="edge"),
    )


def _raw_tls(port: int, request: bytes, ca: pki.Issued, tmp: Path) -> bytes:
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca.cert_pem())
    ctx = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname="example.org") as tls,
    ):
        tls.sendall(request)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return data


@pytest.mark.slow
def test_request_through_shipped_vhost_reaches_app_and_dpi_watch(
    running_site: Running, tmp_path: Path
) -> None:
    site, ports = running_site.site, running_site.ports
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(site.ca.cert_pem())
    client = "203.0.113.7"
    tls = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(verify=tls, timeout=30) as http:
        base = f"https://127.0.0.1:{ports.https}"
        headers = {"Host": "example.org", "X-Forwarded-For": client}
        home = http.get(f"{base}/", headers=headers)
        assert home.status_code == 200
        assert "edgeward demo" in home.text

        # /metrics is for Prometheus on loopback, not for the world.
        assert http.get(f"{base}/metrics", headers=headers).status_code == 404

        # Port 80 sends everything to https, keeping the request target.
        plain = httpx.get(
            f"http://127.0.0.1:{ports.http}/a?b=c", headers={"Host": "example.org"}, timeout=30
        )
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://example.org/a?b=c"

        # secure_link: nginx answers 403/410 itself; a valid link reaches the app.
        future = int(time.time()) + 600
        good = nginx_token(future, "/media/cat.jpg", client, LINK_SECRET)
        cases = {
            f"/media/cat.jpg?md5={good}&expires={future}": "app",
            f"/media/dog.jpg?md5={good}&expires={future}": 403,
            f"/media/cat.jpg?md5={good[:-2]}AA&expires={future}": 403,
            f"/media/cat.jpg?md5={good}&expires={future + 1}": 403,
            "/media/cat.jpg": 403,
        }
        past = int(time.time()) - 60
        expired = nginx_token(past, "/media/cat.jpg", client, LINK_SECRET)
        cases[f"/media/cat.jpg?md5={expired}&expires={past}"] = 410
        for target, expected in cases.items():
            r = http.get(base + target, headers=headers)
            if expected == "app":
                # nginx let it through: the answer is the app's (the demo app checks its
                # own native signatures under /media/ too), not nginx's error page.
                assert "nginx" not in r.text, target
                assert r.headers["content-type"].startswith("text/plain"), target
            else:
                assert r.status_code == expected, target
                assert "nginx" in r.text, target  # nginx's own error page, not the app's
        # The same valid link from another client address is refused (realip feeds $remote_addr).
        other = http.get(
            base + f"/media/cat.jpg?md5={good}&expires={future}",
            headers={**headers, "X-Forwarded-For": "203.0.113.8"},
        )
        assert other.status_code == 403

    # The seed's corruption: nginx refuses the request line (400) and logs it escaped.
    answer = _raw_tls(
        ports.https,
        b"GET /media/ca\x80\x01t.jpg HTTP/1.1\r\nHost: example.org\r\n\r\n",
        site.ca,
        tmp_path,
    )
    assert answer.startswith(b"HTTP/1.1 400")

    log = site.prefix / "logs" / "edgeward-access.log"
    deadline = time.monotonic() + 60  # generous: a loaded machine is slow
    while b"\\x80\\x01" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [parse_combined(line) for line in log.read_bytes().splitlines(keepends=True)]
    assert records[0].client == client  # realip applied from the trusted front
    assert records[0].request == b"GET / HTTP/1.1"
    assert records[0].forwarded_for == client
    corrupted = [r for r in records if b"\x80\x01" in r.request]
    assert len(corrupted) == 1
    assert corrupted[0].status == 400
    assert corrupted[0].target == b"/media/ca\x80\x01t.jpg"

    # Both edge sensors count every line and the one corrupted request: dpi-watch tail
    # on the file (edgeward_combined) and dpi-watch syslog on the datagrams (edgeward_json).
    lines = len(records)
    for port in (running_site.tail_metrics, running_site.syslog_metrics):
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while _edge_counts(port) != (lines, 1) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _edge_counts(port) == (lines, 1)


@pytest.mark.slow
def test_caldav_stream_listener_passes_the_gateway_certificate_without_sni(
    tmp_path: Path,
) -> None:
    """caldav-stream.conf in front of the real gateway: a client that sends no SNI (as
    Apple's daemons sometimes do) gets the gateway's own certificate through nginx, and
    the gateway's answers come back unchanged."""
    from caldav_gateway.demo import prepare

    extra = _stream_module()
    var = tmp_path / "var"
    prepare(var)
    gateway, metrics = free_port(), free_port()
    ports = NginxPorts(free_port(), free_port(), free_port(), free_port(), free_port(), gateway)
    prefix = tmp_path / "nginx"
    (prefix / "conf").mkdir(parents=True)
    stream = prefix / "conf" / "caldav-stream.conf"
    stream.write_text(render_nginx((NGINX_DIR / "caldav-stream.conf").read_text(), prefix, ports))
    serve = [
        str(BIN / "caldav-gateway"),
        "serve",
        "--config",
        str(var / "caldav" / "gateway.toml"),
        "--listen",
        f"127.0.0.1:{gateway}",
        "--metrics-listen",
        f"127.0.0.1:{metrics}",
    ]
    with (
        started(serve, gateway, tmp_path / "gateway.log"),
        nginx("", tmp_path, extra_main=f"{extra}include {stream};"),
    ):
        direct, _ = pki.served_certificate("127.0.0.1", gateway, timeout=30)
        through, version = pki.served_certificate("127.0.0.1", ports.stream, timeout=30)
        assert pki.fingerprint(through) == pki.fingerprint(direct)
        assert version in ("TLSv1.2", "TLSv1.3")
        r = httpx.get(
            f"https://127.0.0.1:{ports.stream}/.well-known/caldav",
            verify=ssl.create_default_context(cafile=str(var / "caldav" / "ca.pem")),
            timeout=30,
        )
        assert r.status_code == 301
        assert "www-authenticate" not in r.headers


async def _echo_target(scope: dict[str, object], receive: object, send: object) -> None:
    """An ASGI app answering with the request target exactly as it arrived."""
    assert scope["type"] == "http"
    raw = scope["raw_path"]
    query = scope["query_string"]
    assert isinstance(raw, bytes) and isinstance(query, bytes)
    body = raw + (b"?" + query if query else b"")
    length = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": length})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


TARGETS_KEPT = [
    "/media/a//b/../c.jpg?w=640",
    "/media/%2e%2e/x%2Fy.jpg?kid=k1&sig=AbC-_d",
    "/dl/%C3%A9t%C3%A9%20x.png?q=%zz&q=%25",
    "/x%80%01y?exp=1&kid=k&sig=s",
]


@pytest.mark.slow
@pytest.mark.parametrize("with_uri_part", [False, True], ids=["shipped", "proxy_pass-with-uri"])
def test_request_target_reaches_the_app_byte_for_byte(tmp_path: Path, with_uri_part: bool) -> None:
    """The shipped vhost's `proxy_pass` without a URI part hands the app the client's exact
    request target (signed URLs are signed over those bytes); with a URI part nginx
    would normalise it, and this test sees the difference."""
    with uvicorn_server(_echo_target) as base:
        ports = NginxPorts(
            free_port(), free_port(), int(base.rsplit(":", 1)[1]), free_port(), free_port(), 1
        )
        prefix = tmp_path / "nginx"
        site = write_site(prefix, ports, secure_link=False)
        if with_uri_part:
            text = site.conf.read_text().replace(
                "proxy_pass http://edgeward_app;", "proxy_pass http://edgeward_app/;"
            )
            site.conf.write_text(text)
        with nginx(f"include {site.conf};", tmp_path):
            received = []
            for target in TARGETS_KEPT:
                request = f"GET {target} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n"
                answer = _raw_tls(ports.https, request.encode(), site.ca, tmp_path)
                assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
                received.append(answer.split(b"\r\n\r\n", 1)[1].decode())
    if with_uri_part:
        assert received != TARGETS_KEPT
    else:
        assert received == TARGETS_KEPT
