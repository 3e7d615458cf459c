"""``dpi-report --html OUT``: one self-contained page (inline CSS and SVG, no scripts, no
external assets), so it can be mailed or opened offline.

The chart is a stacked bar chart of corrupted requests per hour (per day beyond a month),
one colour per network (the eight with the most corrupted requests; the rest stacked as
"other"). Its time axis covers the logs' whole span, so a quiet stretch shows as quiet,
with ticks on whole hours or days.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from typing import Final

from middleware.report.build import DAY, HOUR, REASONS, Report
from middleware.report.counts import count
from middleware.report.render_capture import render_capture_html
from middleware.report.render_json import escape_bytes
from middleware.report.render_text import (
    asn_text,
    p_text,
    rate_and_interval,
    span_text,
    utc,
)

_COLOURS: Final = (
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
)  # fmt: skip
_OTHER_COLOUR: Final = "#999999"
_W: Final = 900
_H: Final = 260
_PAD_L: Final = 56
_PAD_B: Final = 36


def _tick_step(span: int) -> int:
    """A tick every 1, 2, 3, 6 or 12 hours, or 1, 2, 7, 14 or 28 days: at most 8 ticks."""
    for step in (*(h * HOUR for h in (1, 2, 3, 6, 12)), *(d * DAY for d in (1, 2, 7, 14, 28))):
        if span / step <= 8:
            return step
    return -(-span // 8 // DAY) * DAY


def ticks(t0: int, t1: int) -> list[tuple[int, str]]:
    """Readable time ticks on ``[t0, t1]``: whole hours or days (UTC), with their labels.

    Hour ticks show ``HH:00``, plus the date on the first tick and at each midnight; day
    ticks show the date.
    """
    step = _tick_step(max(t1 - t0, 1))
    align = DAY if step >= DAY else step  # days count from the first midnight
    first = -(-t0 // align) * align
    out = []
    for i, t in enumerate(range(first, t1 + 1, step)):
        tm = time.gmtime(t)
        if step >= DAY:
            label = time.strftime("%Y-%m-%d", tm)
        elif i == 0 or (tm.tm_hour == 0 and tm.tm_min == 0):
            label = time.strftime("%m-%d %H:00", tm)
        else:
            label = time.strftime("%H:00", tm)
        out.append((t, label))
    return out


def chart_svg(report: Report) -> str:
    totals = Counter({asn: sum(k for _, k in pts) for asn, pts in report.timeline.items()})
    if not totals or report.axis is None:
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
    t0, t1 = report.axis  # the logs' whole span, in whole buckets
    peak = max(sum(c.values()) for c in stacks.values())
    y_step = max(1, -(-peak // 4))
    y_top = y_step * -(-peak // y_step)
    plot_w, plot_h = _W - _PAD_L - 10, _H - _PAD_B - 10
    bar_w = plot_w * size / (t1 - t0)
    unit = "hour" if size == HOUR else "day"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="corrupted requests per {unit} by network">'
    ]
    for v in range(0, y_top + 1, y_step):  # y grid and labels: whole requests
        y = 10 + plot_h - plot_h * v / y_top
        parts.append(
            f'<line x1="{_PAD_L}" y1="{y:.1f}" x2="{_W - 10}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{count(v)}</text>'
        )
    for t, cell in sorted(stacks.items()):
        x = _PAD_L + (t - t0) / (t1 - t0) * plot_w
        y = 10 + plot_h
        for key in [*top, None]:
            k = cell.get(key, 0)
            if not k:
                continue
            h = plot_h * k / y_top
            y -= h
            name = f"AS{key}" if key else "other"
            parts.append(
                f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour.get(key, _OTHER_COLOUR)}">'
                f"<title>{html.escape(name)} {utc(t)} UTC: {k}</title></rect>"
            )
    for t, label in ticks(t0, t1):  # x ticks: whole hours or days
        x = _PAD_L + (t - t0) / (t1 - t0) * plot_w
        parts.append(
            f'<line x1="{x:.1f}" y1="{10 + plot_h}" x2="{x:.1f}" y2="{14 + plot_h}" '
            f'stroke="#999"/><text x="{x:.1f}" y="{_H - 14}" text-anchor="middle">'
            f"{label}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{colour[a]}"></i>AS{a}</span>' for a in top
    )
    if len(totals) > len(top):
        legend += f'<span class="key"><i style="background:{_OTHER_COLOUR}"></i>other</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _safe(text: str) -> str:
    """Escaped for HTML; a path's undecodable bytes (surrogates) as ``\\xHH``."""
    return html.escape(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _rows_html(report: Report) -> str:
    """The networks' rows: every flagged or corrupted one, then up to 50 in all."""
    e = _safe
    rows: list[str] = []
    for r in report.rows:
        if not (r.corrupted or r.flagged) and len(rows) >= 50:
            continue
        rate, ci = rate_and_interval(r.rate, r.ci95)
        requests = count(r.requests) if r.requests is not None else "—"
        rows.append(
            f'<tr class="{"flag" if r.flagged else ""}"><td>{asn_text(r.asn)}</td>'
            f"<td>{e(r.name)}</td><td>{requests}</td><td>{count(r.corrupted)}</td>"
            f"<td>{e(rate)}</td><td>{e(ci)}</td><td>{e(p_text(r.p_value))}</td>"
            f"<td>{utc(r.first) if r.first else ''}</td><td>{utc(r.last) if r.last else ''}</td>"
            f"<td>{'significant' if r.flagged else ''}</td></tr>"
        )
    return "".join(rows)


def _test_html(report: Report) -> str:
    if report.threshold is None:
        return "No nginx log among the inputs: no denominators, no test."
    return (
        f"Fisher's exact test, one-sided (is this network's rate above all others'?), "
        f"Bonferroni-corrected: p &lt; {report.alpha} / {report.tested} = "
        f"{report.threshold:.2g}."
    )


def _recovery_html(report: Report) -> str:
    if report.recoveries is None:
        return ""
    e = _safe
    ok = [r for r in report.recoveries if r.original is not None]
    items = "".join(
        f"<li><code>{e(escape_bytes(r.corrupted))}</code> → "
        f"<code>{e(r.original.decode('ascii'))}</code></li>"
        for r in ok[:50]
        if r.original is not None
    )
    skipped = (
        f" {count(report.recovery_skipped)} more were not tried: the recovery budget "
        "ran out (<code>--recover-max</code>, <code>--recover-seconds</code>)."
        if report.recovery_skipped
        else ""
    )
    return (
        f"<h2>Signed URLs</h2><p>Recovered {count(len(ok))} of "
        f"{count(len(report.recoveries))}: each recovered URL verifies with the site's "
        f"key, so it was damaged in transit, not forged.{skipped}</p><ul>{items}</ul>"
    )


def _unmatched_html(report: Report) -> str:
    if not report.unmatched:
        return ""
    reasons = "".join(
        f"<li>{count(n)} {_safe(REASONS[reason])}</li>"
        for reason, n in report.unmatched_by_reason().items()
    )
    return (
        f"<h2>Events set apart</h2><p>{count(len(report.unmatched))} event(s) describe "
        "requests the logs read do not hold: they are in no count above and never flag "
        f"a network.</p><ul>{reasons}</ul>"
    )


def _inputs_html(report: Report) -> str:
    e = _safe
    return "".join(
        f"<li><code>{e(i.path)}</code> ({i.kind}): {count(i.lines)} lines, "
        f"{count(i.malformed)} malformed; "
        f"{e(span_text(i.span))}</li>"
        for i in report.inputs
    )


def _spans_html(report: Report) -> str:
    spans = ""
    if report.logs_span is not None:
        spans += f"Logs: {_safe(span_text(report.logs_span))}. "
    if report.events_span is not None:
        spans += f"Events: {_safe(span_text(report.events_span))}."
    return spans


def render_html(report: Report) -> str:
    e = _safe
    flagged = ", ".join(f"AS{r.asn} {r.name}" for r in report.flagged) or "none"
    requests = count(report.requests) if report.requests is not None else "—"
    unit = "hour" if report.bucket_seconds == HOUR else "day"
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
<p>{requests} requests, {count(report.corrupted)} corrupted.
Significant: <strong>{e(flagged)}</strong>.</p>
<p>{_spans_html(report)}</p>
<p class="muted">{_test_html(report)}</p>
<h2>Corrupted requests per {unit} (UTC)</h2>
{chart_svg(report)}
<h2>Networks</h2>
<table><tr><th>AS</th><th>name</th><th>requests</th><th>corrupted</th><th>rate</th>
<th>95 % Wilson interval</th><th>p</th><th>first corrupted (UTC)</th>
<th>last corrupted (UTC)</th><th></th></tr>
{_rows_html(report)}
</table>
{_unmatched_html(report)}
{_recovery_html(report)}
{render_capture_html(report)}
<h2>Inputs</h2><ul>{_inputs_html(report)}</ul>
<p class="muted">Generated {utc(report.generated_at)} UTC by edgeward dpi-report.</p>
</body></html>
"""
