"""``retainkit inspect`` output: the detected mapping, samples, dates and data quality."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from retainkit.render import to_json

if TYPE_CHECKING:  # the output layer reads results; it does not import the library's modules
    from retainkit.pipeline import InspectReport


def inspect_json(report: InspectReport) -> str:
    return to_json(asdict(report))


def inspect_table(report: InspectReport) -> Any:
    """The files read, the columns found (with sample values), the date range and data
    quality, fitted to the width they are printed at."""
    from rich.console import Group
    from rich.text import Text

    from retainkit.render import quality_table
    from retainkit.render_width import LISTED, Col, FitTable

    files = FitTable([Col("file", "File", "short"), Col("format", "Format", "short"),
                      Col("rows", "Rows", justify="right")],
                     [(Text(s["file"]), s["format"], f"{s['rows']:,}") for s in report.sources],
                     title="Files", look=LISTED, droppable=False)
    mapping = FitTable([Col("field", "Field", "short"), Col("header", "Header in file", "short"),
                        Col("samples", "Sample values", "wrap", sep=", ")],
                       [(field_name, Text(header), Text(", ".join(report.samples.get(field_name, []))))
                        for field_name, header in report.mapping.items()],
                       title="Columns", look=LISTED, droppable=False)
    parts: list[Any] = [files, mapping]
    if report.ignored:
        parts.append(Text(f"Headers not read: {', '.join(report.ignored)}", style="dim"))
    if report.date_range:
        r = report.date_range
        parts.append(Text(f"Orders from {r['first_order']} to {r['last_order']}"
                          + (f"; refunds from {r['first_refund']} to {r['last_refund']}" if r["first_refund"] else "")))
    if report.quality:
        parts.append(quality_table(report.quality))
        parts += [Text(f"note: {n}", style="yellow") for n in report.quality.get("notes", [])]
    if report.problem:
        parts.append(Text(f"Problem: {report.problem}", style="bold red"))
    return Group(*parts)
