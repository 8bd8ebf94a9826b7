"""``retainkit predict`` output: fitted parameters with their standard errors, totals with
their intervals, the scoreboard, the holdout check, the customer table, and the notes
saying why a column is null (SPEC §6, §7)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from retainkit.render import clean, format_value
from retainkit.render_frames import frame_records, frame_table
from retainkit.safe_text import Visible, visible

if TYPE_CHECKING:  # the output layer reads results; it does not import the library's modules
    from retainkit.models.predict import Prediction


def prediction_document(
    result: Prediction, customers: pd.DataFrame, *, quality: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document: the purchase model (name, parameters, standard errors), Gamma-Gamma
    (null without amounts), totals, intervals, the scoreboard, the holdout check, ``notes``
    (a list, empty when nothing needs saying), the data-quality record and the customers."""
    return clean({
        "schema_version": 2,
        "data_quality": quality,
        "purchase_model": result.model.as_dict(),
        "gamma_gamma": result.gamma_gamma.as_dict() if result.gamma_gamma else None,
        "totals": result.totals,
        "intervals": result.intervals,
        "scoreboard": result.scoreboard,
        "holdout": result.holdout,
        "notes": list(result.notes),
        "customers": {"columns": list(customers.columns), "rows": list(frame_records(customers))},
    })


def prediction_json(result: Prediction, customers: pd.DataFrame, *, quality: dict[str, Any] | None = None) -> str:
    """:func:`prediction_document` as one line of strict JSON (no NaN)."""
    document = prediction_document(result, customers, quality=quality)
    return json.dumps(document, ensure_ascii=False, allow_nan=False) + "\n"


TABLE_ROWS = 20  # customers a terminal shows


def prediction_table(result: Prediction, customers: pd.DataFrame, *, total: int | None = None):
    """Rich renderables that fit the width they are printed at: fitted models and totals,
    the holdout check, the customers, then one ``note:`` line per note. ``total``: how many
    customers there are when ``customers`` holds only the first (a table held by Spark)."""
    from rich.console import Group
    from rich.text import Text

    from retainkit.render_width import pairs_table

    parts: list[Any] = [pairs_table("Fitted models", _fit_lines(result), value_kind="wrap", min_width=None)]
    if result.scoreboard:
        parts.append(_scoreboard_table(result.scoreboard))
        parts.append(Text(result.scoreboard["verdict"]))
    if result.holdout:
        h = result.holdout
        parts.append(_holdout_table(h))
        parts.append(Text(f"Per customer: mean absolute error {h['mean_absolute_error']:.3f}, correlation "
                          f"{format_value(h['correlation'], 'number')}"))
    parts.append(frame_table(customers, title="Customers", limit=TABLE_ROWS, total=total))
    parts += [Text(f"note: {visible(note, newlines=True)}", style="yellow") for note in result.notes]
    return Visible(Group(*parts))


def _fit_lines(result: Prediction) -> list[tuple[str, str]]:
    """(label, value) of the fitted parameters (± standard error, and their interval) and the totals."""
    model = result.model.as_dict()
    errors, bands = model["standard_errors"] or {}, (result.intervals or {}).get("parameters", {})
    level = f"{result.intervals['level']:.0%}" if result.intervals else ""
    lines = []
    for name, value in model["parameters"].items():
        spread = f" ± {errors[name]:.4f}" if name in errors else ""
        band = f" ({level}: {bands[name][0]:.4f} to {bands[name][1]:.4f})" if name in bands else ""
        lines.append((f"{model['label']} {name}", f"{value:.4f}{spread}{band}"))
    lines.append((f"{model['label']} log-likelihood",
                  f"{model['log_likelihood']:,.2f} ({model['customers']:,} customers)"))
    if result.gamma_gamma:
        gg = result.gamma_gamma
        spend_errors = gg.standard_errors()
        shown = [f"{v:.4f}" + (f" ± {spend_errors[i]:.4f}" if spend_errors is not None else "")
                 for i, v in enumerate(gg.params)]
        lines += [("Gamma-Gamma p, q, γ", ", ".join(shown)),
                  ("Gamma-Gamma customers", f"{gg.customers:,} repeat buyers ({gg.left_out:,} with mean ≤ 0 left out)")]
    totals = result.totals
    lines += [(f"Expected repeat purchases, next {totals['horizon_days']:g} days",
               format_value(totals["expected_purchases"], "number") + _band(totals, "expected_purchases", "number")),
              ("Expected revenue", format_value(totals["expected_revenue"], "money")),
              ("CLV of the base (discounted)", format_value(totals["clv"], "money") + _band(totals, "clv", "money"))]
    return lines


def _band(totals: dict[str, Any], key: str, kind: str) -> str:
    """" (low to high)" when the totals hold an interval for ``key``."""
    if f"{key}_low" not in totals:
        return ""
    return f" ({format_value(totals[f'{key}_low'], kind)} to {format_value(totals[f'{key}_high'], kind)})"


def _scoreboard_table(board: dict[str, Any]):
    """Every model and the naive guess on the holdout: totals, errors per customer, tracking."""
    from retainkit.render_width import Col, FitTable

    columns = [Col("model", "Model"), Col("total", "Predicted", justify="right"),
               Col("mae", "MAE", justify="right"), Col("rmse", "RMSE", justify="right"),
               Col("tracking", "Tracking gap", justify="right")]
    rows = [(s["label"], f"{s['predicted_total']:,.1f}", f"{s['mean_absolute_error']:.3f}", f"{s['rmse']:.3f}",
             f"{s['tracking_error']:,.1f}") for s in board["scores"]]
    rows.append(("actual", f"{board['actual_total']:,}", "", "", ""))
    return FitTable(columns, rows, title=f"Scoreboard: {board['holdout_days']} days of holdout, "
                                         f"{board['customers']:,} customers")


def _holdout_table(h: dict[str, Any]):
    """Predicted against actual repeat purchases in the holdout, by purchases so far."""
    from retainkit.render_width import Col, FitTable

    columns = [Col("frequency", "Repeat purchases so far", justify="right"),
               Col("customers", "Customers", justify="right"),
               Col("predicted_mean", "Predicted (mean)", justify="right"),
               Col("actual_mean", "Actual (mean)", justify="right")]
    rows = [(str(g["frequency"]), f"{g['customers']:,}", f"{g['predicted_mean']:.3f}", f"{g['actual_mean']:.3f}")
            for g in h["by_frequency"]]
    rows.append(("all", "", f"{h['predicted_total']:,.1f} total", f"{h['actual_total']:,} total"))
    return FitTable(columns, rows, title=f"Holdout: {h['holdout_days']} days after calibration")
