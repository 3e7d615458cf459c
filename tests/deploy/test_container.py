"""deploy/container: the Containerfile read statically, compose.yaml checked by
``docker-compose config``, and the sample configs loaded by the tools' own loaders.

No container engine runs here (nor in CI), so nothing is built: the Containerfile is parsed
(stages, targets, users, entry points) and compose.yaml is validated by Debian's
docker-compose 1.29, whose ``config`` checks the file against the Compose schema without
talking to an engine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from caldav_gateway.settings import GatewaySettings
from edgeward.config import load_file
from printer_sync.config import load_config
from tests.support.container import (
    CONTAINER,
    CONTAINERFILE,
    STAGES,
    TARGETS,
    Stage,
    parse_containerfile,
)
from tests.support.render import DEPLOY, ROOT
from tests.support.tools import require_tool

COMPOSE = CONTAINER / "compose.yaml"
# target → the extras its virtualenv must carry (the stage it copies /opt/edgeward from).


def _user_of(stage: Stage) -> str | None:
    user = stage.last("USER")
    if user is None and stage.base in STAGES:
        return _user_of(STAGES[stage.base])
    return user


def test_parser_reads_a_known_containerfile() -> None:
    stages = parse_containerfile("FROM a AS one\nRUN x \\\n  y\nFROM one AS two\nUSER 5\n")
    assert list(stages) == ["one", "two"]
    assert stages["one"].instructions == [("RUN", "x    y")]
    assert stages["two"].base == "one"
    assert stages["two"].last("USER") == "5"


def test_every_tool_has_a_target() -> None:
    assert set(TARGETS) <= set(STAGES)
    assert "build" in STAGES  # multi-stage: the compiler and wheels stay behind


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_runs_as_non_root(target: str) -> None:
    user = _user_of(STAGES[target])
    assert user is not None, f"{target} sets no USER: it would run as root"
    name = user.split(":")[0]
    assert name not in ("root", "0")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_is_slim_and_carries_only_its_extras(target: str) -> None:
    stage = STAGES[target]
    assert stage.base == "runtime"  # not the build stage: no wheels, no compilers
    copies = [arg for kw, arg in stage.instructions if kw == "COPY"]
    assert copies == [f"--from={TARGETS[target]} /opt/edgeward /opt/edgeward"]
    assert not any(kw == "RUN" for kw, _ in stage.instructions)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_entry_point_is_a_declared_console_script(target: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    raw = STAGES[target].last("ENTRYPOINT")
    assert raw is not None
    entry = json.loads(raw)  # exec form: signals reach the tool, not a shell
    assert isinstance(entry, list)
    # uvicorn is the ASGI server the bare install depends on; the other three are ours.
    assert entry[0] in scripts or (target == "app" and entry[0] == "uvicorn")
    # ...and installed by this project's own install (the image runs the same one).
    assert (Path(sys.executable).parent / entry[0]).exists(), entry[0]


def test_copy_from_names_existing_stages() -> None:
    names = list(STAGES)
    for i, stage in enumerate(STAGES.values()):
        for kw, arg in stage.instructions:
            m = re.match(r"--from=(\S+)", arg) if kw == "COPY" else None
            if m:
                assert m.group(1) in names[:i], f"{stage.name}: COPY --from={m.group(1)}"


def test_compose_file_is_valid_for_docker_compose(tmp_path: Path) -> None:
    binary = require_tool("docker-compose", "docker-compose")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("read_only: true", "read_onyl: true", 1))
    result = subprocess.run(
        [binary, "-f", str(broken), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "read_onyl" in result.stderr


def _compose() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_runs_the_whole_suite_from_the_containerfile() -> None:
    services = _compose()["services"]
    assert {"nginx", "app", "dpi-watch", "caldav-gateway", "printer-sync", "prometheus"} <= set(
        services
    )
    assert "printer-emulator" in services
    for name, svc in services.items():
        build = svc.get("build")
        if isinstance(build, dict):
            assert build["target"] in TARGETS, name
            assert (ROOT / build["dockerfile"]).resolve() == CONTAINERFILE


def test_compose_mounts_files_that_ship() -> None:
    """Every bind-mounted file exists, except what prepare-tls.sh generates (tls/, secrets/)."""
    for name, svc in _compose()["services"].items():
        for volume in svc.get("volumes", []):  # type: ignore[attr-defined]
            source = str(volume).split(":", 1)[0]
            if not source.startswith("."):
                continue  # a named volume
            if source.startswith(("./tls/", "./secrets/")):
                continue
            assert (CONTAINER / source).exists(), f"{name}: {source}"


def test_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    binary = require_tool("promtool", "prometheus")
    shutil.copy(CONTAINER / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(DEPLOY / "prometheus" / "edgeward-rules.yml", tmp_path / "edgeward-rules.yml")
    result = subprocess.run(
        [binary, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _localise(text: str, tmp: Path) -> str:
    return re.sub(r'"/(etc|var|run)/', lambda m: f'"{tmp}/{m.group(1)}/', text)


def test_sample_gateway_config_loads(tmp_path: Path) -> None:
    conf = tmp_path / "gateway.toml"
    conf.write_text(_localise((CONTAINER / "caldav" / "gateway.toml").read_text(), tmp_path))
    settings = load_file(GatewaySettings, conf)
    assert settings.metrics_listen == "0.0.0.0:9465"  # scraped over the compose network


def test_sample_printers_config_loads(tmp_path: Path) -> None:
    conf = tmp_path / "printers.toml"
    conf.write_text(_localise((CONTAINER / "printer" / "printers.toml").read_text(), tmp_path))
    password = tmp_path / "run" / "secrets" / "printer-password"
    password.parent.mkdir(parents=True)
    password.write_text("not-the-real-one\n")
    config = load_config(conf)
    assert [p.name for p in config.printers] == ["emulator"]
    assert "not-the-real-one" not in repr(config)


def test_named_volumes_of_our_images_mount_on_folders_the_user_owns() -> None:
    """A named volume starts with the ownership of the image's folder at its mount point;
    a folder missing from the image would leave it root-owned and unwritable for uid 10001."""
    runtime = " ".join(arg for kw, arg in STAGES["runtime"].instructions if kw == "RUN")
    owned = set(re.findall(r"/var/lib/edgeward/[\w-]+", runtime.split("install -d", 1)[1]))
    for name, svc in _compose()["services"].items():
        ours = isinstance(svc.get("build"), dict) or "localhost/edgeward" in str(svc.get("image"))
        for volume in svc.get("volumes", []) if ours else []:  # type: ignore[attr-defined]
            source, target = str(volume).split(":")[:2]
            if not source.startswith("."):
                assert target in owned, f"{name}: {target}"
