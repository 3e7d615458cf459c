"""The files of ``deploy/`` that ``make run`` reads, from a checkout or from the wheel.

In a checkout (``make run``, an editable install) they are read where they are edited,
``deploy/``. A wheel carries a copy under ``edgeward/_deploy/`` (``setup.py`` puts it
there at build time, so there is one source and nothing to keep in sync by hand).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

_PACKAGE: Final = Path(__file__).resolve().parent
CHECKOUT: Final = _PACKAGE.parent
PACKAGED: Final = _PACKAGE / "_deploy"
# What the wheel carries (paths relative to deploy/); setup.py copies exactly these.
FILES: Final = (
    "Procfile",
    "nginx/edgeward-app.conf",
    "nginx/edgeward-log-formats.conf",
    "nginx/realip.conf",
)


def in_checkout() -> bool:
    """True when this package runs from the repository (not from an installed wheel)."""
    return (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "deploy").is_dir()


def deploy_file(relative: str) -> Path:
    """``deploy/<relative>``: the checkout's own file, else the copy in the wheel."""
    base = CHECKOUT / "deploy" if in_checkout() else PACKAGED
    path = base / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not shipped with edgeward (looked in {base})")
    return path
