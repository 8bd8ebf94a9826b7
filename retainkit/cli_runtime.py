"""What every command does around its own work: the shared options, config files under the
command line, loading, warnings and alerts, and errors as one line with an exit status
(SPEC §7: 0 success, 1 an alert with ``--fail-on-alert``, 2 bad input, 3 a bug).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import sys
import traceback
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

import typer

from retainkit.cli_options import (
    COLUMN_PARAMETERS,
    OUTPUT,
    OUTPUT_OPTIONS,
    RANGES,
    READ_OPTIONS,
    THRESHOLD_OPTIONS,
    ReportLang,
    format_option,
)
from retainkit.cli_progress import Stages
from retainkit.errors import RetainkitError
from retainkit.output import Destination, Result, emit
from retainkit.safe_text import visible

EXIT_ALERT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
LARGE_INPUT_BYTES = 32 << 20
_QUIET = {"on": False}
FILES_HELP = ("FILE: order exports — CSV, TSV, .csv.gz, Excel (.xlsx), Parquet, folders of them, several at "
              "once, or - for standard input.")

#: Optional modules: what needs them, their name, and the extra that installs them.
_OPTIONAL_MODULES = {
    "scipy": ("predict", "SciPy", "predict"),
    "jinja2": ("a report", "Jinja2", "report"),
    "matplotlib": ("a chart", "matplotlib", "report"),
}


def say(kind: str, text: str) -> None:
    """A ``warning`` or ``alert`` line on stderr, unless ``--quiet``."""
    if not _QUIET["on"]:
        sys.stderr.write(f"retainkit: {kind}: {visible(text)}\n")


@dataclass(frozen=True)
class Invocation:
    """What a command gets besides its own options: the read options (config files under the
    command line), the customer thresholds, and where its result goes."""

    read: Any  # retainkit.config.ReadOptions
    thresholds: Any  # retainkit.customers.CustomerOptions | None
    destination: Destination
    stages: Stages = field(default_factory=Stages)
    engine: str = "local"
    spark: Any = None  # retainkit.spark.session.SparkOptions with --engine spark

    def load(self, files: list[str], *, product_lines: bool = False) -> Any:
        """Read and normalise the exports, with a progress bar on a terminal for large inputs
        (until the result is emitted); warn about rows repeated across files."""
        from rich.console import Console

        from retainkit.duplicates import overlap_sentence
        from retainkit.load import expand_paths
        from retainkit.pipeline import read_orders
        from retainkit.process_setup import choose_arrow_pool, choose_page_size

        choose_arrow_pool()
        self._check_destination(files)  # before any work: never compute, then fail to write
        if self.engine == "local":
            with contextlib.suppress(RetainkitError, OSError):  # a bad path: read_orders says which, below
                choose_page_size(expand_paths(files))
        console = Console(stderr=True)
        large = any(f == "-" or (Path(f).is_file() and Path(f).stat().st_size > LARGE_INPUT_BYTES) for f in files)
        if console.is_terminal and large and not _QUIET["on"]:
            self.stages.show(console)
        data = read_orders(files, self.read, product_lines=product_lines, stage=self.stages.step, engine=self.engine,
                           spark=self.spark)
        self.stages.step("Computing")
        warning = overlap_sentence(data.quality.as_dict())
        if warning:
            say("warning", warning)
        return data

    def writes_html(self, result: type[Result]) -> bool:
        """Whether a ``result`` of this kind goes out as HTML (``--format``, ``--output``)."""
        from retainkit.output import Format, choose_format

        return choose_format(result, self.destination) is Format.html

    def emit(self, result: Result) -> None:
        self.stages.done()
        self._check_destination(self.destination.inputs)
        emit(result, self.destination)

    def _check_destination(self, files: Sequence[str]) -> None:
        """The output can be written, and is none of the inputs; with Spark, a URI or a folder
        (a Parquet folder written before) is Spark's to write, and not checked here."""
        path = self.destination.path
        if self.engine == "spark" and path is not None and (path.is_dir() or re.match(r"^\w[\w+.-]+:/", str(path))):
            return
        self.destination.check(_input_files(files))


def _input_files(files: Sequence[str]) -> list[str]:
    """The files ``files`` name, folders expanded as the loader expands them (as given when
    they cannot be listed: the loader then says why)."""
    from retainkit.load import expand_paths

    try:
        return expand_paths(files)
    except RetainkitError:
        return list(files)


#: ``--lang`` of the commands whose tables and reports speak the reader's language (a
#: command that declares its own ``lang`` keeps it).
TableLang = typing.Annotated[ReportLang, typer.Option(
    "--lang", help="Language of the tables: words, numbers and dates (JSON, CSV and Parquet never change).",
    rich_help_panel=OUTPUT, metavar="en|vi")]
LANG_OPTIONS = (("lang", TableLang, ReportLang.en),)

