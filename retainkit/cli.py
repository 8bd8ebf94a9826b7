"""The ``retainkit`` command line: options in, library calls, one result out (SPEC §7).

Each command wires its own options to :mod:`retainkit.pipeline` and hands the result to
the output layer (:mod:`retainkit.output`); the shared options, config files and errors are
:mod:`retainkit.cli_runtime`'s. Heavy modules (pandas, pyarrow) are imported inside the
commands, so ``--help`` and ``--version`` are quick.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from retainkit import __version__, defaults, process_setup
from retainkit.cli_options import (
    CUSTOMERS,
    DEFAULT_MODEL,
    MODEL,
    OUTPUT,
    PERIOD,
    Ascending,
    AsOf,
    AtRiskBy,
    By,
    ChurnAlert,
    ChurnWindow,
    CohortLayout,
    CohortMetric,
    Currency,
    Every,
    FailOnAlert,
    Files,
    FromDate,
    Horizons,
    Interval,
    Lang,
    Margin,
    ModelChoice,
    Plot,
    Products,
    ReportEvery,
    ReportLang,
    Sort,
    ToDate,
    Top,
    days_list,
)
from retainkit.cli_runtime import EXIT_ALERT, EXIT_BAD_INPUT, Invocation, command, end_date, parse_date, say
from retainkit.errors import RetainkitError
from retainkit.output import (
    CohortResult,
    FrameResult,
    InspectResult,
    KpiResult,
    PredictionResult,
    ReportResult,
)
from retainkit.safe_text import visible
from retainkit.values import Note


class OneLineErrors(TyperGroup):
    """Usage errors as one plain line naming the option, the value and what is allowed."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        standalone = kwargs.pop("standalone_mode", True)
        given = list(kwargs.get("args") or (args[0] if args else None) or sys.argv[1:])
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[misc]
        except typer.Exit as err:
            code = err.exit_code
        except typer.Abort:
            sys.stderr.write("retainkit: error: aborted\n")
            code = 1
        except Exception as err:
            if getattr(err, "exit_code", None) != EXIT_BAD_INPUT or not hasattr(err, "format_message"):
                raise
            code = _usage_error(err, given)
        code = code if isinstance(code, int) else 0
        if standalone:
            sys.exit(code)
        return code


_INVALID = re.compile(r"^Invalid value for '(?P<option>[^']+)': (?P<why>.*)$", re.S)
_PLAIN_REASONS = (
    (re.compile(r"valid integer"), "is not a whole number"),
    (re.compile(r"valid (?:number|float)"), "is not a number"),
    (re.compile(r"is not one of (?P<choices>.*?)\.?$"), "is not one of: {choices}"),
)


def _usage_error(err: Any, given: list[str]) -> int:
    """Print a usage error (Click's UsageError) as one plain line — the option, the value and
    what is allowed; the help when no arguments were given."""
    ctx = getattr(err, "ctx", None)
    if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:
        sys.stdout.write(ctx.get_help() + "\n")
        return 0

    command = ctx.command_path if ctx is not None else "retainkit"
    sys.stderr.write(f"retainkit: error: {visible(_plain(err.format_message(), given))} — see '{command} --help'\n")
    return EXIT_BAD_INPUT


def _plain(message: str, given: list[str]) -> str:
    """``Invalid value for '--every': Value error, 'x' is not one of 'week', …`` as
    ``--every 'x' is not one of: week, …``."""
    found = _INVALID.match(message.strip())
    if not found:
        return message.strip().rstrip(".")
    option, why = found["option"].split(" / ")[0], found["why"].replace("Value error, ", "")
    value = next((given[i + 1] for i, arg in enumerate(given[:-1]) if arg == option), None)
    value = next((arg.split("=", 1)[1] for arg in given if arg.startswith(option + "=")), value)
    for pattern, plain in _PLAIN_REASONS:
        match = pattern.search(why)
        if match:
            choices = (match.groupdict().get("choices") or "").replace("'", "")
            return f"{option} {value!r} {plain.format(choices=choices)}"
    return f"{option} {value!r}: {why.strip().rstrip('.')}"


app = typer.Typer(
    name="retainkit",
    cls=OneLineErrors,
    help="Customer-retention KPIs from any order export (CSV, TSV, .csv.gz, Excel, Parquet, or - for stdin).\n\n"
         "Example: retainkit kpis orders.csv",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"retainkit {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, metavar="",
                                          help="Show the version and exit.")] = False,
) -> None:
    """Customer-retention KPIs from any order export (CSV, TSV, .csv.gz, Excel, Parquet, or - for stdin).

    Example: retainkit kpis orders.csv
    """


