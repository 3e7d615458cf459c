"""Every command line in the deploy files names a subcommand and flags the tool has.

The units, the Containerfile's targets, compose.yaml and the Kubernetes manifests all
spell out command lines; a renamed flag would only show up when a service fails to start
in production. Each command is checked against the real tool's ``--help``.
"""

from __future__ import annotations

import functools
import json
import shlex
import subprocess
from typing import Any

import pytest
import yaml

from tests.support.container import STAGES, TARGETS
from tests.support.render import DEPLOY
from tests.support.services import BIN

WITH_SUBCOMMANDS = {"dpi-watch", "caldav-gateway", "printer-sync", "vpn-provision"}
IMAGE_TARGET = {
    "edgeward-app": "app",
    "edgeward-dpi-watch": "dpi-watch",
    "edgeward-caldav-gateway": "caldav-gateway",
    "edgeward-printer-sync": "printer-sync",
    "app": "app",
    "dpi-watch": "dpi-watch",
    "caldav-gateway": "caldav-gateway",
    "printer-sync": "printer-sync",
}


def _entrypoint(target: str) -> list[str]:
    raw = STAGES[target].last("ENTRYPOINT")
    assert raw is not None
    entry: list[str] = json.loads(raw)
    return entry


def _target_of_image(image: str) -> str | None:
    name = image.rsplit("/", 1)[-1].split(":")[0]
    return IMAGE_TARGET.get(name)


def commands() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        env: dict[str, str] = {}
        for line in unit.read_text().splitlines():
            if line.startswith("Environment="):
                key, value = line.removeprefix("Environment=").split("=", 1)
                env[key] = value
            if line.startswith("ExecStart="):
                argv = shlex.split(line.removeprefix("ExecStart="))
                argv = [env.get(a[2:-1], a) if a.startswith("${") else a for a in argv]
                found.append((unit.name, argv))
    for target in TARGETS:
        cmd = STAGES[target].last("CMD")
        found.append((f"Containerfile:{target}", _entrypoint(target) + json.loads(cmd or "[]")))
    compose = yaml.safe_load((DEPLOY / "container" / "compose.yaml").read_text())
    for name, svc in compose["services"].items():
        build = svc.get("build")
        target = build["target"] if isinstance(build, dict) else _target_of_image(svc["image"])
        if target is None:
            continue  # nginx, Prometheus: not ours
        found.append((f"compose:{name}", _entrypoint(target) + svc.get("command", [])))
    for manifest in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            for c in doc["spec"]["template"]["spec"]["containers"]:
                target = _target_of_image(c["image"])
                if target is not None:
                    argv = _entrypoint(target) + c.get("args", [])
                    found.append((f"{manifest.name}:{c['name']}", argv))
    return found


COMMANDS = commands()


@functools.cache
def help_text(program: str, sub: str | None) -> str:
    argv = [str(BIN / program), *([sub] if sub else []), "--help"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result.stdout


def test_commands_were_found_everywhere() -> None:
    places = {where.split(":")[0].split(".")[0] for where, _ in COMMANDS}
    assert {"Containerfile", "compose", "app", "caldav-gateway", "printer-sync"} <= places
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_line_matches_the_tool(where: str, argv: list[str]) -> None:
    program = argv[0].rsplit("/", 1)[-1]
    rest: list[Any] = argv[1:]
    sub = None
    if program in WITH_SUBCOMMANDS:
        sub = rest[0]
        assert not sub.startswith("-"), f"{where}: no subcommand"
    text = help_text(program, sub)
    for arg in rest:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            assert f"{flag} " in text or f"{flag}\n" in text or f"{flag}," in text, (
                f"{where}: {program} {sub or ''} has no {flag}"
            )
