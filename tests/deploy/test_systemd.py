"""deploy/systemd: systemd-analyze verifies every unit, scores its hardening, and the
units run the console scripts this project declares.

``systemd-analyze verify`` works on unit files without systemd as PID 1 (as in a
container): it loads the units, resolves specifiers and checks that each ExecStart binary
exists. The shipped units name /opt/edgeward/venv/bin/ (deploy/README.md installs there);
the test points them at this checkout's virtualenv, changing nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.render import DEPLOY, ROOT
from tests.support.tools import require_tool

SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(p.name for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer"))
SERVICES = [u for u in UNITS if u.endswith(".service")]
VENV_BIN = Path(sys.executable).parent
# Exposure scores from `systemd-analyze security`: 0 = locked down, 10 = wide open; "OK"
# ends at 2.9. The shipped units score 1.2-1.6 here.
MAX_EXPOSURE = 2.0


def render(tmp: Path) -> Path:
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace("/opt/edgeward/venv/bin/", f"{VENV_BIN}/")
        (tmp / name).write_text(text)
    return tmp


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_tool("systemd-analyze", "systemd")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    render(tmp_path)
    result = analyze("verify", *UNITS, cwd=tmp_path)
    # verify reports unknown keys and bad values as warnings with exit code 0: the test
    # wants silence, not just success.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.parametrize(
    ("mutation", "complaint"),
    [
        (("ProtectSystem=strict", "ProtectSytem=strict"), "Unknown key"),
        (("Type=exec", "Type=exce"), "Failed to parse"),
        (("/bin/uvicorn ", "/bin/no-such-binary "), "not executable"),
    ],
    ids=["misspelt-key", "bad-value", "missing-binary"],
)
def test_verify_catches_broken_units(
    tmp_path: Path, mutation: tuple[str, str], complaint: str
) -> None:
    render(tmp_path)
    unit = tmp_path / "edgeward-app.service"
    unit.write_text(unit.read_text().replace(*mutation))
    result = analyze("verify", unit.name, cwd=tmp_path)
    assert complaint in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_hardening_exposure_is_low(tmp_path: Path, service: str) -> None:
    render(tmp_path)
    result = analyze("security", "--offline=true", service, cwd=tmp_path)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert m, result.stdout + result.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE


def _directives(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("service", SERVICES)
def test_required_hardening_and_directories(service: str) -> None:
    d = _directives(service)
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"]
    assert d.get("DynamicUser") == ["yes"] or d.get("User", [""])[0].startswith("edgeward-")
    assert d["StateDirectory"][0].startswith("edgeward/")
    assert d["ConfigurationDirectory"][0].startswith("edgeward")


@pytest.mark.parametrize("service", SERVICES)
def test_execstart_is_a_declared_console_script(service: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command = _directives(service)["ExecStart"][0].split()[0]
    assert command.startswith("/opt/edgeward/venv/bin/")
    name = command.rsplit("/", 1)[1]
    # uvicorn is the ASGI server the bare install depends on; everything else is ours.
    assert name in scripts or name == "uvicorn"


def test_secrets_come_from_credentials_not_from_the_unit() -> None:
    """Secrets reach the services through LoadCredential=, never as values in the unit."""
    for service in SERVICES:
        d = _directives(service)
        text = (SYSTEMD / service).read_text().lower()
        assert "password=" not in text
        if "printer-sync" in service or "caldav" in service or "app" in service:
            assert d.get("LoadCredential"), service


def test_timer_starts_the_push_unit() -> None:
    timer = _directives("edgeward-printer-sync-push.timer")
    assert timer["Persistent"] == ["yes"] or timer["Persistent"] == ["true"]
    assert (SYSTEMD / "edgeward-printer-sync-push.service").exists()
    push = _directives("edgeward-printer-sync-push.service")
    assert push["Type"] == ["oneshot"]
    assert "push --all" in push["ExecStart"][0]


def test_sysusers_file_parses(tmp_path: Path) -> None:
    binary = require_tool("systemd-sysusers", "systemd")
    conf = SYSTEMD / "edgeward.sysusers.conf"
    result = subprocess.run(
        [binary, f"--root={tmp_path}", "--dry-run", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    users = {u for d in SERVICES for u in _directives(d).get("User", [])}
    for user in users:
        assert f"Creating user '{user}'" in result.stdout + result.stderr


def test_deploy_hook_is_valid_shell() -> None:
    hook = SYSTEMD / "certbot-deploy-hook.sh"
    assert hook.stat().st_mode & 0o111
    result = subprocess.run(["sh", "-n", str(hook)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("lineage", "published"),
    [("cal.example.org", "caldav"), ("printer.example.org", "printer"), ("other.org", None)],
)
def test_deploy_hook_publishes_the_renewed_pair(
    tmp_path: Path, lineage: str, published: str | None
) -> None:
    """The hook as certbot runs it: the renewed key and certificate land in the service's
    folder (key 0640, group of the service), other lineages are left alone."""
    if os.geteuid() != 0:
        pytest.skip("the hook runs as root under certbot (install -o root)")
    live = tmp_path / "live" / lineage
    live.mkdir(parents=True)
    (live / "privkey.pem").write_text("KEY " + lineage)
    (live / "fullchain.pem").write_text("CERT " + lineage)
    env = {
        "PATH": os.environ["PATH"],
        "RENEWED_LINEAGE": str(live),
        "RENEWED_DOMAINS": lineage,
        "CALDAV_TLS": str(tmp_path / "caldav"),
        "CALDAV_GROUP": "root",
        "PRINTER_TLS": str(tmp_path / "printer"),
        "PRINTER_GROUP": "root",
    }
    result = subprocess.run(
        [str(SYSTEMD / "certbot-deploy-hook.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for name in ("caldav", "printer"):
        folder = tmp_path / name
        if name != published:
            assert not folder.exists()
            continue
        assert (folder / "privkey.pem").read_text() == "KEY " + lineage
        assert (folder / "fullchain.pem").read_text() == "CERT " + lineage
        assert (folder / "privkey.pem").stat().st_mode & 0o777 == 0o640
        assert sorted(p.name for p in folder.iterdir()) == ["fullchain.pem", "privkey.pem"]


@pytest.mark.slow
def test_app_unit_command_serves_with_workers_in_multiprocess_mode(tmp_path: Path) -> None:
    """The app unit's ExecStart and Environment= as systemd would run them (specifiers
    resolved to temporary folders, the port made free): two uvicorn workers, one /metrics
    aggregated through PROMETHEUS_MULTIPROC_DIR."""
    from tests.support.net import free_port
    from tests.support.services import started

    d = _directives("edgeward-app.service")
    runtime, credentials = tmp_path / "run", tmp_path / "credentials"
    (runtime / d["RuntimeDirectory"][0]).mkdir(parents=True)
    credentials.mkdir()
    keygen = subprocess.run(
        [str(VENV_BIN / "signed-url"), "keygen", "--kid", "unit-test"],
        capture_output=True,
        text=True,
        check=True,
    )
    (credentials / "signing-keys").write_text(keygen.stdout)

    def resolve(value: str) -> str:
        for spec, folder in (("%t", runtime), ("%d", credentials), ("%S", tmp_path / "state")):
            value = value.replace(spec, str(folder))
        return value

    env = dict(resolve(e).split("=", 1) for e in d["Environment"])
    port = free_port()
    argv = [env.get(a[2:-1], a) if a.startswith("${") else a for a in d["ExecStart"][0].split()]
    argv[0] = str(VENV_BIN / Path(argv[0]).name)
    argv[argv.index("--port") + 1] = str(port)
    with started(argv, port, tmp_path / "app.log", env):
        import httpx

        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
        assert metrics.status_code == 200
        assert "edgeward_" in metrics.text
    assert list((runtime / "edgeward-app").glob("*.db"))  # the workers wrote their files


@pytest.mark.parametrize(
    "service", [s for s in SERVICES if "caldav-gateway" in s or s == "edgeward-app.service"]
)
def test_network_servers_may_hold_many_connections(service: str) -> None:
    """An open connection is a file descriptor; the default soft limit of 1024 let about
    1,000 idle connections lock clients out of the CalDAV gateway (issue 11)."""
    assert int(_directives(service)["LimitNOFILE"][0]) >= 65536
