"""``dpi-watch``: edge sensor over nginx logs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import stub_main


def main(argv: Sequence[str] | None = None) -> int:
    return stub_main("dpi-watch", "edge sensor over nginx logs", "issue 4", argv)


if __name__ == "__main__":
    sys.exit(main())