#: Every config key (an option's long name, ``-`` as ``_``) of every command, as declared.
CONFIG_KEYS: set[str] = set()
_NOT_IN_CONFIG = {"config", "debug", "help", "version"}


def command(
    result: type[Result], *, thresholds: bool = False
) -> Callable[[Callable[..., int]], Callable[..., None]]:
    """Give a command the shared options (reading, output in the formats of its ``result``
    type, and with ``thresholds`` the customer thresholds), fill what the command line left
    at its default from the config files, and run it: the command receives ``run`` (an
    :class:`Invocation`) and returns its exit status."""
    output = tuple((name, format_option(result.formats) if name == "fmt" else annotation, default)
                   for name, annotation, default in OUTPUT_OPTIONS)
    shared = READ_OPTIONS + output + (THRESHOLD_OPTIONS if thresholds else ())

    def decorate(body: Callable[..., int]) -> Callable[..., None]:
        signature = inspect.signature(body)
        speaks = result.languages and "lang" not in signature.parameters
        shared_here = shared + (LANG_OPTIONS if speaks else ())
        hints = typing.get_type_hints(body, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values() if p.name != "run"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, annotation, default in shared_here]
        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        options = _config_options([*own, *added])
        CONFIG_KEYS.update(options)

        @functools.wraps(body)
        def wrapper(ctx: typer.Context, **values: Any) -> None:
            _QUIET["on"] = bool(values["quiet"])

            def work() -> int:
                merged, columns = _with_config(ctx, values, options)
                run = _invocation(merged, columns, thresholds=thresholds)
                return body(**{p.name: merged[p.name] for p in own}, run=run)

            _run(bool(values["debug"]), work)

        wrapper.__doc__ = f"{inspect.cleandoc(body.__doc__ or '')}\n\n{FILES_HELP}"
        parameters = [*own, *added, context]
        wrapper.__signature__ = signature.replace(parameters=parameters, return_annotation=None)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


@dataclass(frozen=True)
class _ConfigOption:
    """How a config value is checked: the parameter it sets, its Python type, its bounds."""

    name: str
    kind: Any
    low: float | None = None
    high: float | None = None


def _config_options(parameters: list[inspect.Parameter]) -> dict[str, _ConfigOption]:
    """Config key → option, from each parameter's ``Annotated[type, typer.Option(...)]``."""
    options = {}
    for parameter in parameters:
        args = typing.get_args(parameter.annotation)
        info = next((a for a in args[1:] if hasattr(a, "param_decls")), None)
        if info is None or isinstance(info, typer.models.ArgumentInfo):
            continue
        flags = [d.split("/")[0] for d in (getattr(info, "default", None), *info.param_decls)
                 if isinstance(d, str) and d.startswith("--")]
        kinds = [k for k in typing.get_args(args[0]) or (args[0],) if k is not type(None)]
        for flag in flags[:1]:
            key = flag[2:].replace("-", "_")
            if key not in _NOT_IN_CONFIG:
                low, high = RANGES.get(key, (None, None))
                options[key] = _ConfigOption(parameter.name, kinds[0], low, high)
    return options


def out_of_range(value: float, option: _ConfigOption) -> str | None:
    """What is wrong with a number for ``option`` (not finite, below or above its bounds), or None."""
    if value != value or value in (float("inf"), float("-inf")):
        return "is not a finite number"
    low, high = option.low, option.high
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            return f"is too small: at least {low:g}"
        hint = " (a fraction: 0.05 is 5 %)" if high == 1 and value > 1 else ""
        return f"is out of range: from {low:g} to {high:g}{hint}"
    return None


def _check_ranges(values: dict[str, Any], options: dict[str, _ConfigOption]) -> None:
    """Numbers given on the command line, inside their bounds (one plain line, SPEC §7)."""
    for key, option in options.items():
        value = values.get(option.name)
        if option.kind in (int, float) and value is not None and not isinstance(value, bool):
            problem = out_of_range(value, option)
            if problem:
                raise RetainkitError(f"--{key.replace('_', '-')} {value:g} {problem}")