@app.command()
@command(KpiResult, thresholds=True)
def kpis(
    files: Files, from_: FromDate = None, to: ToDate = None, as_of: AsOf = None, churn_window: ChurnWindow = None,
    churn_alert: ChurnAlert = defaults.CHURN_ALERT, margin: Margin = None, fail_on_alert: FailOnAlert = False,
    *, run: Invocation,
) -> int:
    """Headline retention KPIs: repeat rate, churn, retention, CLV, purchase frequency.

    Example: retainkit kpis orders.csv --format json
    """
    from retainkit.config import AnalysisOptions
    from retainkit.metrics import kpi_views
    from retainkit.pipeline import kpi_report

    data = run.load(files)
    document = kpi_report(data, files=files, start=parse_date(from_, "--from"), end=end_date(to, as_of),
                          analysis=AnalysisOptions(churn_window, churn_alert, margin), customer_options=run.thresholds)
    run.emit(KpiResult(document, kpi_views()))
    metrics = document["metrics"]
    if metrics["churn_alert"]:
        say("alert", f"annual churn rate {metrics['annual_churn_rate']:.2%} is above {churn_alert:.2%}")
    return EXIT_ALERT if metrics["churn_alert"] and fail_on_alert else 0


Segment = Annotated[str | None, typer.Option("--segment", help="Only this RFM segment (e.g. 'At risk').",
                                             rich_help_panel=CUSTOMERS, metavar="NAME")]
Level = Annotated[int | None, typer.Option("--level", help="Only this loyalty level (−1…5).",
                                           rich_help_panel=CUSTOMERS, metavar="N")]
Vip = Annotated[bool | None, typer.Option("--vip/--not-vip", help="Only VIPs / only non-VIPs.",
                                          rich_help_panel=CUSTOMERS, show_default=False, metavar="")]
AtRisk = Annotated[bool | None, typer.Option("--at-risk/--not-at-risk", help="Only customers at risk / not.",
                                             rich_help_panel=CUSTOMERS, show_default=False, metavar="")]


@app.command()
@command(FrameResult, thresholds=True)
def customers(
    files: Files, to: ToDate = None, as_of: AsOf = None, segment: Segment = None, level: Level = None,
    vip: Vip = None, at_risk: AtRisk = None, sort: Sort = None, ascending: Ascending = False, top: Top = None,
    *, run: Invocation,
) -> int:
    """One row per customer: orders, revenue, recency, RFM segment, VIP, at risk, loyalty level.

    Example: retainkit customers orders.csv --segment 'At risk' -o at-risk.csv
    """
    from retainkit.customers import COLUMNS, SEGMENTS, select_customers
    from retainkit.pipeline import customer_report

    _check_column("--sort", sort, COLUMNS)
    if segment is not None and segment.casefold() not in {s.casefold() for s in SEGMENTS}:
        raise RetainkitError(f"--segment {segment!r} is not an RFM segment", f"segments: {', '.join(SEGMENTS)}")
    table = customer_report(run.load(files), end=end_date(to, as_of), options=run.thresholds)
    chosen = select_customers(table, segment=segment, level=level, vip=vip, at_risk=at_risk, sort=sort,
                              descending=not ascending, top=top)
    title = Note("Customers (%(shown)s of %(total)s)", shown=f"{len(chosen):,}", total=f"{len(table):,}")
    run.emit(FrameResult(chosen, title, view="customers", limit=top))
    return 0


def _check_column(option: str, name: str | None, columns: Any) -> None:
    if name is not None and name not in columns:
        raise RetainkitError(f"{option} {name!r} is not a column", f"columns: {', '.join(columns)}")


@app.command("at-risk")
@command(FrameResult, thresholds=True)
def at_risk(
    files: Files, to: ToDate = None, as_of: AsOf = None, products: Products = False, by: By = AtRiskBy.revenue,
    sort: Sort = None, ascending: Ascending = False, top: Top = None, *, run: Invocation,
) -> int:
    """Customers slipping away, most value at risk first, with why; or their lapsed products.

    Example: retainkit at-risk orders.csv --top 20 --by value
    """
    from retainkit.customers import select_customers
    from retainkit.pipeline import at_risk_report

    data = run.load(files, product_lines=products)
    frame = at_risk_report(data, end=end_date(to, as_of), options=run.thresholds, products=products,
                           by=by.value)
    _check_column("--sort", sort, frame.columns)
    frame = select_customers(frame, sort=sort, descending=not ascending, top=top)
    count = f"{len(frame):,}"
    title = Note("Product lapses (%(n)s)", n=count) if products else Note("Customers at risk (%(n)s)", n=count)
    run.emit(FrameResult(frame, title, view="lapses" if products else "at-risk", limit=top))
    return 0


