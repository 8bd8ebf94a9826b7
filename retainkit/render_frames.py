"""Tabular results (customers, at risk, segments) → table, CSV, JSON, JSON Lines, Parquet.

Exports are meant for spreadsheets and CRMs: stable column names, ISO dates, ``true`` /
``false``, empty cells for undefined values, and text that cannot start a formula.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from retainkit.render import DASH, clean, rows_csv

TABLE_ROWS = 50  # rows a terminal table shows unless --top says otherwise
#: Headers of terminal tables (exports keep the snake_case column names).
LABELS = {
    "customer_id": "Customer", "orders": "Orders", "revenue": "Revenue", "recency_days": "Days since",
    "avg_days_between_orders": "Usual gap", "revenue_365": "Revenue 365d", "rfm_segment": "Segment",
    "is_vip": "VIP", "at_risk": "At risk", "level_name": "Level", "why": "Why", "product": "Product",
    "purchase_days": "Days bought", "last_purchase": "Last bought", "days_since": "Days since",
    "customer_at_risk": "At risk", "name": "", "customers": "Customers", "share_of_customers": "Share",
    "revenue_share": "Revenue share", "median_recency_days": "Median days since",
    "average_order_value": "Avg order", "frequency": "Repeat days", "recency": "Recency", "T": "Age",
    "monetary_value": "Mean value", "p_alive": "P(alive)", "expected_purchases": "Exp. buys",
    "expected_order_value": "Exp. value", "clv": "CLV", "actual_purchases": "Actual buys",
}
PROBABILITY_COLUMNS = {"p_alive"}
RATE_COLUMNS = {"share_of_customers", "revenue_share"}
MONEY_COLUMNS = {"revenue", "average_order_value", "revenue_365"}


def frame_records(frame: pd.DataFrame) -> Iterator[list[Any]]:
    """Rows as JSON-ready Python values: dates ISO 8601, NaN/NaT → None."""
    columns = [_plain(frame[c]) for c in frame.columns]
    for row in zip(*columns, strict=True):
        yield [clean(v) for v in row]


def _plain(column: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(column):
        return [None if pd.isna(v) else v.date().isoformat() for v in column]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [None if pd.isna(v) else str(v) for v in column]
    values = column.tolist()
    return [None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v for v in values]


def frame_json(frame: pd.DataFrame) -> str:
    """``{"columns": [...], "rows": [[...], ...]}`` (SPEC §7)."""
    document: dict[str, Any] = {"columns": list(frame.columns), "rows": list(frame_records(frame))}
    document = clean(document)
    if "notes" in frame.attrs:  # why a value is null, a period partial, rows counted once (SPEC §1, §2, §4)
        document["notes"] = list(frame.attrs["notes"])
    if "data_quality" in frame.attrs:
        document["data_quality"] = frame.attrs["data_quality"]
    return json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n"


def frame_jsonl(frame: pd.DataFrame) -> str:
    """One JSON object per row."""
    columns = list(frame.columns)
    lines = (json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, allow_nan=False)
             for row in frame_records(frame))
    return "".join(f"{line}\n" for line in lines)


def frame_csv(frame: pd.DataFrame, *, delimiter: str = ",") -> str:
    """CSV (TSV with ``delimiter="\\t"``) with a header; text cells that could start a formula
    are escaped."""
    return rows_csv(list(frame.columns), frame_records(frame), delimiter=delimiter)


def frame_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes (types kept: dates as dates, flags as booleans)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):  # dates are dates, not midnight timestamps
            table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def frame_table(frame: pd.DataFrame, *, title: str, limit: int | None = TABLE_ROWS, bars: str | None = None):
    """A Rich table of ``frame``; at most ``limit`` rows, with a note of the rest.

    ``bars`` names a 0–1 column drawn as an inline bar beside its value.
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    shown = frame if limit is None else frame.head(limit)
    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        table.add_column(LABELS.get(column, column), justify="right" if numeric else "left", overflow="fold")
        if column == bars:
            table.add_column("", style="cyan", no_wrap=True)
    for record in frame_records(shown):
        cells: list[Any] = []
        for column, value in zip(frame.columns, record, strict=True):
            cells.append(Text(_cell(column, value)))  # data is text, never Rich markup
            if column == bars:
                cells.append("█" * round(12 * max(0.0, min(1.0, value or 0.0))))
        table.add_row(*cells)
    parts: list[Any] = [table]
    if limit is not None and len(frame) > limit:
        parts.append(Text(f"… {len(frame) - limit:,} more rows (use --top N, or --format csv for all)", style="dim"))
    parts += [Text(note, style="dim") for note in frame.attrs.get("notes", [])]
    return Group(*parts)


