"""The command line's options, each declared once: name, help, panel and default.

An option means the same and has the same default on every command that takes it; every
option can also be set in a config file under its own name (:mod:`retainkit.config`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.output import Format

COLUMNS = "Columns (default: found by header name)"
READING = "Reading"
PERIOD = "Period"
CUSTOMERS = "Customers"
MODEL = "Model"
OUTPUT = "Output"
ENGINE = "Engine"
NO_METAVAR = ""  # flags take no value: show none in --help


class Every(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class PurchaseModel(StrEnum):
    """``predict --model``: the names of ``retainkit.models.catalogue`` (not imported here:
    the models need SciPy, the command line does not)."""

    bgnbd = "bgnbd"
    pnbd = "pnbd"
    mbgnbd = "mbgnbd"
    auto = "auto"


class ReportEvery(StrEnum):
    week = "week"
    month = "month"


class ReportLang(StrEnum):
    en = "en"
    vi = "vi"


class CohortMetric(StrEnum):
    customers = "customers"
    revenue = "revenue"
    orders = "orders"


class Engine(StrEnum):
    local = "local"
    spark = "spark"


class CohortLayout(StrEnum):
    long = "long"
    wide = "wide"


class AtRiskBy(StrEnum):
    """``at-risk --by``: revenue over the last 365 days, or the models' value if alive."""

    revenue = "revenue"
    value = "value"


def _column(flag: str, text: str) -> object:
    return typer.Option(flag, help=text, rich_help_panel=COLUMNS, metavar="COLUMN")


def _flag(*flags: str, text: str, panel: str) -> object:
    return typer.Option(*flags, help=text, rich_help_panel=panel, metavar=NO_METAVAR, show_default=False)


Files = Annotated[list[str], typer.Argument(show_default=False, metavar="FILE", hidden=True)]  # described in each help

# Columns
Customer = Annotated[str | None, _column("--customer", "Customer id column.")]
DateColumn = Annotated[str | None, _column("--date", "Order date column.")]
Order = Annotated[str | None, _column("--order", "Order id column (lines sharing it form one order).")]
Amount = Annotated[str | None, _column("--amount", "Amount column (line or order total).")]
Quantity = Annotated[str | None, _column("--quantity", "Quantity column (amount = quantity × price).")]
Price = Annotated[str | None, _column("--price", "Unit price column.")]
Product = Annotated[str | None, _column("--product", "Product id / SKU column.")]
Referrer = Annotated[str | None, _column("--referrer", "Referred-by column.")]
Refund = Annotated[str | None, _column("--refund", "Refunded-amount column (e.g. Shopify's).")]

# Reading
Encoding = Annotated[str | None, typer.Option("--encoding", help="Text encoding of CSV input (default: UTF-8).",
                                              rich_help_panel=READING, metavar="NAME")]
DayFirst = Annotated[bool | None, typer.Option("--dayfirst/--monthfirst", help="Order of day and month in dates "
                                               "like 03/04/2024 (never guessed).", rich_help_panel=READING,
                                               show_default=False, metavar=NO_METAVAR)]
DateFormat = Annotated[str | None, typer.Option("--date-format", help="strftime format of dates, e.g. %d/%m/%Y.",
                                                rich_help_panel=READING, metavar="FORMAT")]
Tz = Annotated[str, typer.Option("--tz", help="Time zone days are counted in; stamps with an offset are "
                                 "converted to it.", rich_help_panel=READING, metavar="ZONE")]
Decimal = Annotated[str | None, typer.Option("--decimal", help="Decimal mark of text amounts, . or , (default: "
                                             "decided from each column's values, never guessed).",
                                             rich_help_panel=READING, metavar="MARK")]
Dedupe = Annotated[bool, typer.Option("--dedupe/--keep-duplicates", help="Drop exact duplicate rows (default: "
                                      "keep and report them).", rich_help_panel=READING, show_default=False,
                                      metavar=NO_METAVAR)]
AllowDates = Annotated[bool, typer.Option("--allow-dates", help="Keep order dates before 1970, after 2100 or a "
                                          "year away from all others (stopped by default: a typo'd year).",
                                          rich_help_panel=READING, metavar=NO_METAVAR, show_default=False)]
Sheet = Annotated[str | None, typer.Option("--sheet", help="Excel: the sheet to read (default: the first).",
                                           rich_help_panel=READING, metavar="NAME")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="Settings file, over ./retainkit.toml and "
                                                 "~/.config/retainkit/config.toml.", rich_help_panel=READING,
                                                 metavar="FILE")]
