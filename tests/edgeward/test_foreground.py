"""Taking the terminal's foreground, on a real pseudo-terminal.

The script runs as a session leader on a new pty (as a shell would); it forks a child that
stays in the leader's process group, like a supervisor started by ``make``. The child
takes the foreground in a group of its own and hands it back; a child started in the
background, or a process without a terminal, leaves the terminal alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from edgeward.foreground import foreground_group

    def report(tag):
        tty = os.open("/dev/tty", os.O_RDWR)
        fg = os.tcgetpgrp(tty)
        os.close(tty)
        print(tag, "own-group" if os.getpgrp() == os.getpid() else "shared-group",
              "foreground" if fg == os.getpgrp() else "background", flush=True)

    mode = sys.argv[1]
    leader_group = os.getpgrp()
    pid = os.fork()
    if pid == 0:
        if mode == "background":
            os.setpgid(0, 0)  # a group the terminal does not have in the foreground
        with foreground_group() as took:
            print("took", took, flush=True)
            report("inside")
        os._exit(0)
    os.waitpid(pid, 0)
    report("after")
    print("done", flush=True)
    """
)


def _run(mode: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    term = Terminal([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, env=env)
    try:
        term.wait_for("done", timeout=60)
        assert term.wait(timeout=30) == 0, term.output()
        return term.output()
    finally:
        term.close()


@pytest.mark.parametrize(
    ("mode", "lines"),
    [
        # make's child: its own group becomes the foreground; the leader's comes back after
        ("child", ["took True", "inside own-group foreground", "after own-group foreground"]),
        # started in the background: nothing moves
        ("background", ["took False", "inside own-group background", "after own-group foreground"]),
    ],
)
def test_foreground_group_on_a_real_terminal(mode: str, lines: list[str]) -> None:
    out = _run(mode)
    got = [line for line in out.splitlines() if line.startswith(("took", "inside", "after"))]
    assert got == lines, out


def test_the_session_leader_already_leads() -> None:
    script = (
        "from edgeward.foreground import foreground_group\n"
        "with foreground_group() as took:\n    print('took', took, flush=True)\n"
        "print('done', flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    term = Terminal([sys.executable, "-c", script], cwd=ROOT, env=env)
    try:
        out = term.wait_for("done", timeout=60)
    finally:
        term.wait(timeout=30)
        term.close()
    assert "took True" in out


def test_without_a_terminal_nothing_changes() -> None:
    script = (
        "import os\nfrom edgeward.foreground import foreground_group\n"
        "g = os.getpgrp()\n"
        "with foreground_group() as took:\n    print(took, os.getpgrp() == g)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal
        cwd=ROOT,
        check=True,
    )
    assert out.stdout.split() == ["False", "True"]