@app.command()
@command(FrameResult, thresholds=True)
def segments(files: Files, to: ToDate = None, as_of: AsOf = None, *, run: Invocation) -> int:
    """The customer base by RFM segment and by loyalty level: size, revenue share, recency.

    Example: retainkit segments orders.csv --format md
    """
    from retainkit.pipeline import segments_report

    frame = segments_report(run.load(files), end=end_date(to, as_of), options=run.thresholds)
    run.emit(FrameResult(frame, "Segments", view="segments", bars="share_of_customers"))
    return 0


TrendEvery = Annotated[Every, typer.Option("--every", help="Calendar period (ISO weeks start Monday).",
                                           rich_help_panel=PERIOD, metavar="PERIOD")]


@app.command()
@command(FrameResult)
def trend(
    files: Files, every: TrendEvery = Every.month, from_: FromDate = None, to: ToDate = None, as_of: AsOf = None,
    *, run: Invocation,
) -> int:
    """KPIs per week, month, quarter or year, with retention and churn against the period before.

    Example: retainkit trend orders.csv --every quarter
    """
    from retainkit.pipeline import trend_report

    frame = trend_report(run.load(files), every=every.value, start=parse_date(from_, "--from"), end=end_date(to, as_of))
    run.emit(FrameResult(frame, Note("Trend by %(every)s (* = partial period)", every=Note(every.value)), view="trend"))
    return 0


CohortEvery = Annotated[Every, typer.Option("--every", help="Cohort period: when customers first ordered.",
                                            rich_help_panel=PERIOD, metavar="PERIOD")]
Metric = Annotated[CohortMetric, typer.Option("--metric", help="customers: share still buying; revenue / orders: "
                                              "relative to the first period.", rich_help_panel=OUTPUT,
                                              metavar="METRIC")]
Layout = Annotated[CohortLayout, typer.Option("--layout", help="Files: one row per cell (long) or per cohort "
                                              "(wide).", rich_help_panel=OUTPUT, metavar="LAYOUT")]


@app.command()
@command(CohortResult)
def cohorts(
    files: Files, every: CohortEvery = Every.month, metric: Metric = CohortMetric.customers,
    layout: Layout = CohortLayout.long, from_: FromDate = None, to: ToDate = None, as_of: AsOf = None,
    *, run: Invocation,
) -> int:
    """The cohort matrix: of each period's new customers, how many bought again k periods later.

    Example: retainkit cohorts orders.csv --every quarter --layout wide -o cohorts.csv
    """
    from retainkit.cohorts import cohort_wide
    from retainkit.pipeline import cohort_report

    long = cohort_report(run.load(files), every=every.value, metric=metric.value, start=parse_date(from_, "--from"),
                         end=end_date(to, as_of))
    title = Note("Cohorts by %(every)s: %(metric)s retention (empty = after --to)", every=Note(every.value),
                 metric=Note(metric.value))
    run.emit(CohortResult(long, cohort_wide(long), title, wide_layout=layout is CohortLayout.wide))
    return 0


ReportPeriod = Annotated[ReportEvery, typer.Option("--every", help="Report on the last complete week or month.",
                                                   rich_help_panel=PERIOD, metavar="PERIOD")]
ChangeAlert = Annotated[float | None, typer.Option(
    "--change-alert", help="Alert when customers, orders, revenue or the repeat rate fall from the period before by "
    "more than this (0.2: 20%; the repeat rate in points, 0.05: 5 pp). Default: a fall beyond the range of the "
    "last 13 periods.", rich_help_panel=PERIOD, metavar="RATE")]


