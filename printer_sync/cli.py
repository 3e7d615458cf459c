"""``printer-sync``: push renewed certificates to printers and prove they serve them.

Each subcommand lives in its own module ``printer_sync/cmd_<name>.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("status", "push", "watch", "hook", "history", "emulate", "identify")


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "printer-sync",
        "Push renewed TLS certificates to printers' web UIs (Epson first), validate them "
        "first, and prove the printer serves them afterwards.",
        "printer_sync",
        SUBCOMMANDS,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
