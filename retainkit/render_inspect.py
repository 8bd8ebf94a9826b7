"""``retainkit inspect`` output: the detected mapping, samples, dates and data quality."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from retainkit.pipeline import InspectReport
from retainkit.render import quality_rows, to_json


def inspect_json(report: InspectReport) -> str:
    return to_json(asdict(report))


def inspect_table(report: InspectReport) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    files = Table(title="Files", title_justify="left", title_style="bold", box=None, padding=(0, 2))
    for column in ("File", "Format", "Rows"):
        files.add_column(column, justify="right" if column == "Rows" else "left")
    for source in report.sources:
        files.add_row(Text(source["file"]), source["format"], f"{source['rows']:,}")
    mapping = Table(title="Columns", title_justify="left", title_style="bold", box=None, padding=(0, 2))
    for column in ("Field", "Header in file", "Sample values"):
        mapping.add_column(column)
    for field_name, header in report.mapping.items():
        mapping.add_row(field_name, Text(header), Text(", ".join(report.samples.get(field_name, []))))
    parts: list[Any] = [files, mapping]
    if report.ignored:
        parts.append(Text(f"Headers not read: {', '.join(report.ignored)}", style="dim"))
    if report.date_range:
        r = report.date_range
        parts.append(Text(f"Orders from {r['first_order']} to {r['last_order']}"
                          + (f"; refunds from {r['first_refund']} to {r['last_refund']}" if r["first_refund"] else "")))
    if report.quality:
        quality = Table(title="Data quality", title_justify="left", title_style="bold", box=None, padding=(0, 2))
        for column in ("", "Rows", "Amount"):
            quality.add_column(column, justify="left" if not column else "right")
        for row in quality_rows(report.quality):
            quality.add_row(*row)
        parts.append(quality)
        parts += [Text(f"note: {n}", style="yellow") for n in report.quality.get("notes", [])]
    if report.problem:
        parts.append(Text(f"Problem: {report.problem}", style="bold red"))
    return Group(*parts)
