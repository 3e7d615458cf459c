"""Find a system tool (nginx, snmpd...) the way a root shell would.

Debian installs daemons in ``sbin``, which a non-root ``PATH`` often lacks: ``nginx`` is
installed and still "not found". The demo and the tests look in those folders too.
"""

from __future__ import annotations

import os
import shutil
from typing import Final

SBIN_DIRS: Final = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_tool(name: str, path: str | None = None) -> str | None:
    """The path of executable ``name`` on ``path`` (default ``PATH``) or in the sbin
    folders, else None."""
    return shutil.which(name, path=path) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
