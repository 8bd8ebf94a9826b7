"""Tables that fit the width they are rendered at (issue 9, item 3).

A :class:`FitTable` is a Rich renderable that learns its width when it is printed
(``options.max_width``: the terminal's, ``COLUMNS`` or 80 in a pipe, the fixed width of
``--output``), so the same object serves all three. At that width it

- never wraps or cuts a number or a date: such a column is as wide as its widest value;
- shortens ids and names with an ellipsis, on one line, never breaking them over lines;
- wraps prose (a reason, a list of sample values) only between words or values;
- drops the least important columns (each table declares the order) when the others would
  not fit, and says which under the table, with the way to see them;
- below :data:`RECORD_WIDTH` columns, when the table does not fit whole, shows one block per
  record instead (``key: value`` lines, like ``psql \\x`` or duckdb's ``.mode line``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from rich import box as boxes
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from retainkit.render_locale import Style
from retainkit.safe_text import visible, visible_text
from retainkit.values import noop

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions

#: Below this width a table that does not fit whole becomes one block per record.
RECORD_WIDTH = 60
SHORT_FLOOR = 8  # an id or name is never shortened below this (or its own width)
SHORT_CAP = 32  # … and asks for at most this much before other columns are dropped
WRAP_FLOOR = 10  # prose wraps at no fewer columns than this
WRAP_COMFORT = 20  # … and asks for this much before other columns are dropped
HINT = noop("see them all with --format csv")
ELLIPSIS = "…"

Kind = Literal["fixed", "short", "wrap", "bar"]


@dataclass(frozen=True)
class Col:
    """A column: ``key`` (the export's column name, used in notes and records), its header
    and how its cells fit: ``fixed`` (numbers, dates: never cut), ``short`` (ids, names:
    one line, ellipsis), ``wrap`` (prose broken only at ``sep``), ``bar`` (a drawn bar, left
    out of records); ``width`` is a minimum, for columns meant to line up."""

    key: str
    header: str = ""
    kind: Kind = "fixed"
    justify: Literal["left", "right"] = "left"
    sep: str = " "
    width: int = 0  # at least this wide (columns of equal width)


@dataclass(frozen=True)
class Fit:
    """A column's widths: ``floor`` (never narrower), ``comfort`` (what it asks for before
    other columns are dropped) and ``want`` (its widest cell and header, on one line)."""

    floor: int
    comfort: int
    want: int


def text_width(text: Text | str) -> int:
    """Cells taken by the widest line of ``text``."""
    plain = text.plain if isinstance(text, Text) else text
    return max((cell_len(line) for line in plain.split("\n")), default=0)


def measure(col: Col, cells: Sequence[Text]) -> Fit:
    """The widths ``col`` needs for ``cells``."""
    longest = max(max((text_width(c) for c in cells), default=0), col.width)
    want = max(longest, cell_len(col.header), 1)
    if col.kind in ("fixed", "bar"):
        floor = max(longest, max((cell_len(w) for w in col.header.split()), default=0), 1)
        return Fit(floor, floor, want)
    if col.kind == "short":
        return Fit(min(want, SHORT_FLOOR), min(want, SHORT_CAP), want)
    return Fit(min(want, WRAP_FLOOR), min(want, WRAP_COMFORT), want)


def shorten(text: Text | str, width: int) -> Text:
    """``text`` on one line of at most ``width`` cells, ending in ``…`` when cut."""
    line = text.copy() if isinstance(text, Text) else Text(text)
    if "\n" in line.plain:
        line = Text(" ".join(line.plain.split("\n")), style=line.style)
    if cell_len(line.plain) > width:
        line.truncate(max(width, 1), overflow="ellipsis")
    return line


def wrap_atoms(text: str, width: int, sep: str = " ") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken only between the parts ``sep``
    separates (a line that continues keeps ``sep``'s visible part, e.g. the comma of ``", "``);
    a part wider than ``width`` is shortened with ``…``, never broken."""
    text = " ".join(text.splitlines())
    tail = sep.rstrip()
    lines: list[str] = []
    line = ""
    for atom in (a for a in text.split(sep) if a.strip()):
        candidate = f"{line}{sep}{atom}" if line else atom
        if line and cell_len(candidate + tail) > width:
            lines.append(line + tail)
            candidate = atom
        line = candidate if cell_len(candidate + tail) <= width else shorten(candidate, width - cell_len(tail)).plain
    lines.append(line)
    return lines