def grouped_tables(frame: pd.DataFrame, *, by: str, titles: dict[str, str], bars: str | None = None):
    """One Rich table per value of ``by`` (the column itself left out)."""
    from rich.console import Group

    tables = []
    for key, part in frame.groupby(by, sort=False):
        shown = part.drop(columns=by)
        shown.attrs = {}  # the notes go once, under the last table
        tables.append(frame_table(shown, title=titles.get(key, key), limit=None, bars=bars))
    return with_notes(Group(*tables), list(frame.attrs.get("notes", [])))


def _cell(column: str, value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if column in RATE_COLUMNS:
            return f"{value * 100:.1f}%"
        if column in PROBABILITY_COLUMNS:
            return f"{value:.3f}"
        if column in MONEY_COLUMNS:
            return f"{value:,.2f}"
        return f"{value:,.1f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}" if not column.endswith("_score") and column != "level" else str(value)
    return str(value)



TREND_SHOWN = (
    ("customers", "Customers", "count"), ("orders", "Orders", "count"), ("revenue", "Revenue", "money"),
    ("average_order_value", "Avg order", "money"), ("new_customers", "New", "count"),
    ("repeat_customer_rate", "Repeat rate", "rate"), ("retention_rate", "Retention", "rate"),
    ("churn_rate", "Churn", "rate"),
)
#: KPIs where a rise is bad news (drawn red).
FALLING_IS_GOOD = {"churn_rate"}


def trend_view(frame: pd.DataFrame, *, title: str):
    """Rich table of a trend: each KPI with an arrow for its change from the previous period;
    a partial period marked ``*`` and the notes under the table (SPEC §4)."""
    from rich.table import Table
    from rich.text import Text

    from retainkit.render import format_value

    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    table.add_column("Period", no_wrap=True)
    for _, label, _ in TREND_SHOWN:
        table.add_column(label, justify="right")
    columns = list(frame.columns)
    for row in frame_records(frame):
        record = dict(zip(columns, row, strict=True))
        cells: list[Any] = [Text(record["period"] + (" *" if record["partial"] else ""))]
        for key, _, kind in TREND_SHOWN:
            text = Text(format_value(record[key], kind))
            change = record.get(f"{key}_change")
            if change is not None and change != 0:
                good = (change > 0) != (key in FALLING_IS_GOOD)
                text.append(" ▲" if change > 0 else " ▼", style="green" if good else "red")
            cells.append(text)
        table.add_row(*cells)
    return with_notes(table, frame.attrs.get("notes", []))


def with_notes(renderable: Any, notes: list[str]):
    """``renderable`` with one dim line per note under it."""
    from rich.console import Group
    from rich.text import Text

    return Group(renderable, *(Text(note, style="dim") for note in notes))


def cohort_heatmap(wide: pd.DataFrame, *, title: str):
    """Rich table of the cohort matrix, each cell shaded by its value; empty after ``to``;
    a partial cohort or a cell in the incomplete period containing ``to`` marked ``*`` and left
    unshaded, the notes under the table (SPEC §4)."""
    from rich.table import Table
    from rich.text import Text

    from retainkit.cohorts import value_columns

    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    table.add_column("Cohort", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    ks = value_columns(wide)
    for k in ks:
        table.add_column(k, justify="right")
    for record in wide.to_dict("records"):
        row_partial = bool(record.get("partial", False))
        cut = record.get("partial_k")
        cells: list[Any] = [Text(str(record["cohort"]) + (" *" if row_partial else "")),
                            f"{int(record['cohort_size']):,}"]
        for k in ks:
            value = record[k]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("")
            elif row_partial or (cut is not None and not pd.isna(cut) and int(k) == int(cut)):
                cells.append(Text(f"{value * 100:.0f}%*", style="dim italic"))
            else:
                shade = int(40 + 180 * max(0.0, min(1.0, value)))
                cells.append(Text(f"{value * 100:.0f}%", style=f"on rgb(20,{shade // 2},{shade})"))
        table.add_row(*cells)
    return with_notes(table, wide.attrs.get("notes", []))


def frame_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table with every column (numbers as numbers; ``|`` escaped).

    With a ``partial`` column, the ``period`` cell (else the first) of a partial row gets a
    ``*``, as does the cell ``partial_k`` names (a wide cohort matrix); ``frame.attrs["notes"]``
    follow the table, one paragraph each (SPEC §4).
    """
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value).replace("|", "\\|").replace("\n", " ")

    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in columns]
    marked = columns.index("period") if "period" in columns else 0
    partial = frame["partial"].tolist() if "partial" in columns else [False] * len(frame)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    cut = frame["partial_k"].tolist() if "partial_k" in columns else [None] * len(frame)  # cohorts, wide
    for row, flag, k in zip(frame_records(frame), partial, cut, strict=True):
        cells = [cell(v) for v in row]
        cells[marked] += "*" if flag else ""
        if not pd.isna(k) and str(k) in columns and cells[columns.index(str(k))]:
            cells[columns.index(str(k))] += "*"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [note.replace("*", "\\*", 1) if note.startswith("*") else note for note in frame.attrs.get("notes", [])]
    return "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes)
