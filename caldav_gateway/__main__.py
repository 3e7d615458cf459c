"""``python -m caldav_gateway`` is ``caldav-gateway``."""

from __future__ import annotations

import sys

from caldav_gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
