"""The wheel works outside this checkout: built from the worktree, installed in a fresh venv.

A bare install (the middleware) runs its commands' ``--help``, names the extra a MaxMind
table needs, and ``python -m edgeward.run --check`` reads the Procfile the wheel ships
(not this repository's). With ``[demo]`` (every tool) every console script answers
``--help``. Dependencies come from pip's usual indexes and cache (nothing is copied from
this environment), so the test also proves the declared dependencies are enough. They
are kept as wheels in ``~/.cache/edgeward/wheelhouse`` and installed from there with
``--no-index`` when it holds them all (a minute faster), fetched into it when not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
BARE_SCRIPTS = ("signed-url", "dpi-watch", "dpi-report")
WHEELHOUSE = Path.home() / ".cache" / "edgeward" / "wheelhouse"


def _run(argv: list[str | Path], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, **kwargs
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def _wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the worktree's files (tracked and new, not ignored)."""
    listed = _ok(_run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT)).stdout
    src = tmp / "src"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    dist = tmp / "dist"
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src], tmp))
    (wheel,) = dist.glob("edgeward-*.whl")
    return wheel


def _install(python: Path, requirement: str, cwd: Path) -> None:
    """``pip install requirement`` from the wheelhouse; fill it first if it lacks a wheel."""
    # This environment's pip installs into the new one (--python): no pip to bootstrap there.
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    offline = [*pip, "--no-index", "--find-links", WHEELHOUSE]
    if _run([*offline, requirement], cwd, timeout=600).returncode == 0:
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    fill = [sys.executable, "-m", "pip", "wheel", "-q", "-w", WHEELHOUSE, requirement]
    _ok(_run(fill, cwd, timeout=600))
    for own in WHEELHOUSE.glob("edgeward-*.whl"):
        own.unlink()  # the wheel under test always comes from this run's build
    _ok(_run([*offline, requirement], cwd, timeout=600))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path))
    bin_dir = venv / "bin"
    work = tmp_path / "elsewhere"  # not the checkout: nothing may come from it
    work.mkdir()

    # The bare install: the middleware's commands, and the extra a MaxMind table needs.
    _install(bin_dir / "python", str(wheel), work)
    for script in BARE_SCRIPTS:
        assert "usage:" in _ok(_run([bin_dir / script, "--help"], work)).stdout
    (work / "access.log").write_text("")
    (work / "asn.mmdb").write_bytes(b"\0")
    report = _run([bin_dir / "dpi-report", "--asn-table", "asn.mmdb", "access.log"], work)
    assert report.returncode == 2
    assert report.stderr.strip().splitlines()[-1].endswith("pip install 'edgeward[mmdb]'")
    assert "Traceback" not in report.stderr

    # The Procfile comes from the wheel, and every service's program is there.
    where = _ok(
        _run([bin_dir / "python", "-c", "import edgeward.run as r; print(r.procfile())"], work)
    )
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    check = _run([bin_dir / "python", "-m", "edgeward.run", "--check"], work)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("\n") >= 6

    # make run itself needs every tool: one line naming the extra, no traceback.
    bare_run = _run([bin_dir / "python", "-m", "edgeward.run"], work, timeout=120)
    assert bare_run.returncode == 2, bare_run.stdout + bare_run.stderr
    assert bare_run.stderr.strip().endswith("pip install 'edgeward[demo]'"), bare_run.stderr
    assert "Traceback" not in bare_run.stderr

    # Every tool: every console script answers --help.
    _install(bin_dir / "python", f"{wheel}[demo]", work)
    for script in SCRIPTS:
        help_text = _ok(_run([bin_dir / script, "--help"], work)).stdout
        assert help_text.startswith(f"usage: {script}"), script
    _ok(_run([bin_dir / "python", "-m", "edgeward.run", "--check"], work))
    _ok(_run([bin_dir / "python", "-c", "import honcho, maxminddb, h11, defusedxml"], work))