def fitted(col: Col, cell: Text, width: int) -> Text:
    """``cell`` as ``col`` shows it in ``width`` cells."""
    if col.kind == "short":
        return shorten(cell, width)
    if col.kind == "wrap":
        return Text("\n".join(wrap_atoms(cell.plain, width, col.sep)), style=cell.style)
    return cell


def dropped_note(keys: Sequence[str], hint: str = HINT, *, style: Style | None = None) -> str:
    """``"2 columns not shown at this width: a, b; see them all with --format csv"`` (in the
    language of ``style``)."""
    style = style or Style()
    text = style.ngettext("%(n)s column not shown at this width: %(names)s; %(hint)s",
                          "%(n)s columns not shown at this width: %(names)s; %(hint)s", len(keys))
    return text % {"n": len(keys), "names": ", ".join(keys), "hint": style.gettext(hint)}


@dataclass(frozen=True)
class Look:
    """A table's box (None: none), padding of every cell (left, right), header and edges."""

    box: boxes.Box | None = boxes.HEAVY_HEAD
    pad: tuple[int, int] = (1, 1)
    show_header: bool = True
    show_edge: bool = True


BOXED = Look()  # the data tables: customers, at risk, trend…
PLAIN = Look(box=None, pad=(2, 0))  # titled lists: KPIs, data quality
LISTED = Look(box=None, pad=(2, 1))  # inspect's files and columns
DENSE = Look(box=boxes.SIMPLE_HEAD, pad=(0, 0), show_edge=False)  # the cohort heatmap
PAIRS = Look(box=None, pad=(2, 0), show_header=False)  # label/value lines


