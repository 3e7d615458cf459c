"""``python -m printer_sync`` is ``printer-sync``."""

from __future__ import annotations

import sys

from printer_sync.cli import main

if __name__ == "__main__":
    sys.exit(main())
