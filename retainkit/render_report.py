"""The report as one self-contained HTML file, GitHub-flavoured Markdown, or JSON.

HTML: Jinja2 templates with autoescape, inline CSS, charts as inline SVG (the sparklines
written directly, the model's charts drawn by matplotlib with glyphs as paths: no fonts,
scripts or network). The same report gives the
same bytes: SVG ids are salted with a constant and no date is embedded.

Everything a template prints (``{{ … }}``) passes one function on its way out
(Jinja2's ``finalize``): in Markdown :func:`~retainkit.safe_text.md_text`, so that text from
the data makes no tag, link or cell break; in HTML :func:`~retainkit.safe_text.visible`
before autoescape. The templates' own text is the table syntax and is not escaped.

Language and money (``--lang``, ``--currency``): the templates' words pass gettext
(``{{ _("…") }}``, catalogs in ``retainkit/locales/<lang>/LC_MESSAGES/retainkit.po``, read
with Babel at run time) and numbers, money and dates Babel's locale data. The JSON document
is the same in every language: keys starting with ``_`` (the language and currency, and the
facts the words are made from) are for the HTML and Markdown only and left out of it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable
from typing import Any

from retainkit.errors import RetainkitError
from retainkit.render import clean
from retainkit.render_locale import Style, translations
from retainkit.safe_text import md_text, visible

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
#: The KPIs a shop acts on, as cards (with customers and value at risk); the others in a table.
CARDS = ("customers", "orders", "revenue", "repeat_customer_rate")


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(clean(public(report)), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def public(value: Any) -> Any:
    """``value`` without the keys that start with ``_`` (for the HTML and Markdown only)."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


def report_markdown(report: dict[str, Any]) -> str:
    style = Style.of(report)
    return _environment(style).get_template("report.md.j2").render(**_context(report, style, charts=False))


def report_html(report: dict[str, Any]) -> str:
    style = Style.of(report)
    return _environment(style, html=True).get_template("report.html.j2").render(
        **_context(report, style, charts=True))


