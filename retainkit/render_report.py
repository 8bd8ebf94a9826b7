"""The report as one self-contained HTML file, GitHub-flavoured Markdown, or JSON.

HTML: Jinja2 templates with autoescape, inline CSS, charts as inline SVG drawn by
matplotlib (glyphs as paths: no fonts, scripts or network). The same report gives the
same bytes: SVG ids are salted with a constant and no date is embedded.

Everything a template prints (``{{ … }}``) passes one function on its way out
(Jinja2's ``finalize``): in Markdown :func:`~retainkit.safe_text.md_text`, so that text from
the data makes no tag, link or cell break; in HTML :func:`~retainkit.safe_text.visible`
before autoescape. The templates' own text is the table syntax and is not escaped.
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

from retainkit.errors import RetainkitError
from retainkit.render import clean, format_value
from retainkit.safe_text import md_text, visible

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
        finalize=_html_out if html else _markdown_out,
    )
    env.filters["fmt"] = format_value
    env.filters["change"] = format_change
    env.filters["paragraph"] = _paragraph
    return env


class _Markdown(str):
    """Text already escaped for Markdown (not escaped again on its way out)."""


def _markdown_out(value: Any) -> str:
    """What a Markdown template prints for ``value``: :func:`~retainkit.safe_text.md_text`."""
    return value if isinstance(value, _Markdown) else md_text(value)


def _paragraph(value: Any) -> _Markdown:
    """``{{ note|paragraph }}``: text that begins a paragraph or list item (a leading ``#``,
    ``>`` or ``-`` from the data starts no block)."""
    return _Markdown(md_text(value, line_start=True))


def _html_out(value: Any) -> Any:
    """What an HTML template prints for ``value``, before autoescape: control characters
    made visible; markup the renderer made itself (the charts, ``|safe``) as it is."""
    if hasattr(value, "__html__"):
        return value
    return visible(value, newlines=True) if isinstance(value, str) else value


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
    """Template variables: headline items with their charts (partial periods left out as
    gaps) and cohort cells with colour and text (a partial cell marked ``*``, unshaded)."""
    series = report["series"]
    partial = series.get("partial", [False] * len(series["period"]))
    headline = []
    for item in report["headline"]:
        values = [None if p else v for v, p in zip(series[item["key"]], partial, strict=True)]
        headline.append(item | {"spark": sparkline_text(values),
                                "svg": sparkline_svg(values) if charts else ""})
    cohort_rows = [row | {"cells": [_cohort_cell(v, p) for v, p in zip(row["values"], row["partial"], strict=True)]}
                   for row in report["cohorts"]["rows"]]
    return {"r": report, "headline": headline, "cohort_rows": cohort_rows, "series": series}


def _cohort_cell(value: float | None, partial: bool) -> dict[str, Any]:
    """One cohort cell: ``42%`` on a heat colour, or ``6%*`` unshaded when partial (SPEC §4)."""
    text = "" if value is None else f"{value * 100:.0f}%" + ("*" if partial else "")
    # The text is made here, not taken from the data: its ``*`` is a mark, left as it is.
    return {"value": value, "text": _Markdown(text), "partial": partial, "bg": _heat(None if partial else value),
            "dark": not partial and value is not None and value > 0.55}
