"""The ``kpis`` document → table, Markdown or CSV, in the reader's language (SPEC §7).

One CSV row (period, metrics, what to act on, data quality) for cron to append; a Markdown
page and a terminal table with the period, the KPI groups of the metric registry, what to
act on, data quality and the notes. Tables and Markdown speak the language of ``style``
(``--lang``); the CSV and JSON keep their keys in every language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retainkit.render import ENGLISH, format_value, quality_rows, quality_table, rows_csv
from retainkit.render_locale import Style
from retainkit.safe_text import Visible, md_text, visible
from retainkit.values import noop

#: How each KPI is shown: group → (key, label, kind) in table order. The library's metric
#: registry (:func:`retainkit.metrics.kpi_views`) makes it; the output layer only reads it.
KpiViews = Mapping[str, Sequence[tuple[str, str, str]]]


def kpis_csv(document: Mapping[str, Any], *, delimiter: str = ",") -> str:
    """One header row and one value row: period, metrics, data quality (cron appends rows)."""
    row: dict[str, Any] = {"period_from": document["period"]["from"], "period_to": document["period"]["to"]}
    row["churn_window_days"] = document["period"]["churn_window_days"]
    row.update(document["metrics"])
    row.update(_flat_actions(document.get("act_on_this")))
    row.update({f"dq_{k}": v for k, v in document["data_quality"].items() if not isinstance(v, list | dict)})
    return rows_csv(list(row), [list(row.values())], delimiter=delimiter)


def all_notes(document: Mapping[str, Any]) -> list[str]:
    """The period's notes (why a window was chosen, which KPIs are null and why, SPEC §2),
    then the data-quality notes: printed under every table, listed in Markdown."""
    return [*document["period"].get("notes", []), *document["data_quality"].get("notes", [])]


def _flat_actions(actions: Mapping[str, Any] | None) -> dict[str, Any]:
    if not actions:
        return {}
    flat = {k: v for k, v in actions.items() if k != "customers_per_level"}
    flat.update({f"level_{k.replace('-', '_')}": v for k, v in actions["customers_per_level"].items()})
    return flat


ACTION_LABELS: tuple[tuple[str, str, str], ...] = (
    ("at_risk_customers", noop("Customers at risk (overdue, not lost)"), "count"),
    ("at_risk_revenue_365", noop("Their revenue over the last 365 days"), "money"),
    ("vip_customers", noop("VIP customers"), "count"),
    ("vip_revenue_share_365", noop("VIP share of revenue, last 365 days"), "rate"),
)


def _action_lines(actions: Mapping[str, Any], style: Style = ENGLISH) -> list[tuple[str, str]]:
    lines = [(style.gettext(label), format_value(actions[key], kind, style=style))
             for key, label, kind in ACTION_LABELS]
    levels = actions["customers_per_level"]
    lines += [(style.gettext("Loyalty level %(level)s: %(name)s") % {"level": 5 - i, "name": style.word(name)},
               style.digits(f"{count:,}")) for i, (name, count) in enumerate(levels.items())]
    return lines


def kpis_markdown(document: Mapping[str, Any], views: KpiViews, *, style: Style = ENGLISH) -> str:
    """The ``kpis`` document as GitHub Markdown: period, KPI groups, actions, data quality,
    notes. Every text put in it goes through :func:`~retainkit.safe_text.md_text` (a file
    name or a note from the data makes no tag, link or cell break)."""
    md = md_text
    period = document["period"]
    words = {key: md(style.gettext(text)) for key, text in (
        ("value", noop("Value")), ("act", noop("Act on this")), ("quality", noop("Data quality")),
        ("rows", noop("Rows")), ("amount", noop("Amount")), ("notes", noop("Notes")))}
    title = style.gettext("Retention KPIs, %(start)s to %(end)s") % {"start": style.date(period["from"]),
                                                                     "end": style.date(period["to"])}
    lines = [f"# {md(title)}", ""]
    lines.append(md(style.gettext("Churn window: %(days)s days (current %(current)s, base %(base)s).") % {
        "days": period["churn_window_days"], "current": _span(period["current_window"], style),
        "base": _span(period["base_window"], style)}))
    for group, items in views.items():
        lines += ["", f"## {md(style.word(group))}", "", f"| KPI | {words['value']} |", "|---|---:|"]
        lines += [f"| {md(style.word(label))} | {md(format_value(document['metrics'][key], kind, style=style))} |"
                  for key, label, kind in items]
    if document.get("act_on_this"):
        lines += ["", f"## {words['act']}", "", "| | |", "|---|---:|"]
        lines += [f"| {md(label)} | {md(value)} |" for label, value in _action_lines(document["act_on_this"], style)]
    lines += ["", f"## {words['quality']}", "", f"| | {words['rows']} | {words['amount']} |", "|---|---:|---:|"]
    for label, rows, amount in quality_rows(document["data_quality"], style=style):
        lines.append(f"| {md(label)} | {md(rows)} | {md(amount)} |")
    notes = all_notes(document)
    if notes:
        lines += ["", f"## {words['notes']}", ""] + [f"- {md(style.note(note), line_start=True)}" for note in notes]
    return "\n".join(lines) + "\n"


def kpis_table(document: Mapping[str, Any], views: KpiViews, *, style: Style = ENGLISH):
    """Rich renderable: the period, the four KPI groups, what to act on and data quality,
    as label/value lines that fit the width they are printed at (values never cut), in the
    language of ``style``."""
    from rich.console import Group
    from rich.text import Text

    from retainkit.render_width import pairs_table

    period = document["period"]
    head = Text.assemble(
        (style.gettext("Retention KPIs") + " ", "bold"),
        (f"{style.date(period['from'])} → {style.date(period['to'])}", "bold cyan"),
        "  (" + style.gettext("%(days)s days") % {"days": period["days"]} + ")\n",
        style.gettext("Churn window %(days)s days") % {"days": period["churn_window_days"]} + "\n",
        "  " + style.gettext("current %(current)s, base %(base)s") % {
            "current": _span(period["current_window"], style), "base": _span(period["base_window"], style)},
    )
    parts: list[Any] = [head]
    metrics = document["metrics"]
    for group, items in views.items():
        rows = [(style.word(label), Text(format_value(metrics[key], kind, style=style),
                                         style="bold red" if kind == "alert" and metrics[key] else ""))
                for key, label, kind in items]
        parts.append(pairs_table(style.word(group), rows))
    if document.get("act_on_this"):
        parts.append(pairs_table(style.gettext("Act on this"), _action_lines(document["act_on_this"], style)))
    parts.append(quality_table(document["data_quality"], style=style))
    parts += [Text(style.gettext("note: %(note)s") % {"note": visible(style.note(note), newlines=True)}, style="yellow")
              for note in all_notes(document)]
    return Visible(Group(*parts))


def _span(window: Mapping[str, str], style: Style = ENGLISH) -> str:
    return f"{style.date(window['from'])}..{style.date(window['to'])}"


