"""The one output layer: a command's result, a format, a destination (SPEC §7).

Every command hands its result to :func:`emit`. The result's type declares the formats it
supports and renders itself in each; :func:`choose_format` settles the format from
``--format`` and the ``--output`` suffix (a suffix that contradicts ``--format`` is an
error); :func:`emit` writes text, bytes or a Rich table to stdout or atomically to a file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from retainkit.errors import RetainkitError


class Format(StrEnum):
    """Every output format of every command (each result supports some of them)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    tsv = "tsv"
    md = "md"
    parquet = "parquet"
    html = "html"


#: The format an ``--output`` suffix names.
SUFFIX_FORMATS: dict[str, Format] = {
    ".json": Format.json, ".jsonl": Format.jsonl, ".ndjson": Format.jsonl, ".csv": Format.csv,
    ".tsv": Format.tsv, ".tab": Format.tsv, ".md": Format.md, ".markdown": Format.md,
    ".parquet": Format.parquet, ".pq": Format.parquet, ".html": Format.html, ".htm": Format.html,
    ".txt": Format.table,
}
STDOUT = "-"
FRAME_FORMATS = (Format.table, Format.json, Format.jsonl, Format.csv, Format.tsv, Format.md, Format.parquet)


@dataclass(frozen=True)
class Destination:
    """Where and how a result goes: ``--format``, ``--output`` (``-`` or None: stdout),
    ``--no-header`` (CSV/TSV appended to an existing file), the command's inputs as
    given (never written over), and ``--lang``: the language of tables and reports (JSON,
    CSV and Parquet never change with it)."""

    fmt: Format | None = None
    output: Path | None = None
    header: bool = True
    inputs: tuple[str, ...] = ()
    lang: str = "en"

    @property
    def path(self) -> Path | None:
        return None if self.output is None or str(self.output) == STDOUT else self.output

    def check(self, inputs: Sequence[str] | None = None) -> None:
        """Before any work: ``--output``'s folder exists, it is not a folder, and it is none
        of ``inputs`` (the input files, folders expanded; default :attr:`inputs`)."""
        if self.path is not None:
            from retainkit.render import check_output

            check_output(self.path, self.inputs if inputs is None else inputs)


class Result:
    """A command's result: the formats it supports (the first is its default) and how it
    renders in each — text, bytes, or a Rich renderable for ``table``; ``languages``: whether
    its tables and reports speak the reader's language (``--lang``)."""

    formats: ClassVar[tuple[Format, ...]] = (Format.table,)
    languages: ClassVar[bool] = False

    def render(self, fmt: Format, *, lang: str = "en") -> Any:  # pragma: no cover - every result overrides it
        raise NotImplementedError


def _style(lang: str) -> Any:
    from retainkit.render_locale import Style, check_lang

    return Style(check_lang(lang))


@dataclass(frozen=True)
class KpiResult(Result):
    """The ``kpis`` document."""

    document: dict[str, Any]
    views: Any  # group → (key, label, kind): the metric registry's view of each KPI
    formats: ClassVar[tuple[Format, ...]] = (Format.table, Format.json, Format.csv, Format.tsv, Format.md)
    languages: ClassVar[bool] = True

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render, render_kpis

        if fmt is Format.table:
            return render_kpis.kpis_table(self.document, self.views, style=_style(lang))
        if fmt is Format.json:
            return render.to_json(self.document)
        if fmt is Format.md:
            return render_kpis.kpis_markdown(self.document, self.views, style=_style(lang))
        return render_kpis.kpis_csv(self.document, delimiter="\t" if fmt is Format.tsv else ",")


