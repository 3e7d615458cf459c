"""``make run``: the whole suite on loopback, on embedded defaults.

1. Each package's ``<package>.demo.prepare(var)`` (:data:`PACKAGES`) writes what its
   services need under ``./var/`` (keys, certificates, generated passwords,
   configuration) and returns the lines worth printing: where things are, and commands
   to try, written ``$ command`` and printed so that they run as shown.
2. ``deploy/Procfile`` lists every service (``edgeward/shipped.py`` finds it in a checkout
   or in the installed wheel). A service whose program is missing and optional
   (:data:`OPTIONAL`, nginx) is left out with the command that installs it.
3. honcho (an existing process manager) runs them in this process: one coloured,
   prefixed log stream. Ctrl-C stops everything and ``make run`` exits 0.

``python -m edgeward.run --check`` starts nothing: it reads the Procfile and checks that
every service's program exists (exit 0 yes, 1 a required one is missing, 2 a bad Procfile).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from edgeward.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from edgeward.foreground import foreground_group
from edgeward.optional import MissingExtra, require
from edgeward.procfile import ProcfileError, Service, read_procfile
from edgeward.shipped import CHECKOUT, deploy_file, in_checkout
from edgeward.which import SBIN_DIRS, find_tool

# The packages whose ``demo.prepare(var)`` runs before the services start.
PACKAGES: Final = ("middleware", "caldav_gateway", "printer_sync")

# Where each service can be reached; printed once at start-up.
URLS: Final = {
    "app": "http://127.0.0.1:8000  (demo app with the middleware; /metrics there too)",
    "nginx": "http://127.0.0.1:8080 and https://127.0.0.1:8444  (the shipped deploy/nginx "
    "vhost in front of the app)",
    "dpi-watch": "http://127.0.0.1:9467/metrics  (edge sensor reading nginx's access log, "
    "var/nginx/logs/edgeward-access.log)",
    "caldav": "https://127.0.0.1:8443  (CalDAV only; metrics http://127.0.0.1:9465/metrics)",
    "printer-emulator": "https://127.0.0.1:9443  (Epson Web Config emulator)",
    "printer-sync": "http://127.0.0.1:9466/metrics  (printer-sync watch)",
}

# Programs a service may lack: the service is left out, the banner says how to install.
OPTIONAL: Final = {
    "nginx": "nginx is not installed, so dpi-watch has no log to read: "
    "apt-get install nginx, then make run again",
}

# Honcho's return code when it stopped everything on a signal (Ctrl-C, SIGTERM).
_STOPPED_BY_SIGNAL: Final = (130, 143)


def procfile() -> Path:
    """The Procfile ``make run`` reads (the checkout's, else the wheel's copy)."""
    return deploy_file("Procfile")


def search_path(bin_dir: Path) -> str:
    """PATH for the services: this environment's console scripts first, sbin last."""
    parts = [str(bin_dir), *os.environ.get("PATH", "").split(os.pathsep)]
    parts += [d for d in SBIN_DIRS if d not in parts]
    return os.pathsep.join(p for p in parts if p)


def missing(services: Sequence[Service], path: str) -> dict[str, str]:
    """Services whose program is not found on ``path``: name → program."""
    return {s.name: s.executable for s in services if find_tool(s.executable, path) is None}


def check(services: Sequence[Service], path: str) -> int:
    """``--check``: one line per service; exit 1 if a required program is missing."""
    absent = missing(services, path)
    width = max(len(s.name) for s in services)
    for s in services:
        if s.name not in absent:
            print(f"ok       {s.name:<{width}}  {find_tool(s.executable, path)}")
        elif s.executable in OPTIONAL:
            print(f"skipped  {s.name:<{width}}  {OPTIONAL[s.executable]}")
        else:
            print(f"missing  {s.name:<{width}}  {s.executable!r} not found on PATH")
    required = [name for name, program in absent.items() if program not in OPTIONAL]
    return EXIT_FAILED if required else EXIT_OK


def prepare_all(var: Path) -> list[str]:
    notes: list[str] = []
    for package in PACKAGES:
        try:
            module = importlib.import_module(f"{package}.demo")
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] in PACKAGES:
                raise  # our own code is broken: a traceback is the right answer
            raise MissingExtra(
                f"make run needs {exc.name}, which is not installed: pip install 'edgeward[demo]'"
            ) from None
        prepare: Callable[[Path], list[str]] = module.prepare
        notes.extend(prepare(var))
    return notes


def activation(bin_dir: Path) -> str | None:
    """The line that puts this environment's commands on the user's PATH, if needed."""
    activate = bin_dir / "activate"
    on_path = str(bin_dir) in os.environ.get("PATH", "").split(os.pathsep)
    return None if on_path or not activate.exists() else f"source {activate}"


def banner(
    services: Sequence[Service],
    skipped: set[str],
    notes: Sequence[str],
    var: Path,
    activate: str | None = None,
) -> str:
    width = max(len(s.name) for s in services)
    lines = ["edgeward — the whole suite on loopback (Ctrl-C stops everything)"]
    for s in services:
        where = OPTIONAL[s.executable] if s.name in skipped else URLS.get(s.name, "")
        lines.append(f"  {s.name:<{width}}  {where}")
    if activate and any(n.startswith("$ ") for n in notes):
        lines.append("  commands to try in another terminal, once this environment is active:")
        lines.append(f"    $ {activate}")
    for note in notes:
        lines.append(f"    {note}" if note.startswith("$ ") else f"  {note}")
    lines.append(f"  state and generated files: {var}")
    return "\n".join(lines)


def supervise(services: Sequence[Service], cwd: Path) -> int:
    """Run ``services`` under honcho until Ctrl-C or one of them stops."""
    require("honcho", extra="demo", needed_for="make run starts the services with honcho")
    from honcho.manager import Manager
    from honcho.printer import Printer

    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    for s in services:
        manager.add_process(s.name, s.command, env=dict(os.environ), cwd=str(cwd))
    with foreground_group():
        manager.loop()
    if manager.returncode in _STOPPED_BY_SIGNAL:
        return EXIT_OK
    print(f"a service stopped on its own (exit code {manager.returncode}): see its lines above")
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m edgeward.run",
        description="What `make run` starts: every edgeward service on loopback.",
        epilog="exit codes: 0 stopped by Ctrl-C / check passed, 1 a service failed or a "
        "required program is missing, 2 a bad Procfile.",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="start nothing: check the Procfile and that every service's program exists",
    )
    args = p.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    path = search_path(bin_dir)
    try:
        services = read_procfile(procfile())
    except (ProcfileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        return check(services, path)
    default_var = (CHECKOUT if in_checkout() else Path.cwd()) / "var"
    var = Path(os.environ.get("EDGEWARD_VAR", default_var)).resolve()
    var.mkdir(parents=True, exist_ok=True)
    os.environ["EDGEWARD_VAR"] = str(var)
    activate = activation(bin_dir)  # judged on the user's PATH, before ours replaces it
    os.environ["PATH"] = path
    absent = missing(services, path)
    required = sorted(n for n, program in absent.items() if program not in OPTIONAL)
    if required:
        names = ", ".join(f"{n} ({absent[n]})" for n in required)
        print(
            f"error: program not found for {names}: python -m edgeward.run --check", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        notes = prepare_all(var)
        print(banner(services, set(absent), notes, var, activate), flush=True)
        active = [s for s in services if s.name not in absent]
        # Procfile paths are relative to the repository; installed, relative to var.
        return supervise(active, CHECKOUT if in_checkout() else var)
    except MissingExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