EngineChoice = Annotated[Engine, typer.Option("--engine", help="Where the work runs: this process, or Apache "
                                              "Spark (sharded by customer; pip install 'retainkit[spark]').",
                                              rich_help_panel=ENGINE, metavar="local|spark")]
SparkMaster = Annotated[str, typer.Option("--spark-master", help="Spark master URL (local[*], spark://host:7077, "
                                          "yarn …).", rich_help_panel=ENGINE, metavar="URL")]
SparkRemote = Annotated[str | None, typer.Option("--spark-remote", help="Spark Connect URL, e.g. sc://host:15002 "
                                                 "(default: $SPARK_REMOTE).", rich_help_panel=ENGINE, metavar="URL")]
SparkConf = Annotated[list[str] | None, typer.Option("--spark-conf", help="A Spark setting KEY=VALUE (repeatable).",
                                                     rich_help_panel=ENGINE, metavar="KEY=VALUE")]

# Period
FromDate = Annotated[str | None, typer.Option("--from", help="First day of the period, YYYY-MM-DD (default: the "
                                              "first order).", rich_help_panel=PERIOD, metavar="DATE")]
ToDate = Annotated[str | None, typer.Option("--to", help="Last day of the period (default: the last order).",
                                            rich_help_panel=PERIOD, metavar="DATE")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Synonym of --to.", rich_help_panel=PERIOD,
                                          metavar="DATE")]
ChurnWindow = Annotated[int | None, typer.Option("--churn-window", help="Churn window in days "
                                                 "(default: the period's length with --from; else 365 when the "
                                                 "data covers it, else 180, 90 or 30).", rich_help_panel=PERIOD,
                                                 metavar="DAYS")]
ChurnAlert = Annotated[float, typer.Option("--churn-alert", help="Alert when the annual churn "
                                           "rate exceeds this fraction.", rich_help_panel=PERIOD, metavar="RATE")]
Margin = Annotated[float | None, typer.Option("--margin", help="Gross margin: CLV becomes "
                                              "profit, e.g. 0.3 (default: revenue).", rich_help_panel=PERIOD,
                                              metavar="RATE")]
FailOnAlert = Annotated[bool, _flag("--fail-on-alert", text="Exit 1 when an alert fires.", panel=OUTPUT)]
Lang = Annotated[ReportLang, typer.Option(
    "--lang", help="Language of the report's words, numbers and dates.", rich_help_panel=OUTPUT, metavar="en|vi")]
Currency = Annotated[str | None, typer.Option("--currency", help="Currency of the amounts, e.g. VND: the report "
                                              "shows its symbol and digits.", rich_help_panel=OUTPUT, metavar="CODE")]

# Customers
InactiveDays = Annotated[int, typer.Option("--inactive-days", help="Days without an order before a "
                                           "customer can be at risk.", rich_help_panel=CUSTOMERS, metavar="DAYS")]
LostDays = Annotated[int, typer.Option("--lost-days", help="Days without an order after which a customer "
                                       "is lost.", rich_help_panel=CUSTOMERS, metavar="DAYS")]
VipTop = Annotated[float, typer.Option("--vip-top", help="Share of customers (by revenue over "
                                       "the last 365 days) who are VIPs.", rich_help_panel=CUSTOMERS,
                                       metavar="RATE")]

# Output
def format_option(formats: tuple[Format, ...]) -> object:
    """``--format`` for a command whose result has ``formats`` (the first is its default)."""
    return Annotated[Format | None, typer.Option(
        "--format", "-f", help=f"Output format (default: from the --output suffix, else {formats[0].value}).",
        rich_help_panel=OUTPUT, metavar="|".join(f.value for f in formats), show_default=False)]


Fmt = format_option(tuple(Format))
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically); - is "
                                             "stdout.", rich_help_panel=OUTPUT, metavar="FILE")]
NoHeader = Annotated[bool, _flag("--no-header", text="CSV/TSV without the header row (to append to a file).",
                                 panel=OUTPUT)]
Quiet = Annotated[bool, _flag("--quiet", "-q", text="No warnings or alert lines on stderr (exit codes unchanged).",
                              panel=OUTPUT)]
Debug = Annotated[bool, _flag("--debug", text="Show the traceback of an error.", panel=OUTPUT)]
Top = Annotated[int | None, typer.Option("--top", help="Only the first N rows.", rich_help_panel=OUTPUT,
                                         metavar="N")]
Sort = Annotated[str | None, typer.Option("--sort", help="Order rows by this column, largest first.",
                                          rich_help_panel=OUTPUT, metavar="COLUMN")]
