"""``caldav-gateway``: serve Radicale on a dedicated port; check a deployment.

Each subcommand lives in its own module ``caldav_gateway/cmd_<name>.py`` exposing
``HELP``, ``DESCRIPTION``, ``EPILOG``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from edgeward import cli

SUBCOMMANDS = ("serve", "doctor")


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.parser(
        "caldav-gateway",
        "CalDAV for Apple devices: Radicale on a dedicated port with its own certificate; "
        "probe paths get 404, never 401.",
    )
    sub = cli.subcommands(p)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"caldav_gateway.cmd_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"caldav_gateway.cmd_{name}":
                raise
            sp = cli.add_subcommand(sub, name, f"{name} (not built yet: issue 5)")
            sp.set_defaults(
                func=lambda args, n=name: cli.not_built(f"caldav-gateway {n}", "issue 5")
            )
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
