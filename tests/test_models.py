"""SPEC §6: the summary, BG/NBD and Gamma-Gamma against the published CDNOW fits."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import special

from retainkit.models.bgnbd import (
    BgNbdParams,
    expected_purchases,
    expected_purchases_new,
    fit_bgnbd,
    probability_alive,
    probability_no_purchase,
)
from retainkit.models.gammagamma import GammaGammaParams, expected_order_value
from retainkit.models.predict import PredictOptions, clv
from retainkit.models.summary import summarise
from retainkit.periods import day_number
from tests.conftest import DATA, need, orders_frame, run_cli, write_csv

PUBLISHED = BgNbdParams(0.243, 4.414, 0.793, 2.426)


def sig3(value: float, expected: float) -> bool:
    return f"{value:.3g}" == f"{expected:.3g}"


# ---------------------------------------------------------------- the summary


def test_summary_counts_purchase_days_and_nets_refunds():
    rows = [
        ("a", "2024-01-01", 10), ("a", "2024-01-01", 5),     # same day: one purchase day
        ("a", "2024-01-15", 30), ("a", "2024-01-16", -10, True),  # refund netted on the 15th
        ("a", "2024-01-29", 20),
        ("b", "2024-01-08", 40),                             # one-time buyer
        ("c", "2024-01-20", 5), ("c", "2024-01-22", -9, True), ("c", "2024-01-25", 3),
    ]
    s = summarise(orders_frame(rows), end_day=day_number(date(2024, 2, 12)), time_unit_days=7).frame
    s = s.set_index("customer_id")
    assert s.loc["a", "frequency"] == 2 and s.loc["a", "recency"] == 4.0 and s.loc["a", "T"] == 6.0
    assert s.loc["a", "monetary_value"] == ((30 - 10) + 20) / 2  # repeat days only; the first day is not counted
    assert (s.loc["b", "frequency"], s.loc["b", "recency"]) == (0, 0.0) and np.isnan(s.loc["b", "monetary_value"])
    assert s.loc["b", "T"] == 5.0
    assert s.loc["c", "monetary_value"] == 3.0  # the refund on the 22nd belongs to the 20th, the first day


def test_summary_ignores_purchases_after_the_end_and_time_units():
    rows = [("a", "2024-01-01", 1), ("a", "2024-01-11", 1), ("a", "2024-03-01", 1)]
    s = summarise(orders_frame(rows), end_day=day_number(date(2024, 1, 31)), time_unit_days=1).frame
    assert s[["frequency", "recency", "T"]].values.tolist() == [[1, 10.0, 30.0]]


# ---------------------------------------------------------------- BG/NBD


def test_published_figures_with_fixed_parameters():
    assert round(probability_no_purchase(PUBLISHED, 39), 7) == 0.5737864
    assert round(float(expected_purchases(PUBLISHED, 39, np.array([2]), np.array([30.43]),
                                          np.array([38.86]))[0]), 3) == 1.226


def test_factorised_likelihood_equals_the_direct_one():
    from retainkit.models.bgnbd import _Factorised, log_likelihood

    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fast = _Factorised(x, t_x, T, np.ones(len(x))).log_likelihood(0.3, 5.0, 0.8, 2.0)
    assert fast == pytest.approx(float(log_likelihood(BgNbdParams(0.3, 5.0, 0.8, 2.0), x, t_x, T).sum()), rel=1e-12)


def test_fit_on_the_published_summary():
    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    fit = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    assert sig3(fit.r, 0.2426) and sig3(fit.alpha, 4.4136) and sig3(fit.a, 0.7929) and sig3(fit.b, 2.4259)
    assert round(fit.log_likelihood, 2) == -9582.43


def test_expected_purchases_match_the_textbook_formula_and_stay_finite():
    x, t_x, T = np.array([0.0, 1, 5, 20]), np.array([0.0, 10, 30, 35]), np.array([38.0, 38, 38, 38])
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    z = 39 / (alpha + T + 39)
    direct = ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + 39)) ** (r + x)
              * special.hyp2f1(r + x, b + x, a + b + x - 1, z))
              / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)))
    assert np.allclose(expected_purchases(PUBLISHED, 39, x, t_x, T), direct, rtol=1e-9)
    big = expected_purchases(PUBLISHED, 39, np.array([800.0, 800.0]), np.array([37.9, 5.0]), np.array([38.0, 38.0]))
    alive = probability_alive(PUBLISHED, np.array([800.0, 800.0]), np.array([37.9, 5.0]), np.array([38.0, 38.0]))
    assert np.isfinite(big).all() and big[0] > 100 and big[1] < 1e-6
    assert 0 <= alive[1] < 1e-6 < alive[0] <= 1


def test_new_customer_expectation_is_the_limit_of_the_conditional():
    t = 39.0
    assert float(expected_purchases_new(PUBLISHED, t)) == pytest.approx(
        float(expected_purchases(PUBLISHED, t, np.array([0.0]), np.array([0.0]), np.array([0.0]))[0]), rel=1e-9)


def test_too_few_repeat_buyers_is_a_clear_error(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\na,2024-01-01,5\nb,2024-01-02,5\nc,2024-02-02,5")
    run = run_cli("predict", path)
    assert run.code == 2
    assert run.stderr.strip() == ("retainkit: error: only 0 of 3 customers bought more than once: too few to fit "
                                  "BG/NBD — use a longer period (a later --to or --holdout) or more data")


def test_a_diverging_fit_is_a_clear_error(tmp_path):
    # Everyone buys at one steady rate and nobody drops out: the likelihood has no interior
    # maximum (r, α → ∞ at a fixed ratio, a → 0), so the fit must say so and what to try.
    rng = np.random.default_rng(3)
    rows = ["customer_id,order_date,amount"]
    for i in range(300):
        first = int(rng.integers(0, 200))
        rows.append(f"c{i},{date.fromordinal(date(2023, 1, 1).toordinal() + first)},25")
        for _ in range(int(rng.poisson(1.5))):
            later = first + int(rng.integers(1, 400 - first + 200))
            rows.append(f"c{i},{date.fromordinal(date(2023, 1, 1).toordinal() + later)},0")
    run = run_cli("predict", write_csv(tmp_path / "x.csv", "\n".join(rows)))
    assert run.code == 2 and len(run.stderr.splitlines()) == 1
    assert "BG/NBD" in run.stderr and "--penalizer" in run.stderr and "Traceback" not in run.stderr


def test_spend_that_nets_to_zero_is_a_clear_error(tmp_path):
    # CDNOW's purchases (BG/NBD fits them) with every repeat purchase worth nothing.
    sample = pd.read_csv(need(DATA / "cdnow" / "cdnow_sample.csv"), dtype={"customer_id": str})
    first = ~sample.duplicated("customer_id")
    sample.loc[~first, "dollar_value"] = 0.0
    path = tmp_path / "zero.csv"
    sample.to_csv(path, index=False)
    run = run_cli("predict", path, "--amount", "dollar_value", "--holdout", "1997-10-01")
    assert run.code == 2, run.stderr
    assert run.stderr.strip() == (
        "retainkit: error: 0 repeat buyers with a positive mean order value: too few to fit the spend model "
        "— check the amount column (refunds net to ≤ 0?) or use a longer period")


# ---------------------------------------------------------------- Gamma-Gamma and CLV


def test_expected_order_value():
    gg = GammaGammaParams(6.25, 3.74, 15.44)
    value = expected_order_value(gg, np.array([2.0, 0.0]), np.array([30.0, np.nan]))
    assert value[0] == pytest.approx(6.25 * (15.44 + 2 * 30) / (6.25 * 2 + 3.74 - 1))
    assert value[1] == pytest.approx(6.25 * 15.44 / 2.74)  # population mean without repeat purchases


def test_clv_discounts_each_month():
    x, t_x, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    one_month = PredictOptions(horizon_days=30.4375, discount_rate=0.12)
    expected = float(expected_purchases(PUBLISHED, 30.4375 / 7, x, t_x, T)[0])
    assert clv(PUBLISHED, np.array([50.0]), x, t_x, T, one_month)[0] == pytest.approx(expected * 50 / 1.01)
    two = PredictOptions(horizon_days=2 * 30.4375, discount_rate=0.0, margin=0.5)
    total = float(expected_purchases(PUBLISHED, 2 * 30.4375 / 7, x, t_x, T)[0])
    assert clv(PUBLISHED, np.array([50.0]), x, t_x, T, two)[0] == pytest.approx(total * 50 * 0.5)


# ---------------------------------------------------------------- CDNOW through the command line


@pytest.mark.slow
def test_cdnow_calibration_reproduces_the_published_fits():
    path = need(DATA / "cdnow" / "cdnow_sample.csv")
    run = run_cli("predict", path, "--amount", "dollar_value", "--holdout", "1997-10-01", "--format", "json",
                  "--top", "3")
    assert run.code == 0, run.stderr
    document = run.json()
    bg, gg = document["bgnbd"], document["gamma_gamma"]
    assert sig3(bg["r"], 0.2426) and sig3(bg["alpha"], 4.4136) and sig3(bg["a"], 0.7929) and sig3(bg["b"], 2.4259)
    assert round(bg["log_likelihood"], 2) == -9582.43 and bg["customers"] == 2357
    assert gg["customers"] == 946 and sig3(gg["p"], 6.25) and sig3(gg["q"], 3.74) and sig3(gg["gamma"], 15.44)
    holdout = document["holdout"]
    assert holdout["holdout_days"] == 273 and holdout["actual_total"] > 0
    assert [g["frequency"] for g in holdout["by_frequency"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g["customers"] for g in holdout["by_frequency"]) == 2357
    assert len(document["customers"]["rows"]) == 3
    table = run_cli("predict", path, "--amount", "dollar_value", "--holdout", "1997-10-01").stdout
    assert "0.2426, 4.4136" in table and "Holdout" in table


def test_predict_csv_export_and_bad_holdout(tmp_path):
    path = need(DATA / "cdnow" / "cdnow_sample.csv")
    run = run_cli("predict", path, "--amount", "dollar_value", "--format", "csv", "--top", "2")
    lines = run.stdout.splitlines()
    assert lines[0] == "customer_id,frequency,recency,T,monetary_value,p_alive,expected_purchases,expected_order_value,clv"
    assert len(lines) == 3
    assert run_cli("predict", path, "--amount", "dollar_value", "--holdout", "2001-01-01").code == 2


def test_prediction_totals_add_up_from_the_customer_rows():
    path = need(DATA / "cdnow" / "cdnow_sample.csv")
    document = run_cli("predict", path, "--amount", "dollar_value", "--format", "json").json()
    rows = [dict(zip(document["customers"]["columns"], r, strict=True)) for r in document["customers"]["rows"]]
    totals = document["totals"]
    assert totals["customers"] == len(rows) == 2357
    assert totals["expected_purchases"] == pytest.approx(sum(r["expected_purchases"] for r in rows), rel=1e-9)
    assert totals["expected_revenue"] == pytest.approx(
        sum(r["expected_purchases"] * r["expected_order_value"] for r in rows), rel=1e-9)
    assert totals["clv"] == pytest.approx(sum(r["clv"] for r in rows), rel=1e-9)
    assert all(0 <= r["p_alive"] <= 1 for r in rows)
    assert rows == sorted(rows, key=lambda r: -r["clv"])  # sorted by CLV by default
