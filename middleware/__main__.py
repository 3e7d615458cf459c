"""``python -m middleware COMMAND ...`` runs one of the middleware's commands."""

from __future__ import annotations

import sys

from middleware.cli import dispatch

if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