#: Columns a terminal table shows for each view, those the frame has (exports carry every column).
TABLE_COLUMNS = {
    "customers": ("customer_id", "orders", "revenue", "recency_days", "avg_days_between_orders", "revenue_365",
                  "rfm_segment", "is_vip", "at_risk", "level_name"),
    "at-risk": ("customer_id", "value_if_alive", "p_alive", "revenue_365", "why", "rfm_segment", "level_name"),
    "lapses": ("customer_id", "product", "purchase_days", "last_purchase", "days_since", "revenue_365",
               "customer_at_risk"),
}
SEGMENT_TITLES = {"rfm_segment": "RFM segments", "loyalty_level": "Loyalty ladder"}


@dataclass(frozen=True)
class FrameResult(Result):
    """A table of rows (customers, at risk, lapses, segments, trend, a cohort layout).

    ``view`` picks the terminal rendering: the columns of :data:`TABLE_COLUMNS`, grouped
    tables (``segments``) or the trend view; ``limit`` caps the rows a terminal shows.
    """

    frame: Any  # pandas.DataFrame
    title: str
    view: str | None = None
    limit: int | None = None
    bars: str | None = None
    formats: ClassVar[tuple[Format, ...]] = FRAME_FORMATS
    languages: ClassVar[bool] = True

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render_frames as rf

        if fmt is Format.table:
            return self._table(_style(lang))
        frame = self.frame.to_pandas() if hasattr(self.frame, "to_pandas") else self.frame  # rows held by Spark
        renderers = {Format.json: rf.frame_json, Format.jsonl: rf.frame_jsonl, Format.csv: rf.frame_csv,
                     Format.md: rf.frame_markdown, Format.parquet: rf.frame_parquet}
        if fmt is Format.tsv:
            return rf.frame_csv(frame, delimiter="\t")
        return renderers[fmt](frame)

    def _table(self, style: Any) -> Any:
        from retainkit import render_frames as rf

        if self.view == "segments":
            return rf.grouped_tables(self.frame, by="group", titles=SEGMENT_TITLES, bars=self.bars, style=style)
        if self.view == "trend":
            return rf.trend_view(self.frame, title=self.title, style=style)
        frame, total = self.frame, None
        if hasattr(frame, "to_pandas"):  # rows held by Spark: only those the table shows come over
            total, frame = len(frame), frame.head(self.limit or rf.TABLE_ROWS)
        frame = rf.with_reasons_said(frame, style=style)
        shown = frame[[c for c in TABLE_COLUMNS[self.view] if c in frame]] if self.view in TABLE_COLUMNS else frame
        return rf.frame_table(shown, title=self.title, limit=self.limit or rf.TABLE_ROWS, bars=self.bars, style=style,
                              total=total)


@dataclass(frozen=True)
class CohortResult(Result):
    """The cohort matrix: a heatmap on a terminal; the long or wide layout in files."""

    long: Any  # pandas.DataFrame, one row per (cohort, k)
    wide: Any  # pandas.DataFrame, one row per cohort
    title: str
    wide_layout: bool = False
    formats: ClassVar[tuple[Format, ...]] = FRAME_FORMATS
    languages: ClassVar[bool] = True

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render_frames

        if fmt is Format.table:
            return render_frames.cohort_heatmap(self.wide, title=self.title, style=_style(lang))
        return FrameResult(self.wide if self.wide_layout else self.long, self.title).render(fmt)


@dataclass(frozen=True)
class ReportResult(Result):
    """The periodic report (default Markdown; HTML is one self-contained file)."""

    content: dict[str, Any]
    formats: ClassVar[tuple[Format, ...]] = (Format.md, Format.html, Format.json)
    languages: ClassVar[bool] = True

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render_report

        renderers = {Format.html: render_report.report_html, Format.md: render_report.report_markdown,
                     Format.json: render_report.report_json}
        style = {"lang": lang} | {k: v for k, v in (self.content.get("_style") or {}).items() if v is not None}
        return renderers[fmt](self.content | {"_style": style})


