"""``signed-url``: sign and verify URLs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from edgeward.cli import stub_main


def main(argv: Sequence[str] | None = None) -> int:
    return stub_main("signed-url", "sign and verify URLs", "issue 3", argv)


if __name__ == "__main__":
    sys.exit(main())
