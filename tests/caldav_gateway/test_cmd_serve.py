"""``caldav-gateway serve`` as a user meets it: help, errors, warnings, secrets, workers."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from caldav_gateway.cmd_serve import add_arguments, settings_from
from edgeward import pki
from tests.support.gateway import running_gateway, write_htpasswd
from tests.support.net import free_port
from tests.support.servers import process
from tests.support.wait import wait_until


def serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caldav_gateway", "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_teaches() -> None:
    r = serve("--help")
    assert r.returncode == 0
    for needed in ("examples:", "--workers", "--policy", "denylist", "htpasswd -B", "8443"):
        assert needed in r.stdout


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ca = pki.make_ca()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    pki.write_pair(pki.issue(ca), key, cert)
    users = tmp_path / "users"
    write_htpasswd(users, {"alice": "pw-alice-1"})
    return {"cert": cert, "key": key, "users": users, "dir": tmp_path}


@pytest.mark.parametrize(
    ("toml", "flags", "message"),
    [
        ("bogus = 1\n", [], r"gateway\.toml.*: bogus: unknown key"),
        ("workers = 0\n", [], r"gateway\.toml.*: workers: expected a whole number from 1 to 256"),
        ('listen = "nope"\n', [], r"listen: 'nope': expected HOST:PORT"),
        ('policy = "allow"\n', [], r"policy: expected one of 'principals', 'denylist'"),
        ("[throttle]\nlimit = 0\n", [], r"throttle\.limit"),
        ("", ["--htpasswd", "/nonexistent/users"], r"/nonexistent/users: htpasswd file not found"),
        ("", ["--cert", "/nonexistent/cert.pem"], r"/nonexistent/cert\.pem: file not found"),
        ("", ["--principal", "a/b"], r"'a/b' is not a username"),
        ("not toml [", [], r"gateway\.toml: not valid TOML"),
        ('metrics_listen = "127.0.0.1:1"\nlisten = "127.0.0.1:1"\n', [], "must differ"),
    ],
)
def test_configuration_errors_exit_2_and_name_the_problem(
    files: dict[str, Path], toml: str, flags: list[str], message: str
) -> None:
    config = files["dir"] / "gateway.toml"
    config.write_text(toml)
    base = ["--cert", str(files["cert"]), "--key", str(files["key"])]
    base += ["--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")]
    with socket.create_server(("127.0.0.1", 0)) as busy:
        # a busy port: if the error were missed, serve would exit 1 instead of serving
        if "listen" not in toml:
            base += ["--listen", f"127.0.0.1:{busy.getsockname()[1]}"]
        if "metrics_listen" not in toml:
            base += ["--metrics-listen", "off"]
        r = serve("--config", str(config), *base, *flags)
    assert r.returncode == 2, r.stderr
    assert re.search(message, r.stderr), r.stderr
    assert "Traceback" not in r.stderr


def test_missing_certificate_without_insecure_http(files: dict[str, Path]) -> None:
    r = serve("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c"))
    assert r.returncode == 2
    assert "cert and key are required" in r.stderr


def test_busy_port_exits_1_after_the_start_up_warnings(files: dict[str, Path]) -> None:
    write_htpasswd(files["users"], {"alice": "pw-a", "principals": "pw-p", "dav": "pw-d"})
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        r = serve(
            *("--cert", str(files["cert"]), "--key", str(files["key"])),
            *("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")),
            *("--listen", f"127.0.0.1:{port}", "--metrics-listen", "off"),
        )
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "username 'dav' collides with the probe family /dav/" in r.stderr
    assert "username 'principals' collides" in r.stderr
    assert "username 'alice'" not in r.stderr


@pytest.mark.slow
def test_insecure_http_warns_and_serves_the_same_policy(files: dict[str, Path]) -> None:
    port = free_port()
    log = files["dir"] / "log"
    argv = [sys.executable, "-m", "caldav_gateway", "serve", "--insecure-http"]
    argv += ["--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")]
    argv += ["--listen", f"127.0.0.1:{port}", "--metrics-listen", "off"]
    with process(argv, port=port, log=log):
        base = f"http://127.0.0.1:{port}"
        assert httpx.request("PROPFIND", base + "/principals/").status_code == 404
        assert httpx.request("PROPFIND", base + "/").status_code == 401
    assert "Apple devices will not log in" in log.read_text()


@pytest.mark.slow
def test_secrets_never_reach_logs_or_metrics(tmp_path: Path) -> None:
    wrong = "Wr0ng-guess-xyzzy"
    with running_gateway(tmp_path, ["--log-level", "debug"]) as gw:
        password = gw.users["alice"]
        with httpx.Client(base_url=gw.url, verify=gw.ssl_context(), timeout=10) as c:
            assert c.request("PROPFIND", "/alice/", auth=("alice", password)).status_code == 207
            assert c.request("PROPFIND", "/", auth=("alice", wrong)).status_code == 401
            assert c.request("PROPFIND", "/", auth=("bob", password)).status_code == 401
            c.request("PROPFIND", "/principals/", auth=("alice", password))
        metrics = httpx.get(gw.metrics_url).text
        # the last request's line is the last to be written: then the log is complete
        wait_until(lambda: "'/principals/'" in gw.log_text(), what="the last request's line")
        text = gw.log_text()
    assert "alice" in text  # debug logging was on and did log the requests
    for secret in (password, wrong, gw.users["bob"]):
        assert secret not in text
        assert secret not in metrics


@pytest.mark.slow
def test_two_workers_share_collections_metrics_and_certificate_reload(tmp_path: Path) -> None:
    mpdir = tmp_path / "metrics"
    mpdir.mkdir()
    config = tmp_path / "gateway.toml"
    config.write_text("reload_interval = 0.2\n")
    with running_gateway(
        tmp_path / "gw",
        ["--workers", "2", "--config", str(config)],
        env={"PROMETHEUS_MULTIPROC_DIR": str(mpdir)},
    ) as gw:
        # the parent serves /metrics at once; the workers take a while on a busy machine
        deadline = time.monotonic() + 120
        while len(re.findall(r"worker \d \(pid \d+\) serving", gw.log_text())) < 2:
            assert time.monotonic() < deadline, gw.log_text()[-2000:]
            time.sleep(0.1)
        alice = ("alice", gw.users["alice"])
        ctx = gw.ssl_context()
        # fresh connections, so that both workers get some
        for _ in range(12):
            assert httpx.request("PROPFIND", gw.url + "/dav/", verify=ctx).status_code == 404
        r = httpx.request("MKCALENDAR", gw.url + "/alice/shared/", auth=alice, verify=ctx)
        assert r.status_code == 201
        for _ in range(6):
            r = httpx.request(
                "PROPFIND",
                gw.url + "/alice/shared/",
                auth=alice,
                verify=ctx,
                headers={"Depth": "0"},
            )
            assert r.status_code == 207  # whichever worker answers sees the calendar
        metrics = httpx.get(gw.metrics_url).text
        assert 'edgeward_caldav_requests_total{method="PROPFIND",status="404"} 12.0' in metrics
        assert 'edgeward_caldav_requests_total{method="PROPFIND",status="207"} 6.0' in metrics
        assert "edgeward_caldav_certificate_not_after_seconds" in metrics
        assert len(list(mpdir.glob("gauge_mostrecent_*.db"))) == 2  # one per worker

        assert gw.ca_issued is not None
        renewed = pki.issue(gw.ca_issued, ["localhost", "127.0.0.1"], days=20)
        pki.write_pair(renewed, gw.key, gw.cert)
        deadline = time.monotonic() + 60
        while gw.log_text().count("certificate reloaded") < 2:
            assert time.monotonic() < deadline, gw.log_text()[-2000:]
            time.sleep(0.1)
        for _ in range(6):
            served, _ = pki.served_certificate(gw.host, gw.port)
            assert pki.fingerprint(served) == renewed.fingerprint
    text = gw.log_text()
    assert "worker 0 started" in text and "worker 1 started" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice:$2b$04$x\njustaname\n", r"users, line 2: not a 'user:hash' line \(no colon\)"),
        ("# c\n\n:$2b$04$x\n", r"users, line 3: the username before ':' is empty"),
        ("bob:\n", r"users, line 1: user 'bob' has an empty password hash"),
        (
            "bob:a\nalice:b\nbob:c\n",
            r"users, line 3: user 'bob' is listed twice \(first on line 1\)",
        ),
    ],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_htpasswd_line_is_named_before_serving(
    files: dict[str, Path], content: str, message: str, workers: str
) -> None:
    files["users"].write_text(content)
    r = serve(
        *("--cert", str(files["cert"]), "--key", str(files["key"]), "--workers", workers),
        *("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")),
        *("--listen", f"127.0.0.1:{free_port()}", "--metrics-listen", "off"),
    )
    assert r.returncode == 2, r.stderr
    assert re.search(re.escape(str(files["dir"])) + "/" + message, r.stderr), r.stderr
    assert "serving" not in r.stderr
    assert "justaname" not in r.stderr  # the line itself may be a pasted password
    assert r.stderr.count("error:") == 1


@pytest.mark.parametrize("which", ["listen", "metrics"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_named_once_and_nothing_claims_to_serve(
    files: dict[str, Path], which: str, workers: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        free = f"127.0.0.1:{free_port()}"
        listen, metrics = (taken, free) if which == "listen" else (free, taken)
        r = serve(
            *("--cert", str(files["cert"]), "--key", str(files["key"]), "--workers", workers),
            *("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")),
            *("--listen", listen, "--metrics-listen", metrics),
        )
    assert r.returncode == 1, r.stderr
    assert r.stderr.count(taken) == 1, r.stderr
    assert f"error: cannot listen on {taken}: Address already in use" in r.stderr
    assert "serving" not in r.stderr
    assert "Traceback" not in r.stderr


def test_a_key_of_another_certificate_is_said_in_words(files: dict[str, Path]) -> None:
    other_cert, other_key = files["dir"] / "other.pem", files["dir"] / "other-key.pem"
    pki.write_pair(pki.issue(pki.make_ca()), other_key, other_cert)
    r = serve(
        *("--cert", str(files["cert"]), "--key", str(other_key)),
        *("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")),
        *("--listen", f"127.0.0.1:{free_port()}", "--metrics-listen", "off"),
    )
    assert r.returncode == 2
    assert "the private key does not belong to this certificate" in r.stderr
    assert "serving" not in r.stderr


@pytest.mark.parametrize(("workers", "code"), [("1", 2), ("2", 1)])
def test_radicale_start_failure_stops_the_gateway(
    files: dict[str, Path], workers: str, code: int
) -> None:
    # Radicale refuses to start when TEMP names a missing folder; the parent process
    # does not construct Radicale, so with workers the failure shows in the workers.
    port = free_port()
    r = subprocess.run(
        [
            *(sys.executable, "-m", "caldav_gateway", "serve", "--workers", workers),
            *("--cert", str(files["cert"]), "--key", str(files["key"])),
            *("--htpasswd", str(files["users"]), "--collections", str(files["dir"] / "c")),
            *("--listen", f"127.0.0.1:{port}", "--metrics-listen", "off"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEMP": str(files["dir"] / "missing")},
    )
    assert r.returncode == code, r.stderr[-2000:]
    if workers == "1":
        assert "Radicale refused to start: TEMP found in environment" in r.stderr
    else:
        assert "before any worker served; stopping" in r.stderr


def test_flags_override_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        'listen = "127.0.0.1:9000"\nworkers = 3\nhtpasswd = "users"\ncollections = "cals"\n'
        'cert = "c.pem"\nkey = "k.pem"\npolicy = "denylist"\n'
    )
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--config", str(config), "--workers", "2", "--collections", "here"])
    s = settings_from(args)
    assert s.workers == 2  # flag wins
    assert s.listen == "127.0.0.1:9000" and s.policy == "denylist"  # file kept
    assert s.htpasswd == tmp_path / "users"  # relative to the file
    assert s.collections == Path("here").resolve()  # relative to where it was typed
    assert s.web is False and s.insecure_http is False  # store_true flags not given
