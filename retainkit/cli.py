"""The ``retainkit`` command line: options in, library calls, rendered output (SPEC §7).

Commands only wire options to :mod:`retainkit.pipeline` and :mod:`retainkit.render`; the
one place that turns a :class:`RetainkitError` into exit status 2 is :func:`_run`.
Heavy modules (pandas, pyarrow) are imported inside the commands, so ``--help`` is quick.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
import typing
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from retainkit.errors import RetainkitError

app = typer.Typer(
    name="retainkit",
    help="Customer-retention KPIs from any order export (CSV, TSV, .csv.gz, Parquet, Excel .xlsx, or - for stdin).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals would hold customers' data
    rich_markup_mode="rich",
)

EXIT_ALERT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
LARGE_INPUT_BYTES = 32 << 20

COLUMNS = "Columns (default: found by header name)"
READING = "Reading"
PERIOD = "Period"
OUTPUT = "Output"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


class InspectFormat(StrEnum):
    table = "table"
    json = "json"


class FrameFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    md = "md"
    parquet = "parquet"


class Every(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class CohortMetric(StrEnum):
    customers = "customers"
    revenue = "revenue"
    orders = "orders"


class CohortLayout(StrEnum):
    long = "long"
    wide = "wide"


class ReportEvery(StrEnum):
    week = "week"
    month = "month"


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    json = "json"


class SummaryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    md = "md"


# Options shared by every command, declared once.
Files = Annotated[list[str], typer.Argument(help="Order exports: files, folders of CSV/Parquet/Excel, or - for "
                                            "stdin.",
                                            show_default=False, metavar="FILE")]
CustomerCol = Annotated[str | None, typer.Option("--customer", help="Customer id column.", rich_help_panel=COLUMNS)]
DateCol = Annotated[str | None, typer.Option("--date", help="Order date column.", rich_help_panel=COLUMNS)]
OrderCol = Annotated[str | None, typer.Option("--order", help="Order id column (lines sharing it form one order).",
                                              rich_help_panel=COLUMNS)]
AmountCol = Annotated[str | None, typer.Option("--amount", help="Amount column (line or order total).",
                                               rich_help_panel=COLUMNS)]
QuantityCol = Annotated[str | None, typer.Option("--quantity", help="Quantity column (amount = quantity × price).",
                                                 rich_help_panel=COLUMNS)]
PriceCol = Annotated[str | None, typer.Option("--price", help="Unit price column.", rich_help_panel=COLUMNS)]
ProductCol = Annotated[str | None, typer.Option("--product", help="Product id / SKU column.", rich_help_panel=COLUMNS)]
ReferrerCol = Annotated[str | None, typer.Option("--referrer", help="Referred-by column.", rich_help_panel=COLUMNS)]
RefundCol = Annotated[str | None, typer.Option("--refund", help="Refunded-amount column (e.g. Shopify's).",
                                               rich_help_panel=COLUMNS)]
Encoding = Annotated[str | None, typer.Option("--encoding", help="Text encoding of CSV input (default UTF-8).",
                                              rich_help_panel=READING)]
DayFirst = Annotated[bool | None, typer.Option("--dayfirst/--monthfirst", help="Order of day and month in dates "
                                               "like 03/04/2024 (never guessed).", rich_help_panel=READING,
                                               show_default=False)]
DateFormat = Annotated[str | None, typer.Option("--date-format", help="strftime format of dates, e.g. %d/%m/%Y.",
                                                rich_help_panel=READING)]
Tz = Annotated[str | None, typer.Option("--tz", help="Time zone for dates with an offset (default: UTC).",
                                        rich_help_panel=READING)]
Decimal = Annotated[str | None, typer.Option("--decimal", help="Decimal mark of text amounts: . or , "
                                             "(default: decided from each column's values, never guessed)",
                                             rich_help_panel=READING)]
Dedupe = Annotated[bool | None, typer.Option("--dedupe/--keep-duplicates", help="Drop exact duplicate rows "
                                             "(default: keep and report).", rich_help_panel=READING,
                                             show_default=False)]
Sheet = Annotated[str | None, typer.Option("--sheet", help="Excel: the sheet to read (default: the first).",
                                           rich_help_panel=READING)]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="Settings file (default: ./retainkit.toml).",
                                                 rich_help_panel=READING)]
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]
FromDate = Annotated[str | None, typer.Option("--from", help="First day of the period (YYYY-MM-DD).",
                                              rich_help_panel=PERIOD)]
ToDate = Annotated[str | None, typer.Option("--to", help="Last day of the period (default: last order).",
                                            rich_help_panel=PERIOD)]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Synonym of --to.", rich_help_panel=PERIOD)]
ChurnWindow = Annotated[int | None, typer.Option("--churn-window", help="Churn window in days (default: the "
                                                 "period's length with --from, else 365).", rich_help_panel=PERIOD)]
CUSTOMERS = "Customers (SPEC §5)"
InactiveDays = Annotated[int, typer.Option("--inactive-days", min=0, help="Days without an order before a "
                                           "customer can be at risk.", rich_help_panel=CUSTOMERS)]
LostDays = Annotated[int, typer.Option("--lost-days", min=1, help="Days without an order after which a customer "
                                       "is lost.", rich_help_panel=CUSTOMERS)]
VipTop = Annotated[float, typer.Option("--vip-top", min=0.0, max=1.0, help="Share of customers (by revenue over "
                                       "the last 365 days) who are VIPs.", rich_help_panel=CUSTOMERS)]
SummaryFmt = Annotated[SummaryFormat, typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT)]
Top = Annotated[int | None, typer.Option("--top", min=1, help="Show only the first N rows.", rich_help_panel=OUTPUT)]
OutputFile = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).",
                                                 rich_help_panel=OUTPUT)]


#: The reading options every command takes: (parameter, annotation), all defaulting to None.
_READ_PARAMETERS: tuple[tuple[str, Any], ...] = (
    ("customer", CustomerCol), ("date_col", DateCol), ("order", OrderCol), ("amount", AmountCol),
    ("quantity", QuantityCol), ("price", PriceCol), ("product", ProductCol), ("referrer", ReferrerCol),
    ("refund", RefundCol), ("encoding", Encoding), ("dayfirst", DayFirst), ("date_format", DateFormat),
    ("tz", Tz), ("decimal", Decimal), ("dedupe", Dedupe), ("sheet", Sheet), ("config", ConfigFile),
)
_COLUMN_PARAMETERS = {
    "customer": "customer", "date_col": "date", "order": "order", "amount": "amount", "quantity": "quantity",
    "price": "price", "product": "product", "referrer": "referrer", "refund": "refund",
}


def _adds_options(
    options: tuple[tuple[str, Any, Any], ...], target: str, build: Callable[[dict[str, Any]], Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator that adds ``options`` ((name, annotation, default), declared once) to a
    command's signature and hands the command ``target=build(values given)`` instead."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values() if p.name != target]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, annotation, default in options]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            given = {name: kwargs.pop(name) for name, _, _ in options}
            return command(**kwargs, **{target: build(given)})

        parameters = [*own, *added]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


#: Every command that reads exports takes the reading options; it receives ``settings``, a
#: function giving the merged :class:`~retainkit.config.Config` (config file under the
#: command line), called inside the command so that errors reach :func:`_run`.
reads_exports = _adds_options(
    tuple((name, annotation, None) for name, annotation in _READ_PARAMETERS), "settings",
    lambda given: lambda: _settings(given),
)


def _thresholds(given: dict[str, Any]):
    from retainkit.customers import CustomerOptions

    return CustomerOptions(**given)


#: Commands that judge customers take the SPEC §5 thresholds; they receive ``thresholds``.
customer_thresholds = _adds_options(
    (("inactive_days", InactiveDays, 60), ("lost_days", LostDays, 365), ("vip_top", VipTop, 0.05)),
    "thresholds", _thresholds,
)


def _settings(given: dict[str, Any]):
    """Config file settings with the command-line values laid over them."""
    from retainkit.config import COLUMN_KEYS, load_config, merged

    config = load_config(given.pop("config"))
    columns = dict(config.read.columns)
    for parameter, key in _COLUMN_PARAMETERS.items():
        if given.get(parameter):
            columns[COLUMN_KEYS[key]] = given[parameter]
    read_values = {k: v for k, v in given.items() if k not in _COLUMN_PARAMETERS}
    read_values["decimal"] = _decimal(read_values["decimal"])
    return replace(config, read=merged(merged(config.read, **read_values), columns=columns))


def _run(debug: bool, body: Callable[[], int | None]) -> NoReturn:
    """Run a command body; an error becomes one line on stderr and its exit status: 2 for
    bad input or a missing optional extra, 3 for a bug. ``--debug`` adds the traceback."""
    try:
        code = body() or 0
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as err:
        message, status = _describe(err)
        if debug:
            traceback.print_exception(err, file=sys.stderr)
        _fail(message, status)
    raise typer.Exit(code)


#: Optional modules: what needs them, their name, and the extra that installs them.
_OPTIONAL_MODULES = {
    "scipy": ("predict", "SciPy", "predict"),
    "jinja2": ("reports", "Jinja2", "report"),
    "matplotlib": ("HTML reports", "matplotlib", "report"),
}


def _describe(err: Exception) -> tuple[str, int]:
    """The error line for ``err`` and the exit status it means (SPEC §7)."""
    if isinstance(err, RetainkitError):
        return str(err), EXIT_BAD_INPUT
    if isinstance(err, ImportError) and (err.name or "").split(".")[0] in _OPTIONAL_MODULES:
        what, package, extra = _OPTIONAL_MODULES[(err.name or "").split(".")[0]]
        return f"{what} needs {package}, which is not installed — pip install 'retainkit[{extra}]'", EXIT_BAD_INPUT
    if isinstance(err, OSError) and err.errno is not None:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror or err} — check the path, its folder and its permissions", EXIT_BAD_INPUT
    return f"internal error ({type(err).__name__}: {err}); rerun with --debug and report it", EXIT_INTERNAL


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"retainkit: error: {message}\n")
    raise typer.Exit(code)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RetainkitError(f"{option} {value!r} is not a date", "write it as YYYY-MM-DD") from None


def _load(files: list[str], read_options: Any):
    """Load and normalise, with a spinner on a terminal while a large input loads."""
    from rich.console import Console

    from retainkit.pipeline import read_orders
    from retainkit.render import overlap_warning

    console = Console(stderr=True)
    large = any(f == "-" or (Path(f).is_file() and Path(f).stat().st_size > LARGE_INPUT_BYTES) for f in files)
    if console.is_terminal and large:
        with console.status("Reading orders…", spinner="dots"):
            data = read_orders(files, read_options)
    else:
        data = read_orders(files, read_options)
    warning = overlap_warning(data.quality.as_dict())
    if warning:
        sys.stderr.write(f"retainkit: warning: {warning}\n")
    return data


def _emit(text: str, output: Path | None) -> None:
    from retainkit.render import write_output

    write_output(text, output)


def _print_table(renderable: Any, output: Path | None) -> None:
    from retainkit.render import rich_to_text

    if output is not None:
        _emit(rich_to_text(renderable), output)
        return
    from rich.console import Console

    Console().print(renderable)


def _end_date(to: str | None, as_of: str | None) -> date | None:
    if to and as_of and to != as_of:
        raise RetainkitError("--to and --as-of disagree", "give one of them")
    return _parse_date(to or as_of, "--to")


#: Columns a terminal table shows (exports carry every column).
TABLE_COLUMNS = {
    "customers": ("customer_id", "orders", "revenue", "recency_days", "avg_days_between_orders", "revenue_365",
                  "rfm_segment", "is_vip", "at_risk", "level_name"),
    "at-risk": ("customer_id", "revenue_365", "why", "rfm_segment", "level_name"),
    "lapses": ("customer_id", "product", "purchase_days", "last_purchase", "days_since", "revenue_365",
               "customer_at_risk"),
}


def _emit_frame(frame: Any, fmt: StrEnum, output: Path | None, *, title: str, top: int | None,
                bars: str | None = None, view: str | None = None) -> None:
    """Hand a result frame to the output layer in the format asked for."""
    from retainkit import render_frames

    if fmt == "table" and view == "segments":
        titles = {"rfm_segment": "RFM segments", "loyalty_level": "Loyalty ladder"}
        _print_table(render_frames.grouped_tables(frame, by="group", titles=titles, bars=bars), output)
    elif fmt == "table":
        shown = frame[list(TABLE_COLUMNS[view])] if view else frame
        _print_table(render_frames.frame_table(shown, title=title, limit=top or render_frames.TABLE_ROWS,
                                               bars=bars), output)
    elif fmt == "csv":
        _emit(render_frames.frame_csv(frame), output)
    elif fmt == "json":
        _emit(render_frames.frame_json(frame), output)
    elif fmt == "jsonl":
        _emit(render_frames.frame_jsonl(frame), output)
    elif fmt == "md":
        _emit(render_frames.frame_markdown(frame), output)
    else:
        if output is None and sys.stdout.isatty():
            raise RetainkitError("Parquet is binary: not written to a terminal", "give --output FILE.parquet")
        _emit(render_frames.frame_parquet(frame), output)


@app.command()
@reads_exports
@customer_thresholds
def kpis(
    files: Files,
    from_: FromDate = None,
    to: ToDate = None,
    as_of: AsOf = None,
    churn_window: ChurnWindow = None,
    churn_alert: Annotated[float | None, typer.Option("--churn-alert", help="Alert when the annual churn rate "
                                                      "exceeds this (default: 0.07).", rich_help_panel=PERIOD)] = None,
    margin: Annotated[float | None, typer.Option("--margin", help="Gross margin applied to CLV (e.g. 0.3).",
                                                 rich_help_panel=PERIOD)] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", rich_help_panel=OUTPUT)
    ] = Format.table,
    output: OutputFile = None,
    fail_on_alert: Annotated[bool, typer.Option("--fail-on-alert", help="Exit 1 when the churn alert fires.",
                                                rich_help_panel=OUTPUT)] = False,
    thresholds: Any = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """Headline retention KPIs: repeat rate, churn, retention, CLV, purchase frequency."""

    def body() -> int:
        from retainkit import render
        from retainkit.config import merged
        from retainkit.pipeline import kpi_report

        end = _end_date(to, as_of)
        config = settings()
        analysis = merged(config.analysis, churn_window_days=churn_window, churn_alert=churn_alert, margin=margin)
        data = _load(files, config.read)
        document = kpi_report(
            data, files=files, start=_parse_date(from_, "--from"), end=end, analysis=analysis,
            customer_options=thresholds,
        )
        if fmt is Format.json:
            _emit(render.to_json(document), output)
        elif fmt is Format.csv:
            _emit(render.kpis_csv(document), output)
        elif fmt is Format.md:
            _emit(render.kpis_markdown(document), output)
        else:
            _print_table(render.kpis_table(document), output)
        alert = document["metrics"]["churn_alert"]
        if alert:
            sys.stderr.write(
                f"retainkit: alert: annual churn rate {document['metrics']['annual_churn_rate']:.2%} "
                f"is above {analysis.churn_alert:.2%}\n"
            )
        return EXIT_ALERT if (alert and fail_on_alert) else 0

    _run(debug, body)


@app.command()
@reads_exports
@customer_thresholds
def customers(
    files: Files,
    to: ToDate = None,
    as_of: AsOf = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only this RFM segment (e.g. 'At risk').",
                                                rich_help_panel=CUSTOMERS)] = None,
    level: Annotated[int | None, typer.Option("--level", min=-1, max=5, help="Only this loyalty level (−1…5).",
                                              rich_help_panel=CUSTOMERS)] = None,
    vip: Annotated[bool | None, typer.Option("--vip/--not-vip", help="Only VIPs / only non-VIPs.",
                                             rich_help_panel=CUSTOMERS, show_default=False)] = None,
    at_risk: Annotated[bool | None, typer.Option("--at-risk/--not-at-risk", help="Only customers at risk / not.",
                                                 rich_help_panel=CUSTOMERS, show_default=False)] = None,
    sort: Annotated[str | None, typer.Option("--sort", help="Order by this column, largest first "
                                             "(e.g. revenue_365, recency_days).", rich_help_panel=OUTPUT)] = None,
    ascending: Annotated[bool, typer.Option("--ascending", help="Smallest first.", rich_help_panel=OUTPUT)] = False,
    top: Top = None,
    thresholds: Any = None,
    fmt: Annotated[FrameFormat, typer.Option("--format", "-f", help="Output format.",
                                             rich_help_panel=OUTPUT)] = FrameFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """One row per customer: orders, revenue, recency, RFM segment, VIP, at risk, loyalty level."""

    def body() -> int:
        from retainkit.customers import COLUMNS, SEGMENTS, select_customers
        from retainkit.pipeline import customer_report

        if sort is not None and sort not in COLUMNS:
            raise RetainkitError(f"--sort {sort!r} is not a column", f"columns: {', '.join(COLUMNS)}")
        if segment is not None and segment.casefold() not in {s.casefold() for s in SEGMENTS}:
            raise RetainkitError(f"--segment {segment!r} is not an RFM segment", f"segments: {', '.join(SEGMENTS)}")
        end = _end_date(to, as_of)
        data = _load(files, settings().read)
        table = customer_report(data, end=end, options=thresholds)
        chosen = select_customers(table, segment=segment, level=level, vip=vip, at_risk=at_risk, sort=sort,
                                  descending=not ascending, top=top)
        _emit_frame(chosen, fmt, output, title=f"Customers ({len(chosen):,} of {len(table):,})", top=top,
                    view="customers")
        return 0

    _run(debug, body)


@app.command("at-risk")
@reads_exports
@customer_thresholds
def at_risk_command(
    files: Files,
    to: ToDate = None,
    as_of: AsOf = None,
    products: Annotated[bool, typer.Option("--products", help="List the products each customer has stopped "
                                           "buying (needs a product column).", rich_help_panel=CUSTOMERS)] = False,
    thresholds: Any = None,
    top: Top = None,
    fmt: Annotated[FrameFormat, typer.Option("--format", "-f", help="Output format.",
                                             rich_help_panel=OUTPUT)] = FrameFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """Customers slipping away, most value at risk first, with why; or their lapsed products."""

    def body() -> int:
        from retainkit.pipeline import at_risk_report, read_orders

        end = _end_date(to, as_of)
        config = settings()
        data = read_orders(files, config.read, product_lines=products) if products else _load(files, config.read)
        frame = at_risk_report(data, end=end, options=thresholds,
                               products=products)
        frame = frame.head(top) if top else frame
        title = "Product lapses" if products else "Customers at risk"
        _emit_frame(frame, fmt, output, title=f"{title} ({len(frame):,})", top=top,
                    view="lapses" if products else "at-risk")
        return 0

    _run(debug, body)


@app.command()
@reads_exports
@customer_thresholds
def segments(
    files: Files,
    to: ToDate = None,
    as_of: AsOf = None,
    thresholds: Any = None,
    fmt: SummaryFmt = SummaryFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """The customer base by RFM segment and by loyalty level: size, revenue share, recency."""

    def body() -> int:
        from retainkit.pipeline import segments_report

        end = _end_date(to, as_of)
        data = _load(files, settings().read)
        frame = segments_report(data, end=end, options=thresholds)
        _emit_frame(frame, fmt, output, title="Segments", top=None, bars="share_of_customers", view="segments")
        return 0

    _run(debug, body)


@app.command()
@reads_exports
def trend(
    files: Files,
    every: Annotated[Every, typer.Option("--every", help="Calendar period (ISO weeks start Monday).",
                                         rich_help_panel=PERIOD)] = Every.month,
    from_: FromDate = None,
    to: ToDate = None,
    as_of: AsOf = None,
    fmt: SummaryFmt = SummaryFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """KPIs per week, month, quarter or year, with retention and churn against the period before."""

    def body() -> int:
        from retainkit import render_frames
        from retainkit.pipeline import trend_report

        end = _end_date(to, as_of)
        data = _load(files, settings().read)
        frame = trend_report(data, every=every.value, start=_parse_date(from_, "--from"), end=end)
        if fmt == "table":
            _print_table(render_frames.trend_view(frame, title=f"Trend by {every.value} (* = partial period)"),
                         output)
        else:
            _emit_frame(frame, fmt, output, title="Trend", top=None)
        return 0

    _run(debug, body)


@app.command()
@reads_exports
def cohorts(
    files: Files,
    every: Annotated[Every, typer.Option("--every", help="Cohort period: when customers first ordered.",
                                         rich_help_panel=PERIOD)] = Every.month,
    metric: Annotated[CohortMetric, typer.Option("--metric", help="customers: share still buying; revenue / "
                                                 "orders: relative to the first period.",
                                                 rich_help_panel=OUTPUT)] = CohortMetric.customers,
    layout: Annotated[CohortLayout, typer.Option("--layout", help="JSON/CSV shape: one row per cell (long) or per "
                                                 "cohort (wide).", rich_help_panel=OUTPUT)] = CohortLayout.long,
    from_: FromDate = None,
    to: ToDate = None,
    as_of: AsOf = None,
    fmt: SummaryFmt = SummaryFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """The cohort matrix: of each period's new customers, how many bought again k periods later."""

    def body() -> int:
        from retainkit import render_frames
        from retainkit.cohorts import cohort_wide
        from retainkit.pipeline import cohort_report

        end = _end_date(to, as_of)
        data = _load(files, settings().read)
        long = cohort_report(data, every=every.value, metric=metric.value, start=_parse_date(from_, "--from"),
                             end=end)
        if fmt == "table":
            title = f"Cohorts by {every.value}: {metric.value} retention (empty = after --to)"
            _print_table(render_frames.cohort_heatmap(cohort_wide(long), title=title), output)
        else:
            _emit_frame(cohort_wide(long) if layout is CohortLayout.wide else long, fmt, output, title="Cohorts",
                        top=None)
        return 0

    _run(debug, body)


