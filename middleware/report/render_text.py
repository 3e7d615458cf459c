"""``dpi-report``'s default output: a rich table, flagged networks first."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from middleware.report.build import AsnRow, Report
from middleware.report.render_capture import render_capture_text


def pct(x: float | None) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    return f"{x * 100:.4f} %" if x >= 1e-4 else f"{x * 1e6:.2f} ppm"


def p_text(p: float | None) -> str:
    if p is None:
        return "—"
    return "1" if p >= 0.9995 else f"{p:.3g}"


def _shown(report: Report, top: int) -> list[AsnRow]:
    """Flagged and corrupted networks always; then the biggest by requests up to ``top``."""
    keep = [r for r in report.rows if r.flagged or r.corrupted]
    rest = sorted(
        (r for r in report.rows if not (r.flagged or r.corrupted)),
        key=lambda r: -(r.requests or 0),
    )
    return keep + rest[: max(0, top - len(keep))]


def render_text(report: Report, console: Console, *, top: int = 20) -> None:
    table = Table(title="Corrupted requests by network (AS)", title_justify="left")
    table.add_column("AS", justify="right")
    table.add_column("name", overflow="fold", max_width=40)
    table.add_column("requests", justify="right")
    table.add_column("corrupted", justify="right")
    table.add_column("rate", justify="right")
    table.add_column("95 % interval", justify="right")
    table.add_column("p (one-sided)", justify="right")
    table.add_column("flag")
    rows = _shown(report, top)
    for r in rows:
        ci = f"{pct(r.ci95[0])} – {pct(r.ci95[1])}" if r.ci95 else "—"
        table.add_row(
            str(r.asn) if r.asn else "unknown",
            Text(r.name),  # names come from table files: never read as rich markup
            f"{r.requests:,}" if r.requests is not None else "—",
            str(r.corrupted),
            pct(r.rate),
            ci,
            p_text(r.p_value),
            "[bold red]SIGNIFICANT[/]" if r.flagged else "",
            style="bold" if r.flagged else None,
        )
    console.print(table)
    hidden = len(report.rows) - len(rows)
    if hidden > 0:
        console.print(f"({hidden} more networks without corrupted requests; --json lists all)")
    lines = sum(i.lines for i in report.inputs)
    malformed = sum(i.malformed for i in report.inputs)
    total = f"{report.requests:,} requests, " if report.requests is not None else ""
    console.print(
        f"{total}{report.corrupted} corrupted; {lines:,} lines read, {malformed} malformed "
        f"(skipped)."
    )
    if report.threshold is not None:
        flagged = ", ".join(f"AS{r.asn}" for r in report.flagged) or "none"
        console.print(
            f"Significant (Fisher exact, one-sided, p < {report.alpha}/{report.tested} = "
            f"{report.threshold:.2g}): {flagged}"
        )
    else:
        console.print("No nginx log among the inputs: no denominators, no significance test.")
    if report.recoveries is not None:
        ok = sum(1 for r in report.recoveries if r.original is not None)
        console.print(
            f"Signed URLs: recovered {ok} of {len(report.recoveries)} "
            "(a recovered URL verifies: transport damage, not tampering)."
        )
    render_capture_text(report, console)
