"""Tabular results (customers, at risk, segments) → table, CSV, JSON, JSON Lines, Parquet.

Exports are meant for spreadsheets and CRMs: stable column names, ISO dates, ``true`` /
``false``, empty cells for undefined values, and text that cannot start a formula.
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retainkit.render import DASH, ENGLISH, clean, rows_csv
from retainkit.render_locale import Style
from retainkit.safe_text import Visible, md_text, visible
from retainkit.values import noop

if TYPE_CHECKING:
    from retainkit.render_width import Kind

TABLE_ROWS = 50  # rows a terminal table shows unless --top says otherwise
#: Headers of terminal tables (exports keep the snake_case column names).
LABELS = {
    "customer_id": noop("Customer"), "orders": noop("Orders"), "revenue": noop("Revenue"),
    "recency_days": noop("Days since"), "avg_days_between_orders": noop("Usual gap"),
    "revenue_365": noop("Revenue 365d"), "rfm_segment": noop("Segment"), "is_vip": noop("VIP"),
    "at_risk": noop("At risk"), "level_name": noop("Level"), "why": noop("Why"), "product": noop("Product"),
    "purchase_days": noop("Days bought"), "last_purchase": noop("Last bought"), "days_since": noop("Days since"),
    "customer_at_risk": noop("At risk"), "name": "", "customers": noop("Customers"),
    "share_of_customers": noop("Share"), "revenue_share": noop("Revenue share"),
    "median_recency_days": noop("Median days since"), "average_order_value": noop("Avg order"),
    "frequency": noop("Repeat days"), "recency": noop("Recency"), "T": noop("Age"),
    "monetary_value": noop("Mean value"), "p_alive": noop("P(alive)"), "expected_purchases": noop("Exp. buys"),
    "expected_order_value": noop("Exp. value"), "clv": noop("CLV"), "actual_purchases": noop("Actual buys"),
    "value_if_alive": noop("Value if alive"), "expected_value": noop("Expected value"),
}
PROBABILITY_COLUMNS = {"p_alive"}
RATE_COLUMNS = {"share_of_customers", "revenue_share"}
MONEY_COLUMNS = {"revenue", "average_order_value", "revenue_365", "value_if_alive", "expected_value"}


def frame_records(frame: pd.DataFrame) -> Iterator[list[Any]]:
    """Rows as JSON-ready Python values: dates ISO 8601, NaN/NaT → None."""
    columns = [_plain(frame[c]) for c in frame.columns]
    for row in zip(*columns, strict=True):
        yield [clean(v) for v in row]


def _plain(column: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(column):  # as dates, of any year numpy can hold
        days = column.to_numpy(dtype="datetime64[D]")
        return [None if np.isnat(d) else str(d) for d in days]
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


def frame_table(frame: pd.DataFrame, *, title: str, limit: int | None = TABLE_ROWS, bars: str | None = None,
                importance: Sequence[str] | None = None, style: Style = ENGLISH, total: int | None = None):
    """A table of ``frame`` that fits the width it is printed at (:mod:`retainkit.render_width`);
    at most ``limit`` rows, with a note of the rest; headers, names, numbers, dates and notes
    in the language of ``style`` (the frame itself untouched).

    ``bars`` names a 0–1 column drawn as an inline bar beside its value; ``importance`` orders
    the columns, most important first, for narrow widths (default: the declaration of
    :data:`TABLE_IMPORTANCE` that covers the frame's columns).
    """
    from rich.console import Group
    from rich.text import Text

    from retainkit.render_width import FitTable, dropped_note

    shown = frame if limit is None else frame.head(limit)
    columns, rows = frame_cells(frame, shown, bars=bars, style=style)
    order = list(importance if importance is not None else importance_for(list(frame.columns)))
    table = FitTable(columns, rows, title=style.note(title), importance=order,
                     describe_dropped=functools.partial(dropped_note, style=style))
    parts: list[Any] = [table]
    rows = len(frame) if total is None else total  # ``total``: the rows of which ``frame`` is the head
    if limit is not None and rows > limit:
        more = style.gettext("… %(n)s more rows (use --top N, or --format csv for all)")
        parts.append(Text(more % {"n": style.digits(f"{rows - limit:,}")}, style="dim"))
    parts += [Text(visible(style.note(note), newlines=True), style="dim") for note in frame.attrs.get("notes", [])]
    return Visible(Group(*parts))


def frame_cells(frame: pd.DataFrame, shown: pd.DataFrame, *, bars: str | None = None, style: Style = ENGLISH):
    """The :class:`~retainkit.render_width.Col` of each column of ``frame`` (and of the bar
    after ``bars``) and the cells of the rows of ``shown``, formatted for a table."""
    from rich.text import Text

    from retainkit.render_width import Col

    columns = []
    for column in frame.columns:
        kind = column_kind(frame[column])
        numeric = kind == "fixed" and _is_number(frame[column])
        label = LABELS.get(column, column)
        columns.append(Col(column, style.gettext(label) if label else label, kind, "right" if numeric else "left"))
        if column == bars:
            columns.append(Col(f"{column}_bar", "", "bar"))
    rows = []
    for record in frame_records(shown):
        cells: list[Any] = []
        for column, value in zip(frame.columns, record, strict=True):
            cells.append(Text(visible(_cell(column, value, style), newlines=True)))  # never markup or control codes
            if column == bars:
                cells.append(Text("█" * round(12 * max(0.0, min(1.0, value or 0.0))), style="cyan"))
        rows.append(cells)
    return columns, rows


#: Text columns holding periods or dates: never shortened.
FIXED_TEXT = {"period", "cohort", "first_order", "last_order", "expected_next_order", "last_purchase"}
#: Ids and names: one line, shortened with an ellipsis when narrow.
SHORT_TEXT = {"customer_id", "product", "rfm_segment", "level_name", "name"}
#: Prose: wrapped between words.
WRAP_TEXT = {"why"}

#: Each table's columns, most important first: at narrow widths the last go first.
TABLE_IMPORTANCE: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "revenue", "orders", "recency_days", "at_risk", "rfm_segment", "level_name",
                  "revenue_365", "avg_days_between_orders", "is_vip", "days_overdue", "expected_next_order",
                  "last_order", "first_order", "average_order_value", "tenure_days", "purchase_days", "level",
                  "r_score", "f_score", "m_score"),
    "at-risk": ("customer_id", "value_if_alive", "p_alive", "revenue_365", "why", "rfm_segment", "level_name",
                "recency_days", "orders", "revenue", "avg_days_between_orders", "days_overdue", "last_order",
                "expected_next_order", "is_vip", "expected_value"),
    "lapses": ("customer_id", "product", "days_since", "last_purchase", "revenue_365", "purchase_days",
               "customer_at_risk"),
    "predict": ("customer_id", "clv", "value_if_alive", "expected_purchases", "p_alive", "expected_order_value",
                "actual_purchases", "frequency", "purchase_span_days", "age_days", "monetary_value", "clv_low",
                "clv_high", "p_alive_low", "p_alive_high", "expected_purchases_low", "expected_purchases_high"),
    "segments": ("name", "customers", "share_of_customers", "revenue_share", "median_recency_days",
                 "average_order_value"),
}


def importance_for(columns: list[str]) -> tuple[str, ...]:
    """The declared order of :data:`TABLE_IMPORTANCE` that covers ``columns`` (else the one
    sharing most of them; ``()`` when none does: the frame's own order)."""
    wanted = set(columns)
    covering = [order for order in TABLE_IMPORTANCE.values() if wanted <= set(order)]
    if covering:
        return covering[0]
    best = max(TABLE_IMPORTANCE.values(), key=lambda order: len(wanted & set(order)))
    return best if wanted & set(best) else ()


def column_kind(column: pd.Series) -> Kind:
    """How a table fits ``column``: ``fixed`` (numbers, flags, dates), ``short`` (ids, names,
    other text) or ``wrap`` (prose)."""
    name = str(column.name)
    if name in WRAP_TEXT:
        return "wrap"
    if name in SHORT_TEXT:
        return "short"
    if name in FIXED_TEXT or _is_number(column) or pd.api.types.is_bool_dtype(column) \
            or pd.api.types.is_datetime64_any_dtype(column):
        return "fixed"
    return "short"


def _is_number(column: pd.Series) -> bool:
    """A numeric column that is not a flag."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def grouped_tables(frame: pd.DataFrame, *, by: str, titles: dict[str, str], bars: str | None = None,
                   style: Style = ENGLISH):
    """One table per value of ``by`` (the column itself left out)."""
    from rich.console import Group

    tables = []
    for key, part in frame.groupby(by, sort=False):
        shown = part.drop(columns=by)
        shown.attrs = {}  # the notes go once, under the last table
        tables.append(frame_table(shown, title=style.gettext(titles.get(key, key)), limit=None, bars=bars,
                                  style=style))
    return with_notes(Group(*tables), list(frame.attrs.get("notes", [])), style=style)


WHY = noop("%(days)s days since the last order; usually every %(gap)s days")


def with_reasons_said(frame: pd.DataFrame, *, style: Style) -> pd.DataFrame:
    """``frame`` with its ``why`` column (the library's English reason a customer is at
    risk) said again in the reader's language from the numbers it is made of; ``frame``
    itself as it is in English or without those columns."""
    needed = {"why", "recency_days", "avg_days_between_orders"}
    if style.lang == "en" or not needed <= set(frame.columns):
        return frame
    said = [style.gettext(WHY) % {"days": style.digits(f"{int(days):,}"), "gap": style.digits(f"{gap:,.0f}")}
            if pd.notna(days) and pd.notna(gap) else why
            for why, days, gap in zip(frame["why"], frame["recency_days"], frame["avg_days_between_orders"],
                                      strict=True)]
    return frame.assign(why=said)


#: Text columns holding names the library made (segments, levels): said in the reader's language.
NAME_COLUMNS = {"rfm_segment", "level_name", "name"}


def _cell(column: str, value: Any, style: Style = ENGLISH) -> str:
    """One cell of a terminal table: numbers in the reader's digits, the library's names and
    notes in the reader's words, dates in the reader's order; ids and products as they are."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return style.gettext("yes") if value else ""
    if isinstance(value, float):
        if column in RATE_COLUMNS:
            return style.digits(f"{value * 100:.1f}%")
        if column in PROBABILITY_COLUMNS:
            return style.digits(f"{value:.3f}")
        if column in MONEY_COLUMNS:
            return style.digits(f"{value:,.2f}")
        return style.digits(f"{value:,.1f}")
    if isinstance(value, int | np.integer):
        return style.digits(f"{value:,}") if not column.endswith("_score") and column != "level" else str(value)
    if column in NAME_COLUMNS:
        return style.word(value)
    if column in FIXED_TEXT:
        return style.labels(str(value))
    return style.note(value) if column in WRAP_TEXT else str(value)



TREND_SHOWN = (
    ("customers", noop("Customers"), "count"), ("orders", noop("Orders"), "count"),
    ("revenue", noop("Revenue"), "money"), ("average_order_value", noop("Avg order"), "money"),
    ("new_customers", noop("New"), "count"), ("repeat_customer_rate", noop("Repeat rate"), "rate"),
    ("retention_rate", noop("Retention"), "rate"), ("churn_rate", noop("Churn"), "rate"),
)
#: KPIs where a rise is bad news (drawn red).
FALLING_IS_GOOD = {"churn_rate"}


#: The trend's columns, most important first: at narrow widths the last go first.
TREND_IMPORTANCE = ("period", "customers", "revenue", "retention_rate", "churn_rate", "orders", "new_customers",
                    "repeat_customer_rate", "average_order_value")


def trend_view(frame: pd.DataFrame, *, title: str, style: Style = ENGLISH):
    """Table of a trend that fits its width: each KPI with an arrow for its change from the
    previous period; a partial period marked ``*`` and the notes under the table (SPEC §4)."""
    from rich.text import Text

    from retainkit.render import format_value
    from retainkit.render_width import Col, FitTable, dropped_note

    columns = [Col("period", style.gettext("Period"))] + [
        Col(key, style.gettext(label), "fixed", "right") for key, label, _ in TREND_SHOWN]
    rows = []
    for row in frame_records(frame):
        record = dict(zip(frame.columns, row, strict=True))
        cells: list[Any] = [Text(visible(style.period(record["period"])) + (" *" if record["partial"] else ""))]
        for key, _, kind in TREND_SHOWN:
            text = Text(format_value(record[key], kind, style=style))
            change = record.get(f"{key}_change")
            if change is not None and change != 0:
                good = (change > 0) != (key in FALLING_IS_GOOD)
                text.append(" ▲" if change > 0 else " ▼", style="green" if good else "red")
            cells.append(text)
        rows.append(cells)
    table = FitTable(columns, rows, title=style.note(title), importance=TREND_IMPORTANCE,
                     describe_dropped=functools.partial(dropped_note, style=style))
    return with_notes(table, frame.attrs.get("notes", []), style=style)


def with_notes(renderable: Any, notes: list[str], *, style: Style = ENGLISH):
    """``renderable`` with one dim line per note under it (in the reader's language)."""
    from rich.console import Group
    from rich.text import Text

    return Visible(Group(renderable, *(Text(visible(style.note(note), newlines=True), style="dim")
                                       for note in notes)))


def cohort_heatmap(wide: pd.DataFrame, *, title: str, style: Style = ENGLISH):
    """Table of the cohort matrix, each cell shaded by its value; empty after ``to``; a
    partial cohort or a cell in the incomplete period containing ``to`` marked ``*`` and left
    unshaded, the notes under the table (SPEC §4). Where the width is short, the latest
    periods (largest k) are left out and named under the table; a value is never cut."""
    from retainkit.render_width import DENSE, Col, FitTable

    ks = value_columns(wide)
    columns = [Col("cohort", style.gettext("Cohort")), Col("cohort_size", style.gettext("Size"), "fixed", "right")]
    rows = [[_cohort_name(record, style), style.digits(f"{int(record['cohort_size']):,}"),
             *(_cohort_cell(record, k) for k in ks)] for record in wide.to_dict("records")]
    same = max((len(row[n].plain) for row in rows for n in range(3, len(row))), default=0)  # k ≥ 1 line up
    columns += [Col(k, k, "fixed", "right", width=same if n else 0) for n, k in enumerate(ks)]
    table = FitTable(columns, rows, title=style.note(title), importance=("cohort", "cohort_size", *ks),
                     records_below=None, look=DENSE, describe_dropped=functools.partial(_periods_left_out, style=style))
    return with_notes(table, wide.attrs.get("notes", []), style=style)


def _cohort_name(record: dict[str, Any], style: Style = ENGLISH):
    """A cohort's label, ``*`` when it is partial."""
    from rich.text import Text

    return Text(visible(style.period(record["cohort"])) + (" *" if record.get("partial", False) else ""))


def _cohort_cell(record: dict[str, Any], k: str):
    """One shaded cell of the heatmap (``""`` after ``to``; dim with ``*`` when partial)."""
    from rich.text import Text

    value = record[k]
    cut = record.get("partial_k")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text("")
    if record.get("partial", False) or (cut is not None and not pd.isna(cut) and int(k) == int(cut)):
        return Text(f"{value * 100:.0f}%*", style="dim italic")
    shade = int(40 + 180 * max(0.0, min(1.0, value)))
    return Text(f"{value * 100:.0f}%", style=f"on rgb(20,{shade // 2},{shade})")


def _periods_left_out(keys: list[str], *, style: Style = ENGLISH) -> str:
    """The note under a heatmap whose latest periods did not fit."""
    from retainkit.render_width import HINT

    if len(keys) == 1:
        text = style.gettext("period %(k)s after each cohort's first not shown at this width; %(hint)s")
        return text % {"k": keys[0], "hint": style.gettext(HINT)}
    text = style.gettext("periods %(first)s–%(last)s after each cohort's first not shown at this width; %(hint)s")
    return text % {"first": min(keys, key=int), "last": max(keys, key=int), "hint": style.gettext(HINT)}


def frame_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table with every column (numbers as numbers).

    With a ``partial`` column, the ``period`` cell (else the first) of a partial row gets a
    ``*``, as does the cell ``partial_k`` names (a wide cohort matrix); ``frame.attrs["notes"]``
    follow the table, one paragraph each (SPEC §4). Headers, cells and notes go through
    :func:`~retainkit.safe_text.md_text`: an id or a product name from the data shows as
    itself, never as a tag, a link or a cell break.
    """
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return md_text(value)

    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in columns]
    marked = columns.index("period") if "period" in columns else 0
    partial = frame["partial"].tolist() if "partial" in columns else [False] * len(frame)
    lines = ["| " + " | ".join(md_text(c) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    cut = frame["partial_k"].tolist() if "partial_k" in columns else [None] * len(frame)  # cohorts, wide
    for row, flag, k in zip(frame_records(frame), partial, cut, strict=True):
        cells = [cell(v) for v in row]
        cells[marked] += "*" if flag else ""
        if not pd.isna(k) and str(k) in columns and cells[columns.index(str(k))]:
            cells[columns.index(str(k))] += "*"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [md_text(note, line_start=True) for note in frame.attrs.get("notes", [])]
    return "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes)


def value_columns(wide: pd.DataFrame) -> list[str]:
    """The k columns of a wide cohort matrix (``"0"``, ``"1"``, …)."""
    return [c for c in wide.columns if str(c).isdigit()]