def _environment(style: Style, html: bool = False):
    try:
        import babel  # noqa: F401  (numbers, dates and catalogs)
        import jinja2
    except ImportError as exc:  # pragma: no cover - depends on the install
        name = {"jinja2": "Jinja2", "babel": "Babel"}.get(exc.name or "", exc.name)
        raise RetainkitError(f"reports need {name}", "pip install 'retainkit[report]'") from None
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.PackageLoader("retainkit", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=html),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_html_out if html else _markdown_out,
    )
    env.install_gettext_translations(translations(style.lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(fmt=style.number, change=style.change, date=style.date, period=style.period,
                       paragraph=_paragraph, word=style.word, note=style.note, value_size=value_size)
    return env


#: A card figure's type size by its length: one line in a half-width card at 360 px.
VALUE_SIZES = ((8, 22), (10, 19), (12, 17))
SMALLEST_VALUE_SIZE = 15


def value_size(text: str) -> int:
    """The type size (px) of a card's figure: 22 up to 8 characters, smaller for longer ones
    (``£247,323.28`` at 17 px), so that a figure is never broken over two lines."""
    return next((size for length, size in VALUE_SIZES if len(text) <= length), SMALLEST_VALUE_SIZE)


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


def sparkline_text(values: list[float | None]) -> str:
    """A Unicode sparkline, for Markdown. ``sparkline_text([0, 5, 10]) == '▁▅█'``."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join(" " if v is None else SPARK_BLOCKS[round((v - low) / span * (len(SPARK_BLOCKS) - 1))]
                   for v in values)


#: A sparkline's drawing box (px; the ``<svg>`` scales it to its card) and margins as
#: fractions of the data's range, so that the line and its end dot are never clipped.
SPARK_SIZE = (187.2, 50.4)
SPARK_MARGIN = (0.03, 0.15)


def sparkline_svg(values: list[float | None]) -> str:
    """A small line chart as an inline ``<svg>`` element (deterministic bytes): the known
    values joined by a line (a gap where a value is None), a dot on the last known one.

    Point i of n at x = (i + m·(n − 1)) / ((n − 1)(1 + 2m)) of the width, y likewise over
    [min, max] from the bottom (m: :data:`SPARK_MARGIN`). Written directly: four lines per
    report are not worth loading a plotting library for."""
    width, height = SPARK_SIZE
    values = [float(v) if v is not None and math.isfinite(v) else None for v in values]
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    parts = []
    if known:
        x_of = _spark_scale(0, len(values) - 1, width, SPARK_MARGIN[0], flip=False)
        y_of = _spark_scale(min(v for _, v in known), max(v for _, v in known), height, SPARK_MARGIN[1], flip=True)
        for run in (run for run in _runs(values) if len(run) > 1):
            points = " ".join(f"{x_of(i):.2f},{y_of(v):.2f}" for i, v in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="1.6" '
                         'stroke-linejoin="round" stroke-linecap="square"/>')
        last_x, last_y = x_of(known[-1][0]), y_of(known[-1][1])
        parts.append(f'<circle cx="{last_x:.2f}" cy="{last_y:.2f}" r="1.75" fill="#1d4ed8"/>')
    # Sized inline too, for mail clients that strip <style>: never wider than its card.
    return (f'<svg style="display:block;width:100%;max-width:100%;height:48px" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" role="img">{"".join(parts)}</svg>')


def _spark_scale(low: float, high: float, size: float, margin: float, *, flip: bool) -> Callable[[float], float]:
    """Data value → position in ``size``: [low, high] widened by ``margin`` of its span on
    each side (a single value in the middle), mirrored for y (SVG's y goes down)."""
    span = high - low
    start, extent = low - margin * span, span * (1 + 2 * margin)

    def position(value: float) -> float:
        share = (value - start) / extent if span else 0.5
        return size * (1 - share) if flip else size * share

    return position


def _runs(values: list[float | None]) -> list[list[tuple[int, float]]]:
    """The runs of consecutive known values, each as (index, value) pairs."""
    grouped = itertools.groupby(enumerate(values), key=lambda pair: pair[1] is None)
    return [[(i, v) for i, v in run if v is not None] for missing, run in grouped if not missing]


def _heat(value: float | None) -> str:
    """Background colour of a cohort cell (computed here, never taken from the data)."""
    if value is None:
        return "transparent"
    lightness = 96 - round(56 * max(0.0, min(1.0, value)))
    return f"hsl(217, 80%, {lightness}%)"


def _context(report: dict[str, Any], style: Style, *, charts: bool) -> dict[str, Any]:
    """Template variables: the cards (the KPIs a shop acts on, with their charts: partial
    periods left out as gaps, first and last period, min and max), the other KPIs, and
    cohort cells with colour and text (a partial cell marked ``*``, unshaded)."""
    series = report["series"]
    partial = series.get("partial", [False] * len(series["period"]))
    kpis = {item["key"]: item for item in report["headline"]}
    cards = []
    for key in CARDS:
        item = kpis[key]
        values = [None if p else v for v, p in zip(series[key], partial, strict=True)]
        known = [v for v in values if v is not None]
        cards.append(item | {"spark": sparkline_text(values), "svg": sparkline_svg(values) if charts else "",
                             "low": min(known) if known else None, "high": max(known) if known else None,
                             "normal": (report.get("_normal") or {}).get(key)})
    cohort_rows = [row | {"cells": [_cohort_cell(v, p) for v, p in zip(row["values"], row["partial"], strict=True)]}
                   for row in report["cohorts"]["rows"]]
    return {"r": report, "cards": cards, "details": [i for i in report["headline"] if i["key"] not in CARDS],
            "cohort_rows": cohort_rows, "series": series, "lang": style.lang, "currency": style.currency,
            "alerts": [_alert(a, style) for a in report["alerts"]], "changed": _what_changed(report, style),
            "buy": _buy_again(report.get("_buy_again"), style, charts=charts)}


def _buy_again(section: dict[str, Any] | None, style: Style, *, charts: bool) -> dict[str, Any] | None:
    """"Who will buy again" in the reader's language (SPEC §6): how the model did on the
    holdout against the naive guess, whether to trust it, the sample it was fitted on, the
    three charts (HTML) and expected against actual by frequency group (Markdown); or the
    one sentence saying why there is no prediction."""
    if section is None:
        return None
    if section["note"] is not None:
        return {"note": style.note(section["note"])}
    t, board = translations(style.lang), section["board"]
    naive, model = board["scores"][0], next(s for s in board["scores"] if s["model"] == board["best"])
    count = functools.partial(style.number, kind="count")
    sentences = [t.gettext(
        "%(model)s, fitted on the orders up to %(calibrated)s, predicted %(predicted)s repeat purchases in the "
        "%(weeks)s weeks after (%(start)s – %(end)s); there were %(actual)s. The naive guess (each customer keeps "
        "buying at their past rate) predicted %(naive)s.") % {
        "model": model["label"], "calibrated": style.date(section["calibration_end"]),
        "predicted": count(model["predicted_total"]), "weeks": count(len(board["actual_cumulative"])),
        "start": style.date(section["holdout_start"]), "end": style.date(section["holdout_end"]),
        "actual": count(board["actual_total"]), "naive": count(naive["predicted_total"])}]
    errors = {"rmse": _decimals(model["rmse"], style), "naive": _decimals(naive["rmse"], style)}
    verdict = t.gettext("Its error per customer (RMSE) is %(rmse)s against %(naive)s for the naive guess: it "
                        "predicts better than carrying each customer's past on.") if board["beats_naive"] else \
        t.gettext("It does not beat the naive guess (error per customer %(rmse)s against %(naive)s): do not rely "
                  "on its predictions for this data.")
    sentences.append(verdict % errors)
    if section["step"] > 1:
        sentences.append(t.gettext("Fitted on 1 in %(step)s customers (%(customers)s), to keep the report fast; "
                                   "retainkit predict fits every customer and compares every model.")
                         % {"step": count(section["step"]), "customers": count(section["customers"])})
    rows = [{"frequency": group["frequency"], "model": _decimals(group["predicted_mean"], style),
             "naive": _decimals(guess["predicted_mean"], style), "actual": _decimals(actual, style)}
            for group, guess, actual in zip(model["by_frequency"], naive["by_frequency"],
                                            board["actual_by_frequency"], strict=True)]
    svgs = ((section.get("_charts") or {}).get(style.lang) or model_charts(section, style.lang)) if charts else []
    return {"note": None, "sentences": sentences, "model": model["label"], "rows": rows, "charts": svgs}


def model_charts(section: dict[str, Any], lang: str) -> list[str]:
    """The charts of "Who will buy again" (tracking, by frequency, the P(alive) map) as inline
    ``<svg>`` elements, in ``lang``."""
    from retainkit.render_charts_predict import inline_charts

    count = functools.partial(Style(lang).number, kind="count")
    return inline_charts(section["board"], section["grid"], gettext=translations(lang).gettext, days=count)


def _decimals(value: float, style: Style) -> str:
    """A mean or an error with two decimals, in the reader's digits."""
    return style.digits(f"{value:,.2f}")


def _alert(alert: dict[str, Any], style: Style) -> str:
    """An alert in the reader's language: what happened, the rule and its threshold."""
    t, facts = translations(style.lang), alert.get("_facts")
    if facts is None:
        return alert["message"]
    if alert["key"] == "churn":
        return t.gettext("Annual churn rate %(value)s is above your limit of %(limit)s (customers of the "
                         "%(window)s-day base window who did not order in the next, as a yearly rate). 5–7%% a "
                         "year is the figure for businesses with contracts; a shop without them loses more. Set "
                         "churn_alert in retainkit.toml to the rate that is normal for your shop.") % {
            "value": style.number(facts["value"], "rate"), "limit": style.number(facts["limit"], "rate"),
            "window": facts["window"]}
    if "periods" not in facts:  # the user's change_alert
        return _move(facts, style) + " " + t.gettext(
            "Rule: an alert when a KPI falls from the period before by more than %(limit)s (change_alert in "
            "retainkit.toml).") % {"limit": style.change(facts["limit"], facts["kind"]).lstrip("+")}
    return _move(facts, style) + " " + t.gettext(
        "Rule: an alert when a change from the period before is outside the range of the changes over the last "
        "%(periods)s periods.") % {"periods": facts["periods"]}


def _move(facts: dict[str, Any], style: Style) -> str:
    """What a KPI did (and, against the last periods, its normal change)."""
    t, kind = translations(style.lang), facts["kind"]
    values = {"kpi": t.gettext(facts["label"]), "change": style.change(abs(facts["change"]), kind).lstrip("+"),
              "value": style.number(facts["value"], kind)}
    if "periods" not in facts:
        text = t.gettext("%(kpi)s rose %(change)s to %(value)s.") if facts["change"] > 0 else t.gettext(
            "%(kpi)s fell %(change)s to %(value)s.")
        return text % values
    text = t.gettext("%(kpi)s rose %(change)s to %(value)s; its normal change is %(low)s to %(high)s.")
    if facts["change"] < 0:
        text = t.gettext("%(kpi)s fell %(change)s to %(value)s; its normal change is %(low)s to %(high)s.")
    return text % (values | {"low": style.change(facts["low"], kind), "high": style.change(facts["high"], kind)})


def _what_changed(report: dict[str, Any], style: Style) -> list[str]:
    """The "what changed" sentences: KPIs that moved beyond normal, customers who became at
    risk, the biggest VIP who lapsed."""
    t, normal = translations(style.lang), report.get("_normal") or {}
    moved = [f"{t.gettext(item['label'])} {style.change(change, item['kind'])}" for item in report["headline"]
             if (band := normal.get(item["key"])) and (change := item["change_previous"]) is not None
             and not band["low"] <= change <= band["high"]]
    sentences = [t.gettext("Beyond their normal change from one period to the next: %(moves)s.")
                 % {"moves": ", ".join(moved)} if moved
                 else t.gettext("No KPI moved beyond its normal range from the period before.")]
    if n := report.get("_became_at_risk"):
        sentences.append(t.ngettext("%(n)s customer became at risk in this period.",
                                    "%(n)s customers became at risk in this period.", n)
                         % {"n": style.number(n, "count")})
    for vip in report.get("_lapsed_vip") or []:
        sentences.append(t.gettext("The biggest VIP at risk: %(customer)s, %(revenue)s in the last 365 days, no "
                                   "order for %(days)s days.")
                         % {"customer": vip["customer_id"], "revenue": style.number(vip["revenue_365"], "money"),
                            "days": style.number(vip["recency_days"], "count")})
    return sentences


def _cohort_cell(value: float | None, partial: bool) -> dict[str, Any]:
    """One cohort cell: ``42%`` on a heat colour, or ``6%*`` unshaded when partial (SPEC §4)."""
    text = "" if value is None else f"{value * 100:.0f}%" + ("*" if partial else "")
    # The text is made here, not taken from the data: its ``*`` is a mark, left as it is.
    return {"value": value, "text": _Markdown(text), "partial": partial, "bg": _heat(None if partial else value),
            "dark": not partial and value is not None and value > 0.55}
