"""The middleware's command-line tools: ``signed-url``, ``dpi-watch``, ``dpi-report``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "signed-url": ("middleware.cli.signed_url", "sign and verify URLs, make keys"),
    "dpi-watch": ("middleware.cli.dpi_watch", "edge sensor reading nginx's logs"),
    "dpi-report": ("middleware.cli.dpi_report", "which networks corrupt traffic"),
}


def dispatch(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m middleware COMMAND [ARGS...]\n\ncommands:", file=sys.stderr)
        for name, (_, what) in COMMANDS.items():
            print(f"  {name:<11} {what}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(list(argv[1:])))
