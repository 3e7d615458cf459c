"""``dpi-report``'s default output: a rich table, flagged networks first.

Readable in an 80-column terminal: names are cut with an ellipsis instead of folding a
row over ten lines, a rate and its interval share one unit, counts share one format, and
"since when" (first and last corrupted request per network) has its own small table.
"""

from __future__ import annotations

import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from middleware.report.build import REASONS, AsnRow, Report
from middleware.report.counts import count
from middleware.report.render_capture import render_capture_text


def _unit(x: float) -> tuple[float, str]:
    return (100.0, "%") if x >= 1e-3 else (1e6, "ppm")


def _num(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


def pct(x: float | None) -> str:
    """A rate on its own: per cent from 0.1 %, parts per million below."""
    if x is None:
        return "—"
    scale, unit = _unit(x)
    return "0" if x == 0 else f"{_num(x * scale)} {unit}"


def rate_and_interval(rate: float | None, ci: tuple[float, float] | None) -> tuple[str, str]:
    """The rate and its interval in one unit, chosen by the interval's upper end."""
    if rate is None:
        return "—", "—"
    scale, unit = _unit(max(rate, ci[1] if ci else 0.0))
    r = f"{_num(rate * scale)} {unit}" if rate else "0"
    return r, (f"{_num(ci[0] * scale)}–{_num(ci[1] * scale)} {unit}" if ci else "—")


def p_text(p: float | None) -> str:
    if p is None:
        return "—"
    return "1" if p >= 0.9995 else f"{p:.3g}"


def utc(t: float | None) -> str:
    return "—" if t is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def duration(seconds: float) -> str:
    """A time interval in one unit: seconds, minutes, hours or days."""
    for limit, size, unit in ((120, 1, "s"), (7200, 60, "min"), (3 * 86400, 3600, "h")):
        if seconds < limit:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds / 86400:.3g} d"


def span_text(span: tuple[float, float] | None) -> str:
    if span is None:
        return "no times"
    return f"{utc(span[0])} – {utc(span[1])} UTC ({duration(span[1] - span[0])})"


def asn_text(asn: int) -> str:
    return f"AS{asn}" if asn else "unknown"


def _shown(report: Report, top: int) -> list[AsnRow]:
    """Flagged and corrupted networks always; then the biggest by requests up to ``top``."""
    keep = [r for r in report.rows if r.flagged or r.corrupted]
    rest = sorted(
        (r for r in report.rows if not (r.flagged or r.corrupted)),
        key=lambda r: -(r.requests or 0),
    )
    return keep + rest[: max(0, top - len(keep))]


def _table(title: str) -> Table:
    # One space between columns (no vertical rules, collapsed padding): every character
    # counts in 80 columns.
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
        expand=False,
    )


def _network_table(rows: list[AsnRow], name_width: int | None) -> Table:
    table = _table("Corrupted requests by network (AS)")
    table.add_column("AS", justify="right", no_wrap=True)
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column("requests", justify="right", no_wrap=True)
    table.add_column("corrupted", justify="right", no_wrap=True)
    table.add_column("rate", justify="right", no_wrap=True)
    table.add_column("95 % CI", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("flag", no_wrap=True)
    for r in rows:
        rate, ci = rate_and_interval(r.rate, r.ci95)
        name = Text(r.name)  # names come from table files: never read as rich markup
        if name_width is not None:
            name.truncate(name_width, overflow="ellipsis")
        table.add_row(
            asn_text(r.asn),
            name if name_width != 0 else "",
            count(r.requests) if r.requests is not None else "—",
            count(r.corrupted),
            rate,
            ci,
            p_text(r.p_value),
            "[bold red]SIGNIFICANT[/]" if r.flagged else "",
            style="bold" if r.flagged else None,
        )
    return table


def render_text(report: Report, console: Console, *, top: int = 20) -> None:
    rows = _shown(report, top)
    # The name is the only column that gives way: the numbers keep their width and a long
    # name is cut with an ellipsis, so a row stays one line in an 80-column terminal.
    # (Measured with empty names: the name column is then as wide as its header.)
    others = console.measure(_network_table(rows, 0)).maximum - len("name")
    table = _network_table(rows, max(len("name"), console.width - others - 1))
    console.print(table)
    hidden = len(report.rows) - len(rows)
    if hidden > 0:
        console.print(
            f"({count(hidden)} more networks without corrupted requests; --json lists all)"
        )
    _since_when(report, rows, console)
    lines = sum(i.lines for i in report.inputs)
    malformed = sum(i.malformed for i in report.inputs)
    total = f"{count(report.requests)} requests, " if report.requests is not None else ""
    console.print(
        f"{total}{count(report.corrupted)} corrupted; {count(lines)} lines read, "
        f"{count(malformed)} malformed (skipped)."
    )
    if report.logs_span is not None:
        console.print(f"Logs: {span_text(report.logs_span)}.")
    if report.events_span is not None:
        console.print(f"Events: {span_text(report.events_span)}.")
    _unmatched(report, console)
    if report.threshold is not None:
        flagged = ", ".join(asn_text(r.asn) for r in report.flagged) or "none"
        console.print(
            f"Significant (Fisher exact, one-sided, p < {report.alpha}/{report.tested} = "
            f"{report.threshold:.2g}): {flagged}"
        )
    else:
        console.print("No nginx log among the inputs: no denominators, no significance test.")
    if report.recoveries is not None:
        ok = sum(1 for r in report.recoveries if r.original is not None)
        skipped = (
            f"; {count(report.recovery_skipped)} more not tried (budget: --recover-max, "
            "--recover-seconds)"
            if report.recovery_skipped
            else ""
        )
        console.print(
            f"Signed URLs: recovered {count(ok)} of {count(len(report.recoveries))}{skipped} "
            "(a recovered URL verifies: transport damage, not tampering)."
        )
    render_capture_text(report, console)


def _since_when(report: Report, rows: list[AsnRow], console: Console) -> None:
    hit = [r for r in rows if r.first is not None]
    if not hit:
        return
    table = _table("Since when (UTC)")
    table.add_column("AS", justify="right", no_wrap=True)
    table.add_column("first corrupted", no_wrap=True)
    table.add_column("last corrupted", no_wrap=True)
    table.add_column("corrupted", justify="right", no_wrap=True)
    for r in hit:
        table.add_row(asn_text(r.asn), utc(r.first), utc(r.last), count(r.corrupted))
    console.print(table)


def _unmatched(report: Report, console: Console) -> None:
    if not report.unmatched:
        return
    reasons = "; ".join(
        f"{count(n)} {REASONS[reason]}" for reason, n in report.unmatched_by_reason().items()
    )
    console.print(
        f"{count(len(report.unmatched))} event(s) set apart, not counted and never flagged "
        f"(their requests are not in the logs read): {reasons}."
    )
