"""``printer-sync``: push renewed certificates to printers and prove they serve them."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import stub_main


def main(argv: Sequence[str] | None = None) -> int:
    return stub_main("printer-sync", "printer certificate sidecar", "issue 6", argv)


if __name__ == "__main__":
    sys.exit(main())
