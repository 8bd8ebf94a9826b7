"""The ``retainkit`` command line: options in, library calls, rendered output (SPEC §7).

Commands only wire options to :mod:`retainkit.pipeline` and :mod:`retainkit.render`; the
one place that turns a :class:`RetainkitError` into exit status 2 is :func:`_run`.
Heavy modules (pandas, pyarrow) are imported inside the commands, so ``--help`` is quick.
"""

from __future__ import annotations

import functools
import inspect
import sys
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
    help="Customer-retention KPIs from any order export (CSV, TSV, .csv.gz, Parquet, or - for stdin).",
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


# Options shared by every command, declared once.
Files = Annotated[list[str], typer.Argument(help="Order exports: files, folders of Parquet/CSV, or - for stdin.",
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
Decimal = Annotated[str | None, typer.Option("--decimal", help="Decimal mark of text amounts: . or , (default: .)",
                                             rich_help_panel=READING)]
Dedupe = Annotated[bool | None, typer.Option("--dedupe/--keep-duplicates", help="Drop exact duplicate rows "
                                             "(default: keep and report).", rich_help_panel=READING,
                                             show_default=False)]
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
OutputFile = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).",
                                                 rich_help_panel=OUTPUT)]


#: The reading options every command takes: (parameter, annotation), all defaulting to None.
_READ_PARAMETERS: tuple[tuple[str, Any], ...] = (
    ("customer", CustomerCol), ("date_col", DateCol), ("order", OrderCol), ("amount", AmountCol),
    ("quantity", QuantityCol), ("price", PriceCol), ("product", ProductCol), ("referrer", ReferrerCol),
    ("refund", RefundCol), ("encoding", Encoding), ("dayfirst", DayFirst), ("date_format", DateFormat),
    ("tz", Tz), ("decimal", Decimal), ("dedupe", Dedupe), ("config", ConfigFile),
)
_COLUMN_PARAMETERS = {
    "customer": "customer", "date_col": "date", "order": "order", "amount": "amount", "quantity": "quantity",
    "price": "price", "product": "product", "referrer": "referrer", "refund": "refund",
}


def reads_exports(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the shared reading options; it receives them as ``settings``.

    ``settings`` is the merged :class:`~retainkit.config.Config` (config file under the
    command line), built lazily inside the command so errors reach :func:`_run`.
    """
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "settings"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in _READ_PARAMETERS
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name, _ in _READ_PARAMETERS}
        return command(**kwargs, settings=lambda: _settings(given))

    parameters = [*own, *shared]
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


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
    """Run a command body; errors become one line on stderr and exit status 2."""
    try:
        code = body() or 0
    except RetainkitError as err:
        if debug:
            raise
        _fail(str(err), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as err:
        if debug:
            raise
        _fail(f"internal error ({type(err).__name__}: {err}); rerun with --debug and report it", EXIT_INTERNAL)
    raise typer.Exit(code)


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

    console = Console(stderr=True)
    large = any(f == "-" or (Path(f).is_file() and Path(f).stat().st_size > LARGE_INPUT_BYTES) for f in files)
    if console.is_terminal and large:
        with console.status("Reading orders…", spinner="dots"):
            return read_orders(files, read_options)
    return read_orders(files, read_options)


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


@app.command()
@reads_exports
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
    debug: Debug = False,
    settings: Callable[[], Any] = _settings,
) -> None:
    """Headline retention KPIs: repeat rate, churn, retention, CLV, purchase frequency."""

    def body() -> int:
        from retainkit import render
        from retainkit.config import merged
        from retainkit.pipeline import kpi_report

        if to and as_of and to != as_of:
            raise RetainkitError("--to and --as-of disagree", "give one of them")
        config = settings()
        analysis = merged(config.analysis, churn_window_days=churn_window, churn_alert=churn_alert, margin=margin)
        data = _load(files, config.read)
        document = kpi_report(
            data, files=files, start=_parse_date(from_, "--from"), end=_parse_date(to or as_of, "--to"),
            analysis=analysis,
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
