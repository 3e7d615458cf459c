"""Take the terminal's foreground for a supervisor, so Ctrl-C reaches it and not ``make``.

A terminal sends Ctrl-C's SIGINT to its whole foreground process group: under
``make run`` that includes ``make`` itself, which then reports ``*** [run] Interrupt`` or
``Error 130`` and exits non-zero, however cleanly the services stopped. A job-control
shell solves the same problem for its jobs: the supervisor moves into its own process
group and makes that group the terminal's foreground, then hands the terminal back when
it is done. ``make`` only sees its child exit 0.

Without a controlling terminal (CI, a test's pipe) or when started in the background,
nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator


def _set_foreground(fd: int, group: int) -> None:
    # tcsetpgrp from a background group raises SIGTTOU; ignore it for the call, as shells do.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)


@contextlib.contextmanager
def foreground_group() -> Iterator[bool]:
    """Run the block in its own foreground process group; yields whether it could."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        yield False
        return
    try:
        parent_group = os.getpgrp()
        if os.tcgetpgrp(fd) != parent_group:
            yield False  # started in the background: leave the terminal alone
            return
        if parent_group == os.getpid():
            yield True  # already leads the foreground group (started by a shell, not make)
            return
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
        try:
            yield True
        finally:
            with contextlib.suppress(OSError):
                _set_foreground(fd, parent_group)
    finally:
        os.close(fd)
