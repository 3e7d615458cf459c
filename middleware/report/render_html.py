"""``dpi-report --html OUT``: one self-contained page (inline CSS and SVG, no scripts, no
external assets), so it can be mailed or opened offline.

The chart is a stacked bar chart of corrupted requests per time bucket, one colour per
network (the eight with the most corrupted requests; the rest stacked as "other").
"""

from __future__ import annotations

import html
import time
from collections import Counter
from typing import Final

from middleware.report.build import Report
from middleware.report.render_capture import render_capture_html
from middleware.report.render_json import escape_bytes
from middleware.report.render_text import p_text, pct

_COLOURS: Final = (
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
)  # fmt: skip
_OTHER_COLOUR: Final = "#999999"
_W: Final = 860
_H: Final = 260
_PAD_L: Final = 48
_PAD_B: Final = 36


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def chart_svg(report: Report) -> str:
    totals = Counter({asn: sum(k for _, k in pts) for asn, pts in report.timeline.items()})
    if not totals:
        return '<p class="muted">No corrupted requests: nothing to chart.</p>'
    top = [asn for asn, _ in totals.most_common(len(_COLOURS))]
    colour: dict[int | None, str] = {asn: _COLOURS[i] for i, asn in enumerate(top)}
    stacks: dict[int, dict[int | None, int]] = {}
    for asn, pts in report.timeline.items():
        key = asn if asn in colour else None
        for t, k in pts:
            cell = stacks.setdefault(t, {})
            cell[key] = cell.get(key, 0) + k
    size = report.bucket_seconds
    t0, t1 = min(stacks), max(stacks) + size
    n_buckets = max(1, (t1 - t0) // size)
    peak = max(sum(c.values()) for c in stacks.values())
    plot_w, plot_h = _W - _PAD_L - 10, _H - _PAD_B - 10
    bar_w = plot_w / n_buckets
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="corrupted requests by network over time">'
    ]
    for i in range(5):  # y grid and labels
        v = peak * i / 4
        y = 10 + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{_PAD_L}" y1="{y:.1f}" x2="{_W - 10}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.3g}</text>'
        )
    for t, cell in sorted(stacks.items()):
        x = _PAD_L + (t - t0) / size * bar_w
        y = 10 + plot_h
        for key in [*top, None]:
            k = cell.get(key, 0)
            if not k:
                continue
            h = plot_h * k / peak
            y -= h
            name = f"AS{key}" if key else "other"
            parts.append(
                f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour.get(key, _OTHER_COLOUR)}">'
                f"<title>{html.escape(name)} {_utc(t)} UTC: {k}</title></rect>"
            )
    for i in range(5):  # x labels
        at = t0 + (t1 - t0) * i / 4
        x = _PAD_L + plot_w * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{_H - 14}" text-anchor="{anchor}">{_utc(at)}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{colour[a]}"></i>AS{a}</span>' for a in top
    )
    if len(totals) > len(top):
        legend += f'<span class="key"><i style="background:{_OTHER_COLOUR}"></i>other</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def render_html(report: Report) -> str:
    e = html.escape
    rows: list[str] = []
    for r in report.rows:
        if not (r.corrupted or r.flagged) and len(rows) >= 50:
            continue
        ci = f"{pct(r.ci95[0])} – {pct(r.ci95[1])}" if r.ci95 else "—"
        rows.append(
            f'<tr class="{"flag" if r.flagged else ""}"><td>{r.asn or "unknown"}</td>'
            f"<td>{e(r.name)}</td><td>{r.requests if r.requests is not None else '—'}</td>"
            f"<td>{r.corrupted}</td><td>{e(pct(r.rate))}</td><td>{e(ci)}</td>"
            f"<td>{e(p_text(r.p_value))}</td><td>{'significant' if r.flagged else ''}</td></tr>"
        )
    flagged = ", ".join(f"AS{r.asn} {r.name}" for r in report.flagged) or "none"
    test = (
        f"Fisher's exact test, one-sided (is this network's rate above all others'?), "
        f"Bonferroni-corrected: p &lt; {report.alpha} / {report.tested} = "
        f"{report.threshold:.2g}."
        if report.threshold is not None
        else "No nginx log among the inputs: no denominators, no test."
    )
    recovery = ""
    if report.recoveries is not None:
        ok = [r for r in report.recoveries if r.original is not None]
        items = "".join(
            f"<li><code>{e(escape_bytes(r.corrupted))}</code> → "
            f"<code>{e(r.original.decode('ascii'))}</code></li>"
            for r in ok[:50]
            if r.original is not None
        )
        recovery = (
            f"<h2>Signed URLs</h2><p>Recovered {len(ok)} of {len(report.recoveries)}: each "
            f"recovered URL verifies with the site's key, so it was damaged in transit, "
            f"not forged.</p><ul>{items}</ul>"
        )
    inputs = "".join(
        f"<li><code>{e(i.path)}</code> ({i.kind}): {i.lines} lines, {i.malformed} malformed</li>"
        for i in report.inputs
    )
    requests = f"{report.requests:,}" if report.requests is not None else "—"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>edgeward dpi-report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
td:nth-child(2), th:nth-child(2) {{ text-align: left; }}
tr.flag {{ background: #fde0e0; font-weight: bold; }}
svg text {{ font-size: 11px; fill: #555; }}
.legend .key {{ margin-right: 1em; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.muted {{ color: #777; }}
</style></head><body>
<h1>Corrupted requests by network</h1>
<p>{requests} requests, {report.corrupted} corrupted.
Significant: <strong>{e(flagged)}</strong>.</p>
<p class="muted">{test}</p>
<h2>Corrupted requests over time (bucket {report.bucket_seconds} s, UTC)</h2>
{chart_svg(report)}
<h2>Networks</h2>
<table><tr><th>AS</th><th>name</th><th>requests</th><th>corrupted</th><th>rate</th>
<th>95 % Wilson interval</th><th>p</th><th></th></tr>
{"".join(rows)}
</table>
{recovery}
{render_capture_html(report)}
<h2>Inputs</h2><ul>{inputs}</ul>
<p class="muted">Generated {_utc(report.generated_at)} UTC by edgeward dpi-report.</p>
</body></html>
"""
