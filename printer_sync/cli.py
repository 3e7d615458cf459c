"""``printer-sync``: push renewed certificates to printers and prove they serve them.

Each subcommand lives in its own module ``printer_sync/cmd_<name>.py`` exposing
``HELP``, ``DESCRIPTION``, ``EPILOG``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from edgeward import cli

SUBCOMMANDS = ("status", "push", "watch", "hook", "history", "emulate", "identify")


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(
        "printer-sync",
        "Push renewed TLS certificates to printers' web UIs (Epson first), validate them "
        "first, and prove the printer serves them afterwards.",
    )
    sub = cli.subcommands(p)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"printer_sync.cmd_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"printer_sync.cmd_{name}":
                raise
            sp = cli.add_subcommand(sub, name, f"{name} (not built yet: issue 6)")
            sp.set_defaults(func=lambda args, n=name: cli.not_built(f"printer-sync {n}", "issue 6"))
            continue
        sp = cli.add_subcommand(
            sub,
            name,
            module.HELP,
            getattr(module, "DESCRIPTION", ""),
            getattr(module, "EPILOG", ""),
        )
        module.add_arguments(sp)
        sp.set_defaults(func=module.run)
    args = p.parse_args(argv)
    return cli.run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