@app.command()
@reads_exports
@customer_thresholds
def report(
    files: Files,
    every: Annotated[ReportEvery, typer.Option("--every", help="Report on the last complete week or month.",
                                               rich_help_panel=PERIOD)] = ReportEvery.week,
    to: ToDate = None,
    as_of: AsOf = None,
    churn_alert: Annotated[float | None, typer.Option("--churn-alert", help="Alert when the annual churn rate "
                                                      "exceeds this (default: 0.07).", rich_help_panel=PERIOD)] = None,
    thresholds: Any = None,
    fmt: Annotated[ReportFormat | None, typer.Option("--format", "-f", help="html, md or json (default: from the "
                                                     "--output suffix, else md).", rich_help_panel=OUTPUT)] = None,
    output: OutputFile = None,
    fail_on_alert: Annotated[bool, typer.Option("--fail-on-alert", help="Exit 1 when an alert fires.",
                                                rich_help_panel=OUTPUT)] = False,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """The periodic report: last complete week or month against the one before and a year earlier."""

    def body() -> int:
        from retainkit import render_report
        from retainkit.pipeline import report_data

        chosen = fmt.value if fmt else _format_from_suffix(output)
        end = _end_date(to, as_of)
        config = settings()
        data = _load(files, config.read)
        threshold = churn_alert if churn_alert is not None else config.analysis.churn_alert
        content = report_data(data, every=every.value, end=end, churn_alert=threshold,
                              customer_options=thresholds)
        render = {"html": render_report.report_html, "md": render_report.report_markdown,
                  "json": render_report.report_json}[chosen]
        _emit(render(content), output)
        for alert in content["alerts"]:
            sys.stderr.write(f"retainkit: alert: {alert['message']}\n")
        return EXIT_ALERT if (content["alerts"] and fail_on_alert) else 0

    _run(debug, body)


def _format_from_suffix(output: Path | None) -> str:
    if output is None:
        return "md"
    suffix = output.suffix.lower().lstrip(".")
    formats = {"html": "html", "htm": "html", "md": "md", "markdown": "md", "json": "json"}
    if suffix not in formats:
        raise RetainkitError(f"--output {output}: cannot tell the format from {output.suffix!r}",
                             "name it .html, .md or .json, or give --format")
    return formats[suffix]


MODEL = "Model (SPEC §6)"


@app.command()
@reads_exports
def predict(
    files: Files,
    horizon: Annotated[float, typer.Option("--horizon", min=1, help="Days ahead to predict.",
                                           rich_help_panel=MODEL)] = 365,
    time_unit: Annotated[float, typer.Option("--time-unit", min=0.001, help="Days per model time unit "
                                             "(7: weeks, as in the literature).", rich_help_panel=MODEL)] = 7,
    discount_rate: Annotated[float, typer.Option("--discount-rate", min=0, help="Annual discount rate for CLV, "
                                                 "compounded monthly.", rich_help_panel=MODEL)] = 0.1,
    margin: Annotated[float, typer.Option("--margin", min=0, help="Gross margin applied to CLV.",
                                          rich_help_panel=MODEL)] = 1.0,
    penalizer: Annotated[float, typer.Option("--penalizer", min=0, help="L2 penalty on the parameters, for fits "
                                             "that do not converge.", rich_help_panel=MODEL)] = 0.0,
    holdout: Annotated[str | None, typer.Option("--holdout", help="Fit on orders before this date; compare "
                                                "predictions with what happened from it on.",
                                                rich_help_panel=MODEL)] = None,
    to: ToDate = None,
    as_of: AsOf = None,
    sort: Annotated[str | None, typer.Option("--sort", help="Order customers by this column, largest first "
                                             "(default: clv; expected_purchases without amounts).",
                                             rich_help_panel=OUTPUT)] = None,
    top: Top = None,
    fmt: Annotated[FrameFormat, typer.Option("--format", "-f", help="Output format (the customer table for "
                                             "csv/jsonl/parquet/md).", rich_help_panel=OUTPUT)] = FrameFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """Who will buy again and what they are worth: BG/NBD + Gamma-Gamma, with an optional holdout check."""

    def body() -> int:
        from retainkit import render_predict
        from retainkit.customers import select_customers
        from retainkit.pipeline import prediction_report

        end = _end_date(to, as_of)
        data = _load(files, settings().read)
        result = prediction_report(data, end=end, holdout=_parse_date(holdout, "--holdout"), horizon_days=horizon,
                                   time_unit_days=time_unit, discount_rate=discount_rate, margin=margin,
                                   penalizer=penalizer)
        if sort is not None and sort not in result.customers.columns:
            raise RetainkitError(f"--sort {sort!r} is not a column", f"columns: {', '.join(result.customers.columns)}")
        order = sort or ("clv" if result.gamma_gamma else "expected_purchases")
        customers = select_customers(result.customers, sort=order, top=top)
        if fmt == "table":
            _print_table(render_predict.prediction_table(result, customers), output)
        elif fmt == "json":
            _emit(render_predict.prediction_json(result, customers, quality=data.quality.as_dict()), output)
        else:
            _emit_frame(customers, fmt, output, title="Predictions", top=top)
        return 0

    _run(debug, body)


@app.command("inspect")
@reads_exports
def inspect_export_command(
    files: Files,
    fmt: Annotated[InspectFormat, typer.Option("--format", "-f", help="Output format.")] = InspectFormat.table,
    output: OutputFile = None,
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """How retainkit reads a file: column mapping, rows, date range, samples, data quality."""

    def body() -> int:
        from retainkit import render_inspect
        from retainkit.pipeline import inspect_export

        report = inspect_export(files, settings().read)
        if fmt is InspectFormat.json:
            _emit(render_inspect.inspect_json(report), output)
        else:
            _print_table(render_inspect.inspect_table(report), output)
        if report.problem:
            sys.stderr.write(f"retainkit: error: {report.problem}\n")
            return EXIT_BAD_INPUT
        return 0

    _run(debug, body)


def _decimal(value: str | None) -> str | None:
    if value is not None and value not in (".", ","):
        raise RetainkitError(f"--decimal {value!r} must be . or ,")
    return value


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
