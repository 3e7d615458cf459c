"""``caldav-gateway``: serve Radicale on a dedicated port; check a deployment.

Each subcommand lives in its own module ``caldav_gateway/cmd_<name>.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("serve", "doctor", "profile")


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "caldav-gateway",
        "CalDAV for Apple devices: Radicale on a dedicated port with its own certificate; "
        "probe paths get 404, never 401.",
        "caldav_gateway",
        SUBCOMMANDS,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
