"""The middleware's command-line tools: ``signed-url``, ``dpi-watch``, ``dpi-report``."""

from __future__ import annotations

from collections.abc import Sequence

from edgeward.cli import tool_group

COMMANDS = {
    "signed-url": ("middleware.cli.signed_url", "sign and verify URLs, make keys"),
    "dpi-watch": ("middleware.cli.dpi_watch", "edge sensor reading nginx's logs"),
    "dpi-report": ("middleware.cli.dpi_report", "which networks corrupt traffic"),
}

EPILOG = """\
examples:
  python -m middleware dpi-watch tail /var/log/nginx/access.log
  python -m middleware signed-url --help

exit codes: those of the command run; 2 for an unknown or missing COMMAND.
"""


def dispatch(argv: Sequence[str]) -> int:
    return tool_group(
        "python -m middleware",
        "Run one of the middleware's commands (the same as its console script).",
        COMMANDS,
        argv,
        epilog=EPILOG,
    )
