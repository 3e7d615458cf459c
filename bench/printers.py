"""printer-sync: ``status`` of 50 printers, and what a push costs beyond the reboot.

One run on loopback against the package's Epson emulator (real TLS, real downtime):

1. ``printer-sync status --json`` on 50 emulated printers, the real command in its own
   process, end to end (interpreter start included). The 50 emulators share one other
   process (one event loop), as 50 devices on a LAN would share nothing with us.
   Target < 3 s. Baseline in the same run: the 50 checks in-process, concurrently
   and one after the other, to show what checking concurrently buys and how much of the
   command's time is interpreter start.
2. One push's wall time minus the emulator's reboot downtime (``--reboot-seconds``,
   times the reboots the push waited for): login, token, upload, polling for the
   printer's return, verification handshake. Measured for the monthly case (a renewal
   on a printer already using a CA-signed certificate: one reboot) and for the first push
   (self-signed → CA-signed: two reboots). Target < 2 s.

Each figure prints one line with its ratio to the target (below 1.0 meets it).

    .venv/bin/python bench/printers.py [--printers 50] [--reboot-seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgeward.files import atomic_write  # noqa: E402
from edgeward.pki import Issued, issue, make_ca  # noqa: E402
from printer_sync.config import load_config  # noqa: E402
from printer_sync.emulator import Emulator, EmulatorThread  # noqa: E402
from printer_sync.push import push_all  # noqa: E402
from printer_sync.status import check_all, check_printer, widen_executor  # noqa: E402

PASSWORD = "bench-Pa55-only-here"
STATUS_TARGET = 3.0
PUSH_TARGET = 2.0


def serve(count: int, state: Path) -> None:
    """Child process: ``count`` emulators on one loop; print their ports; run until stdin ends."""
    emus = [Emulator(state / f"e{i}", password=PASSWORD) for i in range(count)]
    with EmulatorThread(emus):
        print(json.dumps([e.port for e in emus]), flush=True)
        sys.stdin.read()


def write_leaf(folder: Path, inter: Issued) -> Issued:
    leaf = issue(inter, ["printer.bench.test", "127.0.0.1"], days=90)
    atomic_write(folder / "chain.pem", inter.cert_pem())
    atomic_write(folder / "key.pem", leaf.key_pem(), mode=0o600)
    atomic_write(folder / "cert.pem", leaf.cert_pem())
    return leaf


def write_config(path: Path, urls: list[str], certs: Path, **top: object) -> Path:
    lines = [f"{k} = {json.dumps(v)}" for k, v in top.items()]
    for i, url in enumerate(urls):
        lines += [
            "[[printer]]",
            f'name = "p{i:02d}"',
            f'url = "{url}"',
            f'password_file = "{certs / "pass"}"',
            f'key = "{certs / "key.pem"}"',
            f'cert = "{certs / "cert.pem"}"',
            f'chain = "{certs / "chain.pem"}"',
            "reboot_timeout = 60.0",
            "timeout = 10.0",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def bench_status(tmp: Path, count: int, rounds: int, inter: Issued) -> None:
    certs = tmp / "certs"
    write_leaf(certs, inter)
    (certs / "pass").write_text(PASSWORD + "\n")
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count), "--state", str(tmp / "emulators")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert child.stdout is not None
        ports = json.loads(child.stdout.readline())
        urls = [f"https://127.0.0.1:{p}" for p in ports]
        cfg = write_config(tmp / "status.toml", urls, certs, state_dir=str(tmp / "state"))
        argv = [sys.executable, "-m", "printer_sync", "status", "--json", "--config", str(cfg)]
        walls = []
        for _ in range(rounds):
            started = time.perf_counter()
            run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
            walls.append(time.perf_counter() - started)
            states = [p["state"] for p in json.loads(run.stdout)]
            assert len(states) == count and "unreachable" not in states, states
        config = load_config(cfg)

        async def checks(concurrently: bool) -> float:
            widen_executor(asyncio.get_running_loop(), count)
            started = time.perf_counter()
            if concurrently:
                got = await check_all(config)
            else:
                got = [await check_printer(p, None) for p in config.printers]
            assert all(s.reachable for s in got)
            return time.perf_counter() - started

        together = statistics.median(asyncio.run(checks(True)) for _ in range(rounds))
        one_by_one = statistics.median(asyncio.run(checks(False)) for _ in range(rounds))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    wall = statistics.median(walls)
    print(
        f"status of {count} printers (printer-sync status --json, median of {rounds}): "
        f"{wall:.2f} s; target {STATUS_TARGET:g} s: ratio {wall / STATUS_TARGET:.2f}"
    )
    print(
        f"the {count} checks in-process: concurrently {together:.2f} s, one by one "
        f"{one_by_one:.2f} s: ratio {one_by_one / together:.1f}x (the rest of the command's "
        f"time is interpreter start and imports)"
    )


def bench_push(tmp: Path, reboot: float, inter: Issued) -> None:
    certs = tmp / "push-certs"
    write_leaf(certs, inter)
    (certs / "pass").write_text(PASSWORD + "\n")
    emu = Emulator(tmp / "push-emulator", password=PASSWORD, reboot_seconds=reboot)
    with EmulatorThread([emu]):
        cfg = load_config(write_config(tmp / "push.toml", [emu.url], certs, state_dir=str(tmp)))
        figures = []
        for case in ("first push (self-signed -> CA-signed)", "renewal push (monthly case)"):
            if figures:
                write_leaf(certs, inter)
            reboots = emu.reboots
            (result,) = asyncio.run(push_all(cfg))
            assert result.outcome == "verified", result
            waited = (emu.reboots - reboots) * reboot
            figures.append((case, result.duration, waited, emu.reboots - reboots))
    for case, duration, waited, n in figures:
        beyond = duration - waited
        print(
            f"{case}: {duration:.2f} s with {n} reboot(s) of {reboot:g} s; beyond the "
            f"reboots {beyond:.2f} s; target {PUSH_TARGET:g} s: ratio {beyond / PUSH_TARGET:.2f}"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--printers", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reboot-seconds", type=float, default=2.0)
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.state)
        return 0
    root = make_ca("printer bench root")
    inter = make_ca("printer bench intermediate", issuer=root)
    with tempfile.TemporaryDirectory(prefix="edgeward-bench-printers-") as d:
        bench_status(Path(d), args.printers, args.rounds, inter)
        bench_push(Path(d), args.reboot_seconds, inter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