@dataclass(frozen=True)
class PredictionResult(Result):
    """``predict``: fits, totals, holdout and customers; files other than JSON hold the
    customer table."""

    prediction: Any  # retainkit.models.predict.Prediction
    customers: Any  # pandas.DataFrame
    quality: dict[str, Any] = field(default_factory=dict)
    formats: ClassVar[tuple[Format, ...]] = FRAME_FORMATS

    @property
    def frame(self) -> Any:
        """The customer table: one held by Spark is written by Spark (:func:`emit`)."""
        return self.customers

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render_predict

        customers, total = self.customers, None
        if hasattr(customers, "to_pandas"):  # rows held by Spark: only those shown or written come over
            if fmt is Format.table:
                total, customers = len(customers), customers.head(render_predict.TABLE_ROWS)
            elif fmt is Format.json:
                customers = customers.to_pandas()
        if fmt is Format.table:
            return render_predict.prediction_table(self.prediction, customers, total=total)
        if fmt is Format.json:
            return render_predict.prediction_json(self.prediction, customers, quality=self.quality)
        return FrameResult(customers, "Predictions").render(fmt)


@dataclass(frozen=True)
class InspectResult(Result):
    """``inspect``: how a file is read."""

    report: Any  # retainkit.inspection.InspectReport
    formats: ClassVar[tuple[Format, ...]] = (Format.table, Format.json)

    def render(self, fmt: Format, *, lang: str = "en") -> Any:
        from retainkit import render_inspect

        if fmt is Format.json:
            return render_inspect.inspect_json(self.report)
        return render_inspect.inspect_table(self.report)


def choose_format(result: Result | type[Result], destination: Destination) -> Format:
    """``--format`` if given, else the ``--output`` suffix's, else the result's default; a
    suffix that names another format than ``--format`` is an error, as is a format the
    result does not have."""
    path = destination.path
    suffix = path.suffix.lower() if path is not None else ""
    named = SUFFIX_FORMATS.get(suffix)
    if suffix and named is None and destination.fmt is None:
        raise RetainkitError(f"--output {path}: cannot tell the format from {path.suffix!r}",  # type: ignore[union-attr]
                             f"name it {', '.join(sorted(SUFFIX_FORMATS))}, or give --format")
    fmt = destination.fmt or named or result.formats[0]
    if destination.fmt and named and named is not destination.fmt and named is not Format.table:
        raise RetainkitError(f"--output {path} names {named.value} but --format is {destination.fmt.value}",
                             f"drop --format, or name the file .{destination.fmt.value}")
    if fmt not in result.formats:
        choices = ", ".join(f.value for f in result.formats)
        where = f"--output {path}" if fmt is named and not destination.fmt else f"--format {fmt.value}"
        raise RetainkitError(f"{where}: this command writes {choices}", f"use one of: {choices}")
    return fmt


def emit(result: Result, destination: Destination) -> None:
    """Render ``result`` in the chosen format and write it (SPEC §7)."""
    from retainkit.render import rich_to_text, write_output

    fmt = choose_format(result, destination)
    path = destination.path
    writer = getattr(getattr(result, "frame", None), "write_parquet", None)
    if fmt is Format.parquet and writer is not None:  # rows held by Spark: Spark writes them
        if path is None:
            raise RetainkitError("--engine spark writes Parquet as a folder", "give --output FOLDER")
        writer(str(destination.output))
        return
    rendered = result.render(fmt, lang=destination.lang)
    if fmt is Format.parquet and path is None and sys.stdout.isatty():
        raise RetainkitError("Parquet is binary: not written to a terminal", "give --output FILE.parquet")
    if not isinstance(rendered, str | bytes):  # a Rich renderable
        if path is None:
            from rich.console import Console

            Console().print(rendered)
            return
        rendered = rich_to_text(rendered)
    if not destination.header and fmt in (Format.csv, Format.tsv) and isinstance(rendered, str):
        rendered = rendered.split("\n", 1)[1] if "\n" in rendered else ""
    write_output(rendered, path)