class FitTable:
    """A Rich renderable table that fits the width it is given (see the module docstring).

    ``importance`` lists column keys, most important first (the rest follow in their order);
    ``records_below`` is the width under which a table that does not fit whole is shown as
    records (None: never); ``droppable=False`` keeps every column (label/value pairs);
    ``look`` is its box and padding; ``min_width`` widens the leftmost text column so that
    stacked tables line up; ``describe_dropped`` words the note for the keys left out.

    Cells, headers and the title are made visible (:mod:`retainkit.safe_text`) before
    they are measured: data reaches the terminal as text, never as a control sequence.
    """

    def __init__(
        self, columns: Sequence[Col], rows: Sequence[Sequence[Text | str]], *, title: str | None = None,
        importance: Sequence[str] = (), records_below: int | None = RECORD_WIDTH, droppable: bool = True,
        look: Look = BOXED, min_width: int | None = None,
        describe_dropped: Callable[[list[str]], str] = dropped_note,
    ) -> None:
        self.columns = [replace(c, key=visible(c.key), header=visible(c.header, newlines=True)) for c in columns]
        self.rows = [[visible_text(c if isinstance(c, Text) else str(c)) for c in row] for row in rows]
        self.title = None if title is None else visible(title, newlines=True)
        self.records_below = records_below
        self.droppable = droppable
        self.look = look
        self.min_width = min_width
        self.describe_dropped = describe_dropped
        self.fits = [measure(col, [row[i] for row in self.rows]) for i, col in enumerate(self.columns)]
        rank = {visible(key): n for n, key in enumerate(importance)}
        self.order = sorted(range(len(self.columns)), key=lambda i: (rank.get(self.columns[i].key, len(rank)), i))

    # ------------------------------------------------------------ layout

    def overhead(self, n: int) -> int:
        """Cells that borders and padding take around ``n`` columns."""
        look = self.look
        lines = (n - 1 + (2 if look.show_edge else 0)) if look.box else 0
        return sum(look.pad) * n + lines

    def total(self, indices: Sequence[int], level: str) -> int:
        """Width of a table of ``indices`` at their ``level`` (floor, comfort or want)."""
        return self.overhead(len(indices)) + sum(getattr(self.fits[i], level) for i in indices)

    def layout(self, width: int) -> tuple[list[int], dict[int, int], list[int]]:
        """The columns shown (in table order), their widths, and the columns dropped (most
        important first): drop from the least important while the rest do not fit."""
        n = len(self.order)
        while self.droppable and n > 1 and self.total(self.order[:n], "comfort") > width:
            n -= 1
        kept = self.order[:n]
        widths = {i: self.fits[i].comfort for i in kept}
        spare = width - self.total(kept, "comfort")
        if spare < 0:
            self._shrink(kept, widths, -spare)
        else:
            self._grow(kept, widths, spare, width)
        return sorted(kept), widths, self.order[n:]

    def _shrink(self, kept: list[int], widths: dict[int, int], excess: int) -> None:
        """Narrow ids and prose, least important first, down to their floors."""
        for i in reversed(kept):
            give = min(excess, widths[i] - self.fits[i].floor)
            widths[i] -= give
            excess -= give

    def _grow(self, kept: list[int], widths: dict[int, int], spare: int, width: int) -> None:
        """Give spare cells to ids, then prose, then headers, most important first; then
        widen the leftmost text column up to ``min_width``."""
        for kinds in (("short",), ("wrap",), ("fixed", "bar")):
            for i in (i for i in kept if self.columns[i].kind in kinds):
                give = min(spare, self.fits[i].want - widths[i])
                widths[i] += give
                spare -= give
        stretch = [i for i in sorted(kept) if self.columns[i].kind in ("short", "wrap")]
        if self.min_width and stretch:
            used = self.overhead(len(kept)) + sum(widths.values())
            widths[stretch[0]] += max(0, min(self.min_width, width) - used)

    # ------------------------------------------------------------ rendering

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        width = options.max_width
        whole = self.total(self.order, "comfort") <= width
        if self.records_below is not None and width < self.records_below and not whole and self.rows:
            yield from self.records(width)
            return
        shown, widths, dropped = self.layout(width)
        yield self.table(shown, widths)
        named = [self.columns[i].key for i in dropped if self.columns[i].kind != "bar"]
        if named and self.rows:  # an empty table hides nothing
            yield Text(self.describe_dropped(named), style="dim")

    def table(self, shown: list[int], widths: dict[int, int]) -> Table:
        """A Rich table of the ``shown`` columns at exactly ``widths`` (cells fitted first)."""
        look = self.look
        title = None if self.title is None else Text(self.title, style="bold")  # text, never Rich markup
        table = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=look.box,
                      padding=(0, look.pad[1], 0, look.pad[0]), show_header=look.show_header, show_edge=look.show_edge)
        for i in shown:
            col = self.columns[i]
            header = Text("\n".join(wrap_atoms(col.header, widths[i])) if col.header else "")
            table.add_column(header, justify=col.justify, width=widths[i], no_wrap=True, overflow="ellipsis")
        for row in self.rows:
            table.add_row(*(fitted(self.columns[i], row[i], widths[i]) for i in shown))
        return table

    def records(self, width: int) -> Iterator[Text]:
        """One block per row: the most important column as ``key: value``, then the others
        indented, most important first (drawn bars left out)."""
        order = [i for i in self.order if self.columns[i].kind != "bar"]
        head, rest = order[0], order[1:]
        if self.title:
            yield Text(self.title, style="bold")
        for n, row in enumerate(self.rows):
            if n or self.title:
                yield Text("")
            key = f"{self.columns[head].key}: "
            yield Text.assemble((key, "bold"), shorten(row[head], max(width - cell_len(key), 1)))
            for i in rest:
                yield from record_lines(self.columns[i], row[i], width)


def record_lines(col: Col, cell: Text, width: int) -> Iterator[Text]:
    """``  key: value`` for one field of a record (the value on the next line when the line
    is too narrow for it)."""
    prefix = f"  {col.key}: "
    room = width - cell_len(prefix)
    fits = text_width(cell) <= room if col.kind == "fixed" else room >= SHORT_FLOOR
    if not fits:
        yield Text(f"  {col.key}:")
        prefix, room = "    ", width - 4
    if col.kind == "wrap":
        lines = wrap_atoms(cell.plain, room, col.sep)
        for n, line in enumerate(lines):
            yield Text((prefix if n == 0 else " " * len(prefix)) + line, style=cell.style)
        return
    value = cell if col.kind == "fixed" else shorten(cell, room)
    yield Text(prefix) + value


def pairs_table(title: str | None, rows: Sequence[Sequence[Text | str]], *, value_kind: Kind = "fixed",
                min_width: int | None = 60) -> FitTable:
    """Label/value lines under a title: labels wrap between words, values are never cut
    (``value_kind="wrap"`` for values that are phrases), no column is ever dropped; stacked
    pair tables line up at ``min_width``."""
    columns = [Col("label", kind="wrap"), Col("value", kind=value_kind, justify="right")]
    return FitTable(columns, rows, title=title, importance=("value", "label"), look=PAIRS, droppable=False,
                    records_below=None, min_width=min_width)
