"""Results → table, JSON, CSV or Markdown (SPEC §7). The only module that formats output.

JSON and CSV are plain text for pipes (never through Rich, which wraps lines); tables are
Rich renderables. Undefined values (NaN, None) are ``null`` in JSON, empty in CSV and
``—`` in tables. Text bound for CSV cannot start a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from retainkit.errors import RetainkitError
from retainkit.render_locale import Style
from retainkit.values import clean, noop

DASH = "—"

QUALITY_LABELS: tuple[tuple[str, str, str | None], ...] = (
    ("rows", noop("Rows read"), None),
    ("order_lines", noop("Order lines"), None),
    ("orders", noop("Orders (lines merged by order id)"), None),
    ("refund_rows", noop("Refund rows"), "refund_amount"),
    ("missing_customer_rows", noop("Rows without customer (excluded)"), "missing_customer_amount"),
    ("missing_date_rows", noop("Rows without date (excluded)"), "missing_date_amount"),
    ("customer_filled_rows", noop("Rows given their order's customer"), None),
    ("date_filled_rows", noop("Rows given their order's date"), None),
    ("duplicate_rows", noop("Exact duplicate rows"), "duplicate_amount"),
    ("overlap_rows", noop("Rows repeated from an earlier file (counted once)"), "overlap_amount"),
    ("empty_amount_rows", noop("Rows with empty amount (read as 0)"), None),
    ("empty_order_id_rows", noop("Rows without order id (each an order)"), None),
    ("ids_normalised_rows", noop("Ids trimmed or brought to Unicode NFC"), None),
    ("naive_local_rows", noop("Stamps without offset read as local time"), None),
)
ENGLISH = Style()


# ---------------------------------------------------------------- values


def format_value(value: Any, kind: str, *, style: Style = ENGLISH) -> str:
    """Human form of one KPI for tables: rates as percentages, money to the cent, in the
    digits of ``style``'s language.

    >>> format_value(0.4286, "rate"), format_value(1234.5, "money"), format_value(None, "rate")
    ('42.86%', '1,234.50', '—')
    """
    value = clean(value)
    if value is None:
        return DASH
    if kind == "alert":
        return style.gettext("yes") if value else style.gettext("no")
    if kind == "days":
        return style.gettext("%(days)s days") % {"days": style.digits(f"{value:,.1f}")}
    if kind == "count":
        return style.digits(f"{int(value):,}")
    if kind == "rate":
        return style.digits(f"{value * 100:.2f}%")
    return style.digits(f"{value:,.2f}")


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet cannot run as a formula (SPEC §7).

    >>> safe_cell("=HYPERLINK(1)"), safe_cell("-3"), safe_cell(-3.5)
    ("'=HYPERLINK(1)", "'-3", -3.5)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# ---------------------------------------------------------------- documents


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(clean(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def rows_csv(columns: list[str], rows: Iterable[list[Any]], *, delimiter: str = ",") -> str:
    """CSV (or TSV with ``delimiter="\\t"``) with a header row; formula-safe text cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _csv_scalar(v) for v in (clean(x) for x in row)])
    return out.getvalue()


def _csv_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(value)


def quality_table(quality: Mapping[str, Any], *, style: Style = ENGLISH):
    """The data-quality lines (:func:`quality_rows`) under their title: rows and amounts never
    cut, labels wrapped between words."""
    from retainkit.render_width import PLAIN, Col, FitTable

    columns = [Col("check", "", "wrap"), Col("rows", style.gettext("Rows"), justify="right"),
               Col("amount", style.gettext("Amount"), justify="right")]
    return FitTable(columns, quality_rows(quality, style=style), title=style.gettext("Data quality"), look=PLAIN,
                    droppable=False, records_below=None)


_SHOWN_WHEN_NONZERO = ("missing_date_rows", "customer_filled_rows", "date_filled_rows", "empty_amount_rows",
                       "duplicate_rows", "overlap_rows", "empty_order_id_rows", "ids_normalised_rows",
                       "naive_local_rows")


def quality_rows(quality: Mapping[str, Any], *, style: Style = ENGLISH) -> list[tuple[str, str, str]]:
    """The data-quality lines: label, rows, amount (lines about nothing left out)."""
    rows = []
    for key, label, amount_key in QUALITY_LABELS:
        count = quality.get(key, 0)
        if key in _SHOWN_WHEN_NONZERO and not count:
            continue
        text = style.gettext(label)
        if key == "duplicate_rows" and count:
            dropped = quality.get("duplicates_dropped")
            text += " " + (style.gettext("(dropped)") if dropped else style.gettext("(kept; --dedupe drops them)"))
        amount = format_value(quality.get(amount_key), "money", style=style) if amount_key else ""
        rows.append((text, style.digits(f"{count:,}"), amount))
        if key == "overlap_rows":
            rows += [("  " + style.gettext("%(file)s repeats %(earlier)s") % {"file": pair["file"],
                                                                             "earlier": pair["earlier_file"]},
                      style.digits(f"{pair['rows']:,}"), "") for pair in quality.get("overlap_files", [])]
    return rows


