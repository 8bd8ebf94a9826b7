"""Charts of a prediction (SPEC §6, §7): the tracking chart, P(alive) over frequency ×
purchase span, and expected against actual purchases by frequency group.

Each chart is a function of the prediction's plain data (the scoreboard's dict, the
P(alive) grid) drawing on a matplotlib ``Axes``, its words through ``gettext`` (English
by default), so a report can place any of them: :func:`save_charts` writes all three to
one SVG or PNG, :func:`inline_charts` gives each as an inline ``<svg>`` for the HTML
report — with deterministic bytes (fixed SVG ids, glyphs as paths, no date or software
metadata).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retainkit.errors import RetainkitError

if TYPE_CHECKING:  # the output layer reads results; it does not import the library's modules
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from retainkit.models.predict import Prediction

FORMATS = (".svg", ".png")
Words = Callable[[str], str]  # a message in the reader's language (gettext)


def _english(message: str) -> str:
    return message


def _days(value: float) -> str:
    return f"{value:,.0f}"


def _matplotlib() -> Any:
    """matplotlib, or the one line that says which extra brings it."""
    try:
        import matplotlib
        import matplotlib.figure
    except ImportError:
        raise RetainkitError("charts need matplotlib", "pip install 'retainkit[report]'") from None
    return matplotlib


def _style() -> Any:
    """Fixed SVG ids, glyphs as paths (no fonts needed to view), one small font size."""
    return _matplotlib().rc_context({"svg.hashsalt": "retainkit", "svg.fonttype": "path", "font.size": 8})


#: Fixed margins of a chart of the report (fractions of the figure): half the time of a
#: layout engine, which the report, held to the cost of ``kpis``, cannot spare.
MARGINS = {"left": 0.14, "right": 0.97, "bottom": 0.15, "top": 0.9}


def _figure(width: float, height: float, panels: int = 1, *, fixed: bool = False) -> tuple[Figure, list[Axes]]:
    figure = _matplotlib().figure.Figure(figsize=(width, height), layout=None if fixed else "constrained")
    if fixed:
        figure.subplots_adjust(**MARGINS)
    return figure, list(figure.subplots(1, panels, squeeze=False)[0])


def _name(score: dict[str, Any], gettext: Words) -> str:
    """A line's name in a legend: the model's label, or "naive guess"."""
    return gettext("naive guess") if score["model"] == "naive" else score["label"].split(" (")[0]


def draw_tracking(ax: Axes, board: dict[str, Any], gettext: Words = _english) -> None:
    """Cumulative repeat purchases week by week in the holdout: actual, and each model's and
    the naive guess's prediction; the calibration period ends at week 0."""
    weeks = list(range(len(board["actual_cumulative"]) + 1))
    ax.plot(weeks, [0, *board["actual_cumulative"]], color="black", linewidth=2, label=gettext("actual"))
    for score in board["scores"]:
        style = ":" if score["model"] == "naive" else "-"
        ax.plot(weeks, [0, *score["cumulative"]], linestyle=style, label=_name(score, gettext))
    ax.axvline(0, color="grey", linewidth=1)
    ax.annotate(gettext("calibration | holdout"), (0, 0), xytext=(3, 3), textcoords="offset points", color="grey")
    ax.set_xlabel(gettext("weeks after the calibration period"))
    ax.set_ylabel(gettext("cumulative repeat purchases"))
    ax.set_title(gettext("Tracking: predicted against actual"))
    ax.legend(frameon=False)


def draw_alive(ax: Axes, grid: dict[str, Any], gettext: Words = _english, days: Callable[[float], str] = _days
               ) -> None:
    """P(alive) of a customer observed for the longest age, over frequency × purchase span."""
    mesh = ax.pcolormesh(grid["purchase_span_days"], grid["frequency"], grid["p_alive"], vmin=0, vmax=1,
                         cmap="viridis", shading="nearest", rasterized=True)  # one image, not 625 paths
    ax.figure.colorbar(mesh, ax=ax, label="P(alive)")
    ax.set_xlabel(gettext("days from first to last purchase"))
    ax.set_ylabel(gettext("repeat purchases"))
    ax.set_title(gettext("P(alive) after %(days)s days") % {"days": days(grid["age_days"])})


def draw_by_frequency(ax: Axes, board: dict[str, Any], gettext: Words = _english) -> None:
    """Mean holdout purchases per customer by calibration frequency: actual and predicted."""
    best = next(s for s in board["scores"] if s["model"] == board["best"])
    labels = [g["frequency"] for g in best["by_frequency"]]
    ax.plot(labels, board["actual_by_frequency"], color="black", marker="o", label=gettext("actual"))
    for score in board["scores"]:
        ax.plot(labels, [g["predicted_mean"] for g in score["by_frequency"]], marker=".",
                linestyle=":" if score["model"] == "naive" else "-", label=_name(score, gettext))
    ax.set_xlabel(gettext("repeat purchases in calibration"))
    ax.set_ylabel(gettext("holdout purchases per customer"))
    ax.set_title(gettext("Expected against actual by frequency"))
    ax.legend(frameon=False)


def prediction_figure(result: Prediction) -> Figure:
    """The charts the prediction has data for, side by side: tracking and by frequency when
    there is a scoreboard, and the P(alive) map."""
    board, grid = result.scoreboard, result.alive_grid
    draws = ([(draw_tracking, board), (draw_by_frequency, board)] if board else []) + \
        ([(draw_alive, grid)] if grid else [])
    if not draws:
        raise RetainkitError("nothing to plot: no scoreboard and no fitted model")
    with _style():
        figure, axes = _figure(4.2 * len(draws), 3.4, len(draws))
        for ax, (draw, data) in zip(axes, draws, strict=True):
            draw(ax, data)
    return figure


def save_charts(result: Prediction, path: Path) -> None:
    """Write :func:`prediction_figure` to ``path`` (.svg or .png), the same bytes every run."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RetainkitError(f"--plot {path.name}: the chart file must end in .svg or .png")
    figure = prediction_figure(result)
    with _style():
        if suffix == ".png":
            figure.savefig(path, format="png", dpi=120, metadata={"Software": None})
            return
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    path.write_text(_without_metadata(buffer.getvalue()), encoding="utf-8")


def _without_metadata(svg: str) -> str:
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)


def inline_charts(board: dict[str, Any] | None, grid: dict[str, Any] | None, *, gettext: Words = _english,
                  days: Callable[[float], str] = _days) -> list[str]:
    """The charts there is data for — tracking, by frequency (a scoreboard), the P(alive) map
    (a grid) — each an inline ``<svg>`` element, as wide as its box and never wider."""
    draws: list[Callable[[Axes], None]] = []
    if board:
        draws += [lambda ax: draw_tracking(ax, board, gettext), lambda ax: draw_by_frequency(ax, board, gettext)]
    if grid:
        draws.append(lambda ax: draw_alive(ax, grid, gettext, days))
    charts = []
    for draw in draws:
        with _style():
            figure, (ax,) = _figure(4.6, 3.3, fixed=True)
            draw(ax)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
        svg = _without_metadata(buffer.getvalue())
        svg = svg[svg.index("<svg"):]
        charts.append(svg.replace("<svg ", '<svg style="display:block;width:100%;max-width:100%;height:auto" ', 1))
    return charts
