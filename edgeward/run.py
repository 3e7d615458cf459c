"""``make run``: the whole suite on loopback, on embedded defaults.

1. Each tool's ``<package>.demo.prepare(var)`` writes what its services need under
   ``./var/`` (keys, certificates, generated passwords, configuration) and returns the
   lines worth printing (where things are, the demo password).
2. ``deploy/Procfile`` lists every service; a line still commented out (``#name: ...``)
   is a service whose issue has not landed, printed as "not built yet".
3. The active lines run under honcho (an existing process manager): one coloured,
   prefixed log stream, and Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeward.cli import EXIT_NOTHING_TO_RUN

ROOT: Final = Path(__file__).resolve().parent.parent
PROCFILE: Final = ROOT / "deploy" / "Procfile"
_LINE: Final = re.compile(r"^(#\s*)?([A-Za-z0-9_-]+):\s*(.+)$")

# Where each service can be reached; printed once at start-up.
URLS: Final = {
    "app": "http://127.0.0.1:8000  (demo app with the middleware; /metrics there too)",
    "dpi-watch": "http://127.0.0.1:9467/metrics  (edge sensor reading var/nginx/*.log)",
    "caldav": "https://127.0.0.1:8443  (CalDAV only; metrics http://127.0.0.1:9465/metrics)",
    "printer-emulator": "https://127.0.0.1:9443  (Epson Web Config emulator)",
    "printer-sync": "http://127.0.0.1:9466/metrics  (printer-sync watch)",
    "vpn": "http://127.0.0.1:8600/d/  (one-time VPN links; metrics http://127.0.0.1:9468/metrics)",
}


@dataclass(frozen=True)
class Service:
    name: str
    command: str
    built: bool


def read_procfile(path: Path = PROCFILE) -> list[Service]:
    services = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if m:
            services.append(Service(m.group(2), m.group(3), built=m.group(1) is None))
    return services


def prepare_all(var: Path) -> list[str]:
    notes: list[str] = []
    for package in ("middleware", "caldav_gateway", "printer_sync", "vpn_provision"):
        try:
            module = importlib.import_module(f"{package}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.demo":
                raise
            continue
        prepare: Callable[[Path], list[str]] | None = getattr(module, "prepare", None)
        if prepare is not None:
            notes.extend(prepare(var))
    return notes


def main() -> int:
    var = Path(os.environ.get("EDGEWARD_VAR", ROOT / "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    os.environ["EDGEWARD_VAR"] = str(var)
    # The commands in the Procfile are the console scripts of this virtual environment.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    notes = prepare_all(var)
    services = read_procfile()
    width = max(len(s.name) for s in services)
    print("edgeward — the whole suite on loopback (Ctrl-C stops everything)")
    for s in services:
        where = URLS.get(s.name, "") if s.built else "not built yet"
        print(f"  {s.name:<{width}}  {where}")
    for note in notes:
        print(f"  {note}")
    print(f"  state and generated files: {var}")
    active = [s for s in services if s.built]
    if not active:
        print("nothing to run yet", file=sys.stderr)
        return EXIT_NOTHING_TO_RUN
    procfile = var / "Procfile"
    procfile.write_text("".join(f"{s.name}: {s.command}\n" for s in active), encoding="utf-8")
    honcho = shutil.which("honcho")
    if honcho is None:
        print(
            "honcho is missing: run 'make run' so the virtual environment is set up",
            file=sys.stderr,
        )
        return 2
    sys.stdout.flush()
    os.execv(honcho, [honcho, "start", "-f", str(procfile), "-d", str(ROOT)])  # noqa: S606


if __name__ == "__main__":
    sys.exit(main())
