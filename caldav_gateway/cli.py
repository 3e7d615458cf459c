"""``caldav-gateway``: serve Radicale on a dedicated port; check a deployment.

Each subcommand lives in its own module ``caldav_gateway/cmd_<name>.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import command_group

SUBCOMMANDS = ("serve", "doctor", "profile")
EPILOG = """\
examples:
  # serve (see: caldav-gateway serve --help)
  caldav-gateway serve --config /etc/caldav-gateway/gateway.toml

  # check it the way an iPhone meets it
  caldav-gateway doctor https://cal.example.org:8443/ --user alice \\
      --password-file ~/.config/cal.pw

  # a one-tap account profile for alice's iPhone, handed out once through a link
  caldav-gateway profile alice --host cal.example.org \\
      --config /etc/caldav-gateway/gateway.toml --link

exit codes:
  0  done (doctor: every check passed)
  1  the work failed (serve: a port could not be bound or a worker kept dying;
     doctor: a check failed)
  2  usage or configuration error (the message names the flag, file or key)
  130  interrupted
"""


def main(argv: Sequence[str] | None = None) -> int:
    return command_group(
        "caldav-gateway",
        "CalDAV for Apple devices: Radicale on a dedicated port with its own certificate; "
        "probe paths get 404, never 401.",
        "caldav_gateway",
        SUBCOMMANDS,
        argv,
        epilog=EPILOG,
    )


if __name__ == "__main__":
    sys.exit(main())
