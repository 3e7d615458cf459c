"""What packet captures show about corrupted requests, below ``dpi-report``'s table
(text) and as a section of the HTML page."""

from __future__ import annotations

import html
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from middleware.report.build import Report
from middleware.report.render_json import escape_bytes

MAX_ROWS = 50  # --json lists every event


def _ttls(stream: dict[int, int], peer: dict[int, int]) -> str:
    """The connection's other TTLs, then (when different) all of the address's."""
    text = ", ".join(f"{ttl}×{n}" for ttl, n in stream.items()) or "—"
    if peer != stream:
        text += " (address: " + (", ".join(f"{ttl}×{n}" for ttl, n in peer.items())) + ")"
    return text


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
            _ttls(ev.stream_ttls, ev.peer_ttls),
            str(ev.ip_id) if ev.ip_id is not None else "—",
            ev.checksum,
            ev.field,
        )
    console.print(table)
    if len(report.captured) > MAX_ROWS:
        console.print(f"({len(report.captured) - MAX_ROWS} more; --json lists all)")


def render_capture_html(report: Report) -> str:
    """The same rows as the text, as an HTML section ("" when no capture was read)."""
    if not any(i.capture is not None for i in report.inputs):
        return ""
    e = html.escape
    rows = []
    for c in report.captured[:MAX_ROWS]:
        ev = c.capture
        assert ev is not None
        target = escape_bytes(c.target) if c.target is not None else ev.field
        rows.append(
            f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(c.time))}</td>"
            f"<td>{e(ev.client)}{' (PROXY: ' + e(c.client) + ')' if ev.proxied else ''}</td>"
            f"<td>{ev.stream}</td><td>{ev.frame} of {', '.join(map(str, ev.frames))}</td>"
            f"<td>{ev.ttl}</td><td>{e(_ttls(ev.stream_ttls, ev.peer_ttls))}</td>"
            f"<td>{ev.ip_id if ev.ip_id is not None else '—'}</td><td>{ev.checksum}</td>"
            f"<td><code>{e(target)}</code></td></tr>"
        )
    more = f"<p>({len(report.captured) - MAX_ROWS} more; --json lists all)</p>" * (
        len(report.captured) > MAX_ROWS
    )
    return (
        "<h2>What the captures show</h2>"
        "<table><tr><th>time (UTC)</th><th>client</th><th>stream</th><th>frames</th>"
        "<th>TTL</th><th>others' TTLs</th><th>IP ID</th><th>TCP checksum</th>"
        f"<th>target / where</th></tr>{''.join(rows)}</table>{more}"
    )
