"""``dpi-report --dask SCHEDULER``: the map step (read each input) on a Dask cluster.

Each input is read on a worker into a :class:`~middleware.report.inputs.Collected`, where
the file is, and only that comes back: requests per client, the corrupted requests, the
input's counts (kilobytes for a log of gigabytes). The results are absorbed in the order
the inputs were given, so the report equals one local run over the same files.

``HOST::PATH`` pins an input to the workers on ``HOST`` (Dask's ``workers=`` restriction,
no fallback to others): a fleet's logs are read on their own machines, never copied. A plain
path goes to any worker, for files every worker sees (a shared file system).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from edgeward.cli import UsageError
from edgeward.optional import require
from middleware.edge.realip import RealClient
from middleware.report.inputs import Collected, read_file

CONNECT_SECONDS: Final = 30.0


def pinned(spec: str) -> tuple[str | None, str]:
    """``(host, path)`` of ``HOST::PATH``; ``(None, spec)`` for a plain path."""
    host, sep, path = spec.partition("::")
    if not sep or not host or not path or "/" in host:
        return None, spec
    return host, path


def read_one(path: str, trusted_proxies: list[str]) -> Collected:
    """Run on a worker: one input read into its own :class:`Collected`."""
    collected = Collected()
    read_file(Path(path), collected, trusted=RealClient(trusted_proxies))
    return collected


def read_on_dask(scheduler: str, inputs: list[str], trusted_proxies: list[str]) -> Collected:
    """Every input read on the cluster at ``scheduler``, absorbed in the order given.

    An input error on a worker (:class:`~middleware.report.inputs.InputError`) comes back
    as itself; a scheduler that cannot be reached is a :class:`UsageError`.
    """
    distributed: Any = require("distributed", extra="dask", needed_for="--dask")
    # Its INFO lines (connections, closing comms) are not the report's: warnings and up.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if "-" in inputs:
        raise UsageError("--dask: standard input (-) is read here, not on a worker")
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise UsageError(f"--dask {scheduler}: cannot connect: {exc}") from None
    with client:
        futures = []
        for spec in inputs:
            host, path = pinned(spec)
            futures.append(
                client.submit(
                    read_one,
                    path,
                    list(trusted_proxies),
                    pure=False,
                    workers=[host] if host else None,
                    allow_other_workers=False,
                )
            )
        results: list[Collected] = client.gather(futures)
    out = Collected()
    for part in results:
        out.absorb(part)
    return out
