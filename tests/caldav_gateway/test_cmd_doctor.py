"""``caldav-gateway doctor`` against real servers on loopback.

- a plain Radicale served directly over TLS (the misconfiguration the gateway exists to
  fix): its probe paths answer 401, so the doctor must fail and name the fix;
- the real gateway (fixture from ``conftest.py``): every check passes.

Expired and wrong-host certificates and an nginx that picks certificates by SNI are in
``doctor/test_tls_checks.py``, beside the checks they exercise.
"""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from caldav_gateway.cli import main
from tests.support.gateway import DOCTOR_PASSWORD, Gateway, doctor, plain_radicale, write_pki
from tests.support.net import free_port

PASSWORD = DOCTOR_PASSWORD


@dataclass(frozen=True)
class Served:
    url: str
    ca: Path
    password_file: Path


def test_plain_radicale_fails_on_probes_and_names_the_fix(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cert, key = write_pki(tmp_path, ("localhost", "127.0.0.1"))
    wrong = tmp_path / "wrong-pw"
    wrong.write_text("not-the-password\n")
    with plain_radicale(tmp_path, cert, key) as port:
        code, checks, _ = doctor(capsys, f"https://localhost:{port}/", password_file, ca)
        _, with_wrong_password, _ = doctor(capsys, f"https://localhost:{port}/", wrong, ca)
    step = with_wrong_password["discovery.principal"]
    assert step["status"] == "fail" and "401" in step["detail"]
    assert "--password-file" in step["fix"]
    assert with_wrong_password["discovery.options"]["status"] == "skip"
    assert code == 1
    probes = {k: v for k, v in checks.items() if k.startswith("probe ")}
    assert len(probes) >= 10
    for cid, c in probes.items():
        assert c["status"] == "fail", cid
        assert "401" in c["detail"]
        assert "caldav-gateway serve" in c["fix"]
    # Everything Radicale does right is reported as right: the doctor blames precisely.
    for cid in ("tls.no-sni", "tls.sni", "tls.expiry", "tls.version", "root-401"):
        assert checks[cid]["status"] == "pass", checks[cid]
    assert checks["discovery.principal"]["detail"].endswith("/alice/")
    assert checks["discovery.options"]["status"] == "pass"
    # Radicale's redirect lacks Cache-Control (RFC 6764 SHOULD): a warning, not a failure.
    assert checks["well-known"]["status"] == "warn"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_the_gateway_passes_every_check(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    password = gateway.users["alice"]
    pw = tmp_path / "pw"
    pw.write_text(password + "\n")
    verify = ssl.create_default_context(cafile=gateway.ca)
    with httpx.Client(base_url=gateway.url, verify=verify, auth=("alice", password)) as http:
        r = http.request("MKCALENDAR", "/alice/doctor/")
        assert r.status_code in (201, 409), r.text  # 409: made by the other parametrisation
    argv = ["doctor", f"https://{host}:{gateway.port}/", "--user", "alice"]
    argv += ["--password-file", str(pw), "--ca", str(gateway.ca), "--json"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert password not in out + err
    doc = json.loads(out)
    assert [c for c in doc["checks"] if c["status"] != "pass"] == []
    assert code == 0 and doc["ok"] is True
    assert doc["counts"]["pass"] >= 20
    # The same run as text with debug logs: one line per check, the verdict last, and
    # the password nowhere, not even in the HTTP client's debug output.
    assert main([*argv[:-1], "--log-level", "debug"]) == 0
    text, logs = capsys.readouterr()
    assert text.splitlines()[-1].startswith("OK: ") and "FAIL" not in text
    assert "edgeward.caldav_gateway.doctor" in logs
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    assert password not in text + logs and basic not in text + logs


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_a_refused_password_is_named_as_such(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("not-the-password\n")
    code, checks, text = doctor(capsys, f"https://localhost:{gateway.port}/", pw, gateway.ca, user)
    assert code == 1
    # The redirect works (its target challenges, as RFC 6764 wants): not its fault.
    assert checks["well-known"]["status"] == "pass", checks["well-known"]
    login = checks["discovery.principal"]
    assert login["status"] == "fail"
    assert f"password for {user!r} was refused" in login["detail"]
    assert "--password-file" in login["fix"]
    failing = sorted(cid for cid, c in checks.items() if c["status"] == "fail")
    assert failing == ["discovery.principal"]
    assert "not-the-password" not in text


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["https://localhost:1/", "--password-file", "{missing}"], "secret file not found"),
        (["ftp://localhost/", "--password-file", "{pw}"], "expected an https:// URL"),
        (["https://alice:pw@localhost/", "--password-file", "{pw}"], "not the URL"),
        (["https://localhost:x/", "--password-file", "{pw}"], "port is not a number"),
        (
            ["https://localhost/", "--password-file", "{pw}", "--ca", "{missing}"],
            "CA file not found",
        ),
        (["https://localhost/", "--password-file", "{pw}", "--ca", "{pw}"], "not a PEM CA"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(
    tmp_path: Path,
    password_file: Path,
    capsys: pytest.CaptureFixture[str],
    argv_tail: list[str],
    message: str,
) -> None:
    subst = {"{pw}": str(password_file), "{missing}": str(tmp_path / "missing")}
    argv = ["doctor", "--user", "alice", *[subst.get(a, a) for a in argv_tail]]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert "Traceback" not in err and PASSWORD not in out + err


def test_nothing_listening_fails_cleanly(
    password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks, _ = doctor(capsys, f"https://127.0.0.1:{free_port()}/", password_file, None)
    assert code == 1
    assert checks["tls.handshake"]["status"] == "fail"
    assert "listens" in checks["tls.handshake"]["fix"]
    assert {checks[k]["status"] for k in checks if k.startswith("discovery.")} == {"skip"}


def test_help_teaches_and_hides_nothing_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["doctor", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--password-file" in out and "--ca" in out
