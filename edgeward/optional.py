"""Modules only some features need, and the one line that says which extra installs them.

The bare install is the middleware; a feature that needs more (a MaxMind table needs
``maxminddb``, ``make run`` needs ``honcho``) imports it through :func:`require`, so a
user who lacks it reads ``pip install 'edgeward[mmdb]'`` instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edgeward.cli import UsageError


class MissingExtra(UsageError):
    """An optional module is not installed; the message names the extra (exit code 2)."""


def require(module: str, *, extra: str, needed_for: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``edgeward[extra]``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only the module's own absence: a missing import inside it is a real bug.
        if exc.name is None or module.split(".")[0] != exc.name.split(".")[0]:
            raise
        what = needed_for or f"this feature needs {module}"
        raise MissingExtra(
            f"{what}, which is not installed: pip install 'edgeward[{extra}]'"
        ) from None
