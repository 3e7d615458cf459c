"""A command on a real pseudo-terminal, as a user runs it: Ctrl-C is a byte typed into it.

The terminal driver turns ``\\x03`` into SIGINT for the foreground process group, exactly
as when a user presses Ctrl-C; ``killpg`` from a test would hit processes a real
terminal would not (``make`` itself, when the supervisor took the foreground).
"""

from __future__ import annotations

import os
import pty
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


class Terminal:
    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: its own session, the pty as controlling terminal
            try:
                os.chdir(cwd)
                os.execvpe(argv[0], list(argv), env)  # noqa: S606 (argv, no shell)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.returncode: int | None = None

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                return
            if not chunk:
                return
            with self._lock:
                self._buffer.extend(chunk)

    def output(self) -> str:
        with self._lock:
            data = bytes(self._buffer)
        return _ANSI.sub(b"", data).replace(b"\r\n", b"\n").decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while text not in (out := self.output()):
            if self.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not printed; output so far:\n{out[-3000:]}")
            time.sleep(0.05)
        return out

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"still running after {timeout}s:\n{self.output()[-3000:]}")
            time.sleep(0.05)
        self._reader.join(5)
        return code

    def close(self) -> None:
        os.close(self.fd)
