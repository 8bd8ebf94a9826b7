"""Charts of a prediction (SPEC §6, §7): the tracking chart, P(alive) over frequency ×
purchase span, and expected against actual purchases by frequency group.

Each chart is a function of the prediction's plain data (the scoreboard's dict, the
P(alive) grid) returning a matplotlib ``Figure``, so a report can place any of them;
:func:`save_charts` writes all three to one SVG or PNG with deterministic bytes (fixed
SVG ids, glyphs as paths, no date or software metadata).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retainkit.errors import RetainkitError

if TYPE_CHECKING:  # the output layer reads results; it does not import the library's modules
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from retainkit.models.predict import Prediction

FORMATS = (".svg", ".png")


def _style() -> Any:
    """Fixed SVG ids, glyphs as paths (no fonts needed to view), one small font size."""
    import matplotlib

    return matplotlib.rc_context({"svg.hashsalt": "retainkit", "svg.fonttype": "path", "font.size": 8})


def _figure(width: float, height: float, panels: int = 1) -> tuple[Figure, list[Axes]]:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError("charts need matplotlib", "pip install 'retainkit[report]'") from None
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, list(figure.subplots(1, panels, squeeze=False)[0])


def draw_tracking(ax: Axes, board: dict[str, Any]) -> None:
    """Cumulative repeat purchases week by week in the holdout: actual, and each model's and
    the naive guess's prediction; the calibration period ends at week 0."""
    weeks = list(range(len(board["actual_cumulative"]) + 1))
    ax.plot(weeks, [0, *board["actual_cumulative"]], color="black", linewidth=2, label="actual")
    for score in board["scores"]:
        style = ":" if score["model"] == "naive" else "-"
        ax.plot(weeks, [0, *score["cumulative"]], linestyle=style, label=score["label"].split(" (")[0])
    ax.axvline(0, color="grey", linewidth=1)
    ax.annotate("calibration | holdout", (0, 0), xytext=(3, 3), textcoords="offset points", color="grey")
    ax.set_xlabel("weeks after the calibration period")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Tracking: predicted against actual")
    ax.legend(frameon=False)


def draw_alive(ax: Axes, grid: dict[str, Any]) -> None:
    """P(alive) of a customer observed for the longest age, over frequency × purchase span."""
    mesh = ax.pcolormesh(grid["purchase_span_days"], grid["frequency"], grid["p_alive"], vmin=0, vmax=1,
                         cmap="viridis", shading="nearest")
    ax.figure.colorbar(mesh, ax=ax, label="P(alive)")
    ax.set_xlabel("days from first to last purchase")
    ax.set_ylabel("repeat purchases")
    ax.set_title(f"P(alive) after {grid['age_days']:,.0f} days")


def draw_by_frequency(ax: Axes, board: dict[str, Any]) -> None:
    """Mean holdout purchases per customer by calibration frequency: actual and predicted."""
    best = next(s for s in board["scores"] if s["model"] == board["best"])
    labels = [g["frequency"] for g in best["by_frequency"]]
    ax.plot(labels, board["actual_by_frequency"], color="black", marker="o", label="actual")
    for score in board["scores"]:
        ax.plot(labels, [g["predicted_mean"] for g in score["by_frequency"]], marker=".",
                linestyle=":" if score["model"] == "naive" else "-", label=score["label"].split(" (")[0])
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("holdout purchases per customer")
    ax.set_title("Expected against actual by frequency")
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
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", buffer.getvalue(), flags=re.S)
    path.write_text(svg, encoding="utf-8")
