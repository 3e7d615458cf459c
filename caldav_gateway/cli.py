"""``caldav-gateway``: serve Radicale on a dedicated port; check a deployment."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import stub_main


def main(argv: Sequence[str] | None = None) -> int:
    return stub_main("caldav-gateway", "CalDAV gateway for Apple clients", "issue 5", argv)


if __name__ == "__main__":
    sys.exit(main())