Ascending = Annotated[bool, _flag("--ascending", text="With --sort: smallest first.", panel=OUTPUT)]

#: Shared option groups: (parameter, annotation, default). The defaults live in :mod:`retainkit.defaults`.
READ_OPTIONS = (
    ("customer", Customer, None), ("date_col", DateColumn, None), ("order", Order, None), ("amount", Amount, None),
    ("quantity", Quantity, None), ("price", Price, None), ("product", Product, None),
    ("referrer", Referrer, None), ("refund", Refund, None), ("encoding", Encoding, None),
    ("dayfirst", DayFirst, None), ("date_format", DateFormat, None), ("tz", Tz, defaults.TZ),
    ("decimal", Decimal, None), ("dedupe", Dedupe, False), ("sheet", Sheet, None), ("allow_dates", AllowDates, False),
    ("config", ConfigFile, None), ("engine", EngineChoice, Engine.local), ("spark_master", SparkMaster, "local[*]"),
    ("spark_remote", SparkRemote, None), ("spark_conf", SparkConf, None),
)
OUTPUT_OPTIONS = (
    ("fmt", Fmt, None), ("output", Output, None), ("no_header", NoHeader, False), ("quiet", Quiet, False),
    ("debug", Debug, False),
)
THRESHOLD_OPTIONS = (
    ("inactive_days", InactiveDays, defaults.INACTIVE_DAYS), ("lost_days", LostDays, defaults.LOST_DAYS),
    ("vip_top", VipTop, defaults.VIP_TOP),
)
#: Column options → the ``[columns]`` keys of a config file.
COLUMN_PARAMETERS = {
    "customer": "customer", "date_col": "date", "order": "order", "amount": "amount", "quantity": "quantity",
    "price": "price", "product": "product", "referrer": "referrer", "refund": "refund",
}

#: Bounds of numeric options (low, high; None: open), checked alike on the command line and in
#: config files, with one plain message (SPEC §7).
RANGES: dict[str, tuple[float | None, float | None]] = {
    "churn_window": (1, 36_500),
    "churn_alert": (0.0, 1.0),
    "change_alert": (0.0, 1.0),
    "margin": (0.0, 1.0),
    "inactive_days": (0, None),
    "lost_days": (1, None),
    "vip_top": (0.0, 1.0),
    "top": (1, None),
    "level": (-1, 5),
    "horizon": (1, 36_525),  # 100 years: CLV sums the horizon month by month (1,200 months)
    "time_unit": (0.001, None),
    "discount_rate": (0, None),
    "penalizer": (0, None),
    "interval": (0.0, 0.999),
}


#: predict's options beyond the period and the horizon.
ModelChoice = Annotated[PurchaseModel, typer.Option("--model", help="Purchase model: bgnbd, pnbd (Pareto/NBD), "
                                                    "mbgnbd, or auto: the one that predicts the holdout best.",
                                                    rich_help_panel=MODEL)]
DEFAULT_MODEL = PurchaseModel(defaults.MODEL)
Horizons = Annotated[str | None, typer.Option("--horizons", help="Further horizons, comma-separated days "
                                              "(90,180): expected purchases and CLV over each, beside --horizon's.",
                                              rich_help_panel=MODEL, metavar="DAYS,…")]
Plot = Annotated[Path | None, typer.Option("--plot", help="Also write the charts (tracking, P(alive), by "
                                           "frequency) to this .svg or .png file.", rich_help_panel=MODEL,
                                           metavar="FILE")]
Interval = Annotated[float, typer.Option("--interval", help="Level of the intervals from the parameters' "
                                         "uncertainty (0: none).", rich_help_panel=MODEL, metavar="LEVEL")]


def days_list(text: str | None) -> tuple[float, ...]:
    """``--horizons 90,180`` → (90.0, 180.0); one error line for anything else."""
    if not text:
        return ()
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise RetainkitError(f"--horizons {text}: expected days separated by commas, like 90,180") from None


#: at-risk's ranking: by revenue (no models), or priced by predict's default models over its default horizon.
By = Annotated[AtRiskBy, typer.Option(
    "--by", help="Rank by revenue over the last 365 days, or by value: P(alive), and the value expected over the "
    f"next {defaults.HORIZON_DAYS:g} days if the customer is still alive (predict's default models; needs amounts).",
    rich_help_panel=CUSTOMERS, metavar="revenue|value")]
Products = Annotated[bool, typer.Option("--products", help="The products each customer has stopped buying "
                                        "(needs a product column).", rich_help_panel=CUSTOMERS, metavar="")]