def _with_config(
    ctx: typer.Context, values: dict[str, Any], options: dict[str, _ConfigOption]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``values`` with every option the command line left at its default taken from the
    config files (later files over earlier ones), checked as the command line checks it."""
    from retainkit.config import load_settings

    _check_ranges(values, options)
    settings = load_settings(values["config"])
    merged = dict(values)
    for key, (raw, path) in settings.options.items():
        if key not in CONFIG_KEYS:
            raise RetainkitError(f"{path}: unknown key {key!r} in [options]",
                                 f"known keys: {', '.join(sorted(CONFIG_KEYS))}")
        option = options.get(key)
        if option is None:
            continue  # an option of another command
        source = ctx.get_parameter_source(option.name)
        if source is None or source.name == "DEFAULT":
            merged[option.name] = config_value(option, key, raw, path)
    return merged, dict(settings.columns)


def config_value(option: _ConfigOption, key: str, raw: Any, path: Path) -> Any:
    """A config value of the TOML type the option takes, inside its bounds."""
    kind = option.kind
    where = f"{path}: {key} = {raw!r}"
    if typing.get_origin(kind) is list:  # a repeatable option: a list of texts (spark_conf)
        if not (isinstance(raw, list) and all(isinstance(item, str) for item in raw)):
            raise RetainkitError(f"{where} must be a list of texts in quotes, e.g. [\"KEY=VALUE\"]")
        return raw
    if kind is bool:
        if not isinstance(raw, bool):
            raise RetainkitError(f"{where} must be true or false")
        return raw
    if kind in (int, float):
        if isinstance(raw, bool) or not isinstance(raw, int if kind is int else (int, float)):
            raise RetainkitError(f"{where} must be {'a whole number' if kind is int else 'a number'}")
        problem = out_of_range(raw, option)
        if problem:
            raise RetainkitError(f"{where} {problem}")
        return kind(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and kind is str:
        raw = str(raw)  # a sheet named 2024
    if not isinstance(raw, str):
        raise RetainkitError(f"{where} must be text in quotes")
    if isinstance(kind, type) and issubclass(kind, Enum):
        allowed = [member.value for member in kind]
        if raw not in allowed:
            raise RetainkitError(f"{where} must be one of {', '.join(allowed)}")
        return kind(raw)
    return Path(raw) if kind is Path else raw


def _invocation(values: dict[str, Any], columns: dict[str, str], *, thresholds: bool) -> Invocation:
    from retainkit.config import COLUMN_KEYS, ReadOptions

    for parameter, key in COLUMN_PARAMETERS.items():
        if values.get(parameter):
            columns[COLUMN_KEYS[key]] = values[parameter]
    _check_time_zone(values["tz"])
    if values["decimal"] not in (None, ".", ","):
        raise RetainkitError(f"--decimal {values['decimal']!r} must be . or ,")
    read = ReadOptions(columns=columns, encoding=values["encoding"], dayfirst=values["dayfirst"],
                       date_format=values["date_format"], tz=values["tz"], decimal=values["decimal"],
                       dedupe=values["dedupe"], sheet=values["sheet"], allow_dates=values["allow_dates"])
    customer_options = None
    if thresholds:
        from retainkit.customers import CustomerOptions

        customer_options = CustomerOptions(values["inactive_days"], values["lost_days"], values["vip_top"])
    inputs = tuple(values.get("files") or ())
    lang = values.get("lang")
    destination = Destination(values["fmt"], values["output"], not values["no_header"], inputs,
                              lang=lang.value if lang is not None else "en")
    engine, spark = _engine(values)
    return Invocation(read, customer_options, destination, engine=engine, spark=spark)


def _engine(values: dict[str, Any]) -> tuple[str, Any]:
    """``--engine`` and, for Spark, where and how it runs."""
    engine = str(values.get("engine") or "local")
    if engine != "spark":
        return engine, None
    from retainkit.spark.session import SparkOptions, parse_conf

    conf = tuple(values.get("spark_conf") or ())
    parse_conf(conf)  # a malformed KEY=VALUE is an error before any work
    return engine, SparkOptions(values["spark_master"], values["spark_remote"], conf, progress=not values["quiet"])


def _check_time_zone(name: str) -> None:
    """``--tz`` names a time zone of the IANA database (checked even when no stamp needs it)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RetainkitError(f"--tz {name!r} is not a time zone", "e.g. --tz Asia/Ho_Chi_Minh, --tz UTC") from None


def parse_date(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RetainkitError(f"{option} {value!r} is not a date", "write it as YYYY-MM-DD") from None


def end_date(to: str | None, as_of: str | None) -> date | None:
    """``--to`` (or its synonym ``--as-of``)."""
    if to and as_of and to != as_of:
        raise RetainkitError("--to and --as-of disagree", "give one of them")
    return parse_date(to or as_of, "--to")


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
        message, status = describe(err)
        if debug:
            traceback.print_exception(err, file=sys.stderr)
        _fail(message, status)
    raise typer.Exit(code)


def describe(err: Exception) -> tuple[str, int]:
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


#: Error lines longer than this are cut (a value or a header list can be huge), saying so.
MAX_MESSAGE = 600


def _fail(message: str, code: int) -> NoReturn:
    """The one line of an error (its text can echo headers and values from the file: their
    control characters made visible, never sent to the terminal), at most :data:`MAX_MESSAGE`
    characters long."""
    text = visible(message)
    if len(text) > MAX_MESSAGE:
        text = f"{text[:MAX_MESSAGE]}… ({len(text) - MAX_MESSAGE:,} more characters)"
    sys.stderr.write(f"retainkit: error: {text}\n")
    raise typer.Exit(code)
