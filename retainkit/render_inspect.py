"""``retainkit inspect`` output: the detected mapping, samples, dates and data quality."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from retainkit.render import to_json
from retainkit.safe_text import Visible, visible, visible_text

if TYPE_CHECKING:  # the output layer reads results; it does not import the library's modules
    from retainkit.inspection import InspectReport


def inspect_json(report: InspectReport) -> str:
    return to_json(asdict(report))


def inspect_table(report: InspectReport) -> Any:
    """The files read, the columns found (with sample values), the date range and data
    quality, fitted to the width they are printed at. File names, headers and samples come
    from the file: shown as text, their control characters made visible."""
    from rich.console import Group
    from rich.text import Text

    from retainkit.render import quality_table
    from retainkit.render_width import LISTED, Col, FitTable

    files = FitTable([Col("file", "File", "short"), Col("format", "Format", "short"),
                      Col("rows", "Rows", justify="right")],
                     [(visible_text(s["file"]), visible_text(s["format"]), f"{s['rows']:,}") for s in report.sources],
                     title="Files", look=LISTED, droppable=False)
    mapping = FitTable([Col("field", "Field", "short"), Col("header", "Header in file", "short"),
                        Col("samples", "Sample values", "wrap", sep=", ")],
                       [(field_name, visible_text(header), visible_text(", ".join(report.samples.get(field_name, []))))
                        for field_name, header in report.mapping.items()],
                       title="Columns", look=LISTED, droppable=False)
    parts: list[Any] = [files, mapping]
    if report.ignored:
        parts.append(Text(f"Headers not read: {visible(', '.join(report.ignored))}", style="dim"))
    if report.date_range:
        r = report.date_range
        parts.append(visible_text(f"Orders from {r['first_order']} to {r['last_order']}"
                                  + (f"; refunds from {r['first_refund']} to {r['last_refund']}"
                                     if r["first_refund"] else "")))
    if report.quality:
        parts.append(quality_table(report.quality))
        parts += [Text(f"note: {visible(n, newlines=True)}", style="yellow") for n in report.quality.get("notes", [])]
    if report.problem:
        parts.append(Text(f"Problem: {visible(report.problem)}", style="bold red"))
    return Visible(Group(*parts))