# ---------------------------------------------------------------- writing


def rich_to_text(renderable: Any, *, width: int = 100) -> str:
    """Render a Rich renderable to plain text (for ``--output`` of a table)."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, color_system=None).print(renderable)
    return buffer.getvalue()


def _file_mode(path: Path) -> int:
    """The mode a new file gets here (0666 less the umask), or the existing file's."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_output(content: str | bytes, output: Path | None, inputs: Sequence[str] = ()) -> None:
    """Write ``content`` to ``output`` atomically (temporary file, then rename), or to stdout.

    An output that cannot be written (a missing folder, a folder's name, one of the
    ``inputs``, no permission) is a :class:`~retainkit.errors.RetainkitError` naming it,
    before anything is written. A symbolic link is written through: its target is replaced,
    the link stays. A device or a pipe (``/dev/null``) is written to as it is, never
    replaced. The temporary file is removed on any error, Ctrl-C, SIGTERM or SIGHUP; a
    full disk leaves the previous file as it was.
    """
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    if output is None:
        _write_stream(data)
        return
    target = check_output(Path(output), inputs)
    try:
        if _is_device(target):
            with open(target, "wb") as device:
                device.write(data)
            return
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(output, exc) from None
    with _signals_interrupt():
        try:
            os.chmod(temporary, _file_mode(target))  # mkstemp makes 0600; a report is for others to read
            with open(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())  # a full disk may only say so here
            os.replace(temporary, target)
        except BaseException as exc:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _cannot_write(output, exc) from None
            raise


def _cannot_write(output: Path, exc: OSError) -> RetainkitError:
    return RetainkitError(f"--output {output}: cannot write ({exc.strerror or exc})",
                          "check the free space and permissions, or write elsewhere")


def check_output(output: Path, inputs: Sequence[str] = ()) -> Path:
    """The file ``output`` writes (a symbolic link's target), checked before any work: its
    folder exists, it is not a folder, and it is none of the ``inputs`` (by path or hard link).
    A device or a pipe (``/dev/stdout``, ``/dev/null``) is itself the target."""
    if _is_device(output):
        target = output
    else:
        target = Path(os.path.realpath(output))
        if target.is_symlink():
            raise RetainkitError(f"--output {output} is a symbolic link in a loop",
                                 "remove the link, or name another file")
        _output_folder(target if output.is_symlink() else output)
    for name in inputs:
        if name != "-" and _same_file(target, name):
            raise RetainkitError(f"--output {output} is the input file {name}: writing would replace the export",
                                 "name another file for the result")
    return target


def _is_device(path: Path) -> bool:
    """Whether ``path`` is there and neither a file nor a folder (a device, a pipe, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _same_file(target: Path, name: str) -> bool:
    if os.path.realpath(name) == str(target):
        return True
    try:
        return os.path.samefile(target, name)  # a hard link to an input
    except (OSError, ValueError):
        return False


def _write_stream(data: bytes) -> None:
    """To stdout; a full disk is one error line, not a traceback at exit. A reader that
    stopped early (``| head``) is no error: it has what it wanted."""
    try:
        sys.stdout.flush()  # text written before, through the text layer
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        raise RetainkitError(f"cannot write to standard output ({exc.strerror or exc})",
                             "check the free space where it goes, or give --output FILE") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit finds nothing to fail on."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


class _Signalled(BaseException):
    """SIGTERM or SIGHUP arrived while a file was being written (``args[0]``: which)."""


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt the block like Ctrl-C (so its cleanup runs), then end
    the process as they would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise _Signalled(signum)

    wanted = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    # Not a signal ignored, nor one whose handler was set outside Python (getsignal: None).
    previous = {s: h for s in wanted if (h := signal.getsignal(s)) not in (signal.SIG_IGN, None)}
    for signum in previous:
        signal.signal(signum, interrupt)
    try:
        yield
    except _Signalled as stop:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.raise_signal(stop.args[0])
        raise SystemExit(128 + stop.args[0]) from None  # a handler that did not end the process
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _output_folder(output: Path) -> Path:
    """The folder ``output`` goes in; an error when it is missing or ``output`` is a folder."""
    if output.is_dir():
        raise RetainkitError(f"--output {output} is a folder", f"name a file in it, e.g. --output {output / 'out.txt'}")
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        raise RetainkitError(f"--output {output}: folder {directory} {what}", f"create it first: mkdir -p {directory}")
    return directory