@app.command()
@command(ReportResult, thresholds=True)
def report(
    files: Files, every: ReportPeriod = ReportEvery.week, to: ToDate = None, as_of: AsOf = None,
    churn_window: ChurnWindow = None, churn_alert: ChurnAlert = defaults.CHURN_ALERT,
    fail_on_alert: FailOnAlert = False, lang: Lang = ReportLang.en, currency: Currency = None,
    change_alert: ChangeAlert = None, *, run: Invocation,
) -> int:
    """The periodic report: last complete week or month against the one before and a year earlier.

    Example: retainkit report orders.csv --every month -o report.html
    """
    from retainkit.pipeline import report_data
    from retainkit.report_worker import model_worker

    with model_worker(engine=run.engine, lang=lang.value if run.writes_html(ReportResult) else None) as worker:
        content = report_data(run.load(files), every=every.value, end=end_date(to, as_of), churn_alert=churn_alert,
                              churn_window_days=churn_window, customer_options=run.thresholds,
                              change_alert=change_alert, worker=worker)
    run.emit(ReportResult(content | {"_style": {"lang": lang.value, "currency": currency}}))
    for alert in content["alerts"]:
        say("alert", alert["message"])
    return EXIT_ALERT if content["alerts"] and fail_on_alert else 0


Horizon = Annotated[float, typer.Option("--horizon", help="Days ahead to predict, up to 36525 (100 years).",
                                        rich_help_panel=MODEL, metavar="DAYS")]
TimeUnit = Annotated[float, typer.Option("--time-unit", help="Days per model time unit (7: weeks, as "
                                         "in the literature).", rich_help_panel=MODEL, metavar="DAYS")]
DiscountRate = Annotated[float, typer.Option("--discount-rate", help="Annual discount rate for CLV, "
                                             "compounded monthly.", rich_help_panel=MODEL, metavar="RATE")]
Penalizer = Annotated[float, typer.Option("--penalizer", help="L2 penalty on the parameters, for fits that "
                                          "do not converge: the objective is −log-likelihood per customer + WEIGHT "
                                          "× Σ parameter², as lifetimes' penalizer_coef.", rich_help_panel=MODEL,
                                          metavar="WEIGHT")]
Holdout = Annotated[str | None, typer.Option("--holdout", help="Fit on orders before this date; compare "
                                             "predictions with what happened from it on.", rich_help_panel=MODEL,
                                             metavar="DATE")]


@app.command()
@command(PredictionResult)
def predict(
    files: Files, horizon: Horizon = defaults.HORIZON_DAYS, time_unit: TimeUnit = defaults.TIME_UNIT_DAYS,
    discount_rate: DiscountRate = defaults.DISCOUNT_RATE, margin: Margin = None,
    penalizer: Penalizer = defaults.PENALIZER, holdout: Holdout = None, to: ToDate = None, as_of: AsOf = None,
    sort: Sort = None, ascending: Ascending = False, top: Top = None,
    model: ModelChoice = DEFAULT_MODEL, interval: Interval = defaults.INTERVAL, plot: Plot = None,
    horizons: Horizons = None, *,
    run: Invocation,
) -> int:
    """Who will buy again and what they are worth: a purchase model + Gamma-Gamma, scored against a naive guess.

    Example: retainkit predict orders.csv --holdout 2024-07-01
    """
    from retainkit.customers import select_customers
    from retainkit.pipeline import prediction_report

    if plot is not None and plot.suffix.lower() not in (".svg", ".png"):
        raise RetainkitError(f"--plot {plot.name}: the chart file must end in .svg or .png")
    data = run.load(files)
    result = prediction_report(data, end=end_date(to, as_of), holdout=parse_date(holdout, "--holdout"),
                               horizon_days=horizon, time_unit_days=time_unit, discount_rate=discount_rate,
                               margin=margin, penalizer=penalizer, model=model.value, interval=interval,
                               more_horizons_days=days_list(horizons))
    _check_column("--sort", sort, result.customers.columns)
    order = sort or ("clv" if result.gamma_gamma else "expected_purchases")
    chosen = select_customers(result.customers, sort=order, descending=not ascending, top=top)
    run.emit(PredictionResult(result, chosen, data.quality.as_dict()))
    if plot is not None:
        from retainkit.render_charts_predict import save_charts

        save_charts(result, plot)
    return 0


@app.command("inspect")
@command(InspectResult)
def inspect_export(files: Files, *, run: Invocation) -> int:
    """How retainkit reads a file: column mapping, rows, date range, samples, data quality.

    Example: retainkit inspect orders.xlsx --sheet Orders
    """
    from retainkit.inspection import inspect_export as inspect_files

    result = inspect_files(files, run.read, engine=run.engine, spark=run.spark)
    run.emit(InspectResult(result))
    if result.problem:
        sys.stderr.write(f"retainkit: error: {visible(result.problem)}\n")
        return EXIT_BAD_INPUT
    return 0


def main() -> None:
    """Console-script entry point."""
    process_setup.prepare_command_line()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
