"""The report as one self-contained HTML file, GitHub-flavoured Markdown, or JSON.

HTML: Jinja2 templates with autoescape, inline CSS, charts as inline SVG drawn by
matplotlib (glyphs as paths: no fonts, scripts or network). The same report gives the
same bytes: SVG ids are salted with a constant and no date is embedded.
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

from retainkit.errors import RetainkitError
from retainkit.render import clean, format_value

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(clean(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def report_markdown(report: dict[str, Any]) -> str:
    return _environment().get_template("report.md.j2").render(**_context(report, charts=False))


def report_html(report: dict[str, Any]) -> str:
    return _environment(html=True).get_template("report.html.j2").render(**_context(report, charts=True))


def _environment(html: bool = False):
    try:
        import jinja2
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError("reports need Jinja2", "pip install 'retainkit[report]'") from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("retainkit", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=html),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = format_value
    env.filters["change"] = format_change
    return env


def format_change(value: float | None, kind: str) -> str:
    """``+12.5%`` for counts and money, ``+1.2 pp`` for rates, ``—`` when undefined.

    >>> format_change(0.125, "money"), format_change(-0.012, "rate"), format_change(None, "count")
    ('+12.5%', '-1.2 pp', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:+.1f} pp" if kind == "rate" else f"{value * 100:+.1f}%"


def sparkline_text(values: list[float | None]) -> str:
    """A Unicode sparkline, for Markdown. ``sparkline_text([0, 5, 10]) == '▁▅█'``."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join(" " if v is None else SPARK_BLOCKS[round((v - low) / span * (len(SPARK_BLOCKS) - 1))]
                   for v in values)


def sparkline_svg(values: list[float | None]) -> str:
    """A small line chart as an inline ``<svg>`` element (deterministic bytes)."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError("HTML reports need matplotlib", "pip install 'retainkit[report]'") from None
    matplotlib.use("svg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "retainkit", "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(2.6, 0.7), dpi=72)
        xs = list(range(len(values)))
        ys = [math.nan if v is None else v for v in values]
        ax.plot(xs, ys, color="#2563eb", linewidth=1.6)
        known = [(x, y) for x, y in zip(xs, ys, strict=True) if not math.isnan(y)]
        if known:
            ax.plot(*known[-1], marker="o", markersize=3.5, color="#1d4ed8")
        ax.set_axis_off()
        ax.margins(x=0.03, y=0.15)
        fig.subplots_adjust(0, 0, 1, 1)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
        plt.close(fig)
    svg = buffer.getvalue()
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg[svg.index("<svg"):], flags=re.S)
    return svg


def _heat(value: float | None) -> str:
    """Background colour of a cohort cell (computed here, never taken from the data)."""
    if value is None:
        return "transparent"
    lightness = 96 - round(56 * max(0.0, min(1.0, value)))
    return f"hsl(217, 80%, {lightness}%)"


def _context(report: dict[str, Any], *, charts: bool) -> dict[str, Any]:
    series = report["series"]
    headline = []
    for item in report["headline"]:
        values = series[item["key"]]
        headline.append(item | {"spark": sparkline_text(values),
                                "svg": sparkline_svg(values) if charts else ""})
    cohorts = report["cohorts"]
    cohort_rows = [row | {"cells": [{"value": v, "text": "" if v is None else f"{v * 100:.0f}%", "bg": _heat(v),
                                     "dark": v is not None and v > 0.55} for v in row["values"]]}
                   for row in cohorts["rows"]]
    return {"r": report, "headline": headline, "cohort_rows": cohort_rows, "series": series}
