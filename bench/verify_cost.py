"""Benchmark: instructions per call of ``verify_url`` and ``hmac.digest``, by target length.

The deterministic companion of ``signed_urls.py``'s wall-clock ratio: what the machine's
load cannot move. One Python process runs under ``valgrind --tool=callgrind`` with the
garbage collector on and a fixed hash seed; it reads commands ("call F at length L, K
times") on stdin and is idle, blocked in ``read``, between them. For each function and
length the counter is zeroed, K = N calls run, the counter is read, then the same for
K = 2N; the difference is exactly N calls' work (start-up, the command and the reading
cancel out). Rounds repeat that, and their spread is printed.

What instructions do not show: OpenSSL hashes with the CPU's SHA extensions where it has
them, and valgrind hides those extensions, so under callgrind SHA-256 runs in plain x86
instructions and weighs several times more than on the CPU. The ratio here is therefore
lower than the wall-clock ratio; use it to see a change in ``verify_url``'s own work
(the absolute count, stable to a few instructions), and the wall-clock figure of
``signed_urls.py`` for the goal.

Run: ``.venv/bin/python bench/verify_cost.py`` (a few minutes; the load only changes
how long it takes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cost import _control, instructions, spread
from signed_urls import RING, _target

from middleware.signed import sign_url

KEY = b"secret-key-for-test-vectors-0001"
LENGTHS = (40, 61, 95, 150, 200)
# The bench's usual target (it has a query, so "&exp=") and the same without a query
# ("?exp=", the hot path's second reading).
SHAPES = {"query": "?w=640", "no query": "/w-640"}


def cases() -> dict[tuple[str, int], tuple[bytes, bytes]]:
    """(shape, length) → (signed URL, the message hmac.digest gets: everything before &sig=)."""
    out = {}
    for shape, tail in SHAPES.items():
        for length in LENGTHS:
            url = sign_url(_target(length).replace("?w=640", tail), RING, expires_at=4_000_000_000)
            out[shape, length] = (url.encode(), url.rsplit("&sig=", 1)[0].encode())
    return out


def child() -> int:
    """Inside valgrind: run what stdin asks for, answer "ok" on stdout."""
    import gc
    import hmac

    from middleware.signed import verify_url

    digest = hmac.digest
    table = cases()
    for url, _ in table.values():
        assert verify_url(url, RING, now=1.0).ok
    gc.enable()
    for line in sys.stdin:
        name, rest = line.split(" ", 1)
        shape, length, count = rest.rsplit(" ", 2)
        url, message = table[shape, int(length)]
        if name == "verify":
            for _ in range(int(count)):
                verify_url(url, RING, now=1.0)
        else:
            for _ in range(int(count)):
                digest(KEY, message, "sha256")
        sys.stdout.write("ok\n")
        sys.stdout.flush()
    return 0


@contextlib.contextmanager
def under_callgrind(tmp: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    prefix = str(tmp / "vgdb")
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--vgdb-prefix={prefix}",
        f"--callgrind-out-file={tmp / 'callgrind.%p'}",
        sys.executable,
        __file__,
        "--child",
    ]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    try:
        yield proc, prefix
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=500, help="calls in the small batch")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per function and length")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("bench/verify_cost.py: valgrind is not installed (apt-get install valgrind)")
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="edgeward-verify-cost-") as tmp,
        under_callgrind(Path(tmp)) as (proc, prefix),
    ):
        assert proc.stdin is not None and proc.stdout is not None

        def run(name: str, shape: str, length: int, count: int) -> None:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"{name} {shape} {length} {count}\n")
            proc.stdin.flush()
            if proc.stdout.readline() != "ok\n":
                raise RuntimeError("the process under callgrind did not answer")

        def per_call(name: str, shape: str, length: int) -> list[float]:
            out = []
            for _ in range(args.rounds):
                counts = []
                for count in (args.n, 2 * args.n):
                    _control(proc.pid, prefix, "--zero")
                    run(name, shape, length, count)
                    counts.append(instructions(proc.pid, prefix))
                out.append((counts[1] - counts[0]) / args.n)
            return out

        for shape in SHAPES:  # warm-up: imports, caches, the specialising interpreter
            for length in LENGTHS:
                run("verify", shape, length, 100)
                run("digest", shape, length, 100)
        ratios, spreads = [], []
        for shape in SHAPES:
            for length in LENGTHS:
                verify = per_call("verify", shape, length)
                digest = per_call("digest", shape, length)
                ratio = statistics.median(verify) / statistics.median(digest)
                ratios.append(ratio)
                spreads += [spread(verify), spread(digest)]
                print(
                    f"{shape}, {length} bytes: verify_url {statistics.median(verify):,.0f} "
                    f"instructions per call, hmac.digest {statistics.median(digest):,.0f}: "
                    f"ratio {ratio:.3f}"
                )
    print(
        f"SUMMARY instructions: verify_url ÷ hmac.digest per call (callgrind, collector on, "
        f"lengths {LENGTHS[0]}-{LENGTHS[-1]}, targets with and without a query): worst "
        f"{max(ratios):.3f}, best {min(ratios):.3f} (SHA-256 without the CPU's SHA "
        f"extensions under valgrind, so lower than the wall-clock ratio); spread over "
        f"{args.rounds} rounds at most {max(spreads):.3f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
