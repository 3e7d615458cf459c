"""``printer-sync``: push renewed certificates to printers and prove they serve them.

Each subcommand lives in its own module ``printer_sync/cmd_<name>.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("status", "push", "watch", "hook", "history", "emulate", "identify")


DESCRIPTION = """\
Push renewed TLS certificates to printers' web UIs (Epson first), validate them first,
and prove the printer serves them afterwards. Each command has its own --help.

examples:
  printer-sync status --config /etc/printer-sync/printers.toml
  printer-sync push --all --config /etc/printer-sync/printers.toml
  printer-sync watch --config /etc/printer-sync/printers.toml
  printer-sync emulate --state-dir /tmp/epson --password-file pw.txt

exit codes: 0 done; 1 the work failed (a printer unreachable, a push not verified);
2 usage or configuration error (one line names the option or key); 130 interrupted."""


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "printer-sync",
        DESCRIPTION,
        "printer_sync",
        SUBCOMMANDS,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
