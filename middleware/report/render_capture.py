"""What packet captures show about corrupted requests, below ``dpi-report``'s table."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from middleware.report.build import Report

MAX_ROWS = 50  # --json lists every event


def _ttls(peer: dict[int, int]) -> str:
    return ", ".join(f"{ttl}×{n}" for ttl, n in peer.items()) or "—"


def render_capture_text(report: Report, console: Console) -> None:
    """One row per corrupted request found in a capture (none: nothing printed)."""
    for i in report.inputs:
        s = i.capture
        if s is None:
            continue
        cut = f"; stopped early: {s.cut_short}" if s.cut_short else ""
        console.print(
            Text(
                f"{i.path}: {s.format}{' (gzip)' if s.gzipped else ''}, {s.frames:,} frames, "
                f"{s.connections:,} connections ({s.http:,} HTTP/1, {s.tls:,} TLS not "
                f"inspectable, {s.other:,} other), {s.requests:,} requests, {s.gaps} gaps, "
                f"{s.snapped} frames cut by the snap length{cut}"
            )
        )
    if not report.captured:
        return
    table = Table(title="What the captures show", title_justify="left")
    for name in ("time (UTC)", "client", "stream", "frames", "TTL", "others' TTLs", "IP ID"):
        table.add_column(name, justify="right" if name != "client" else "left")
    table.add_column("TCP checksum")
    table.add_column("where")
    for c in report.captured[:MAX_ROWS]:
        ev = c.capture
        assert ev is not None
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.time)),
            Text(ev.client + (" (PROXY: " + c.client + ")" if ev.proxied else "")),
            str(ev.stream),
            f"{ev.frame} of {', '.join(map(str, ev.frames))}",
            str(ev.ttl),
            _ttls(ev.peer_ttls),
            str(ev.ip_id) if ev.ip_id is not None else "—",
            ev.checksum,
            ev.field,
        )
    console.print(table)
    if len(report.captured) > MAX_ROWS:
        console.print(f"({len(report.captured) - MAX_ROWS} more; --json lists all)")
