"""SPEC §6: the summary, BG/NBD and Gamma-Gamma against the published CDNOW fits."""

from __future__ import annotations

import math
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
from retainkit.models.catalogue import MODELS
from retainkit.models.gammagamma import GammaGammaParams, expected_order_value
from retainkit.models.predict import NO_AMOUNTS, PredictOptions, clv
from retainkit.models.summary import summarise
from retainkit.models.transaction import Fit
from retainkit.periods import day_number
from retainkit.pipeline import read_orders, resolve_period
from tests.conftest import (
    DATA,
    GOLDEN,
    ROOT,
    TEN_CUSTOMERS,
    TEN_CUSTOMERS_WITHOUT_AMOUNTS,
    need,
    orders_frame,
    run_cli,
    write_csv,
)

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


def test_summary_counts_calendar_days_not_orders_nor_hours(tmp_path):
    # SPEC §6: frequency = distinct purchase days − 1; recency = first → last purchase day;
    # T = first purchase day → `to`. Worked by hand, in days (--time-unit 1):
    #   a: 2024-03-01 (00:05, 00:11 and 23:50: one day), 03-02 00:04 (a new day, 14 min later),
    #      03-11, and a refund alone on 03-20 (not a purchase day)
    #      → purchase days 03-01, 03-02, 03-11: frequency 2, recency 10, T 31-03 − 03-01 = 30
    #      → repeat days' values (25 + 40 − 15) / 2 = 25 (the refund nets on 03-11)
    #   b: two orders six minutes apart on 03-05 → frequency 0, recency 0, T 26
    path = write_csv(tmp_path / "orders.csv", """
customer_id,order_date,amount
a,2024-03-01 00:05,10
a,2024-03-01 00:11,5
a,2024-03-01 23:50,7
a,2024-03-02 00:04,25
a,2024-03-11 12:00,40
a,2024-03-20 09:00,-15
b,2024-03-05 10:00,30
b,2024-03-05 10:06,30
""")
    summary = summarise(read_orders(str(path)).orders, end_day=day_number(date(2024, 3, 31)), time_unit_days=1)
    rows = summary.frame.set_index("customer_id")[["frequency", "recency", "T", "monetary_value"]]
    assert rows.loc["a"].tolist() == [2, 10.0, 30.0, 25.0]
    assert rows.loc["b"].iloc[:3].tolist() == [0, 0.0, 26.0] and np.isnan(rows.loc["b", "monetary_value"])
    assert summary.has_amounts and summary.unplaced_refunds == 0


def test_summary_before_1970_keeps_customers_and_days_apart():
    # Day numbers are negative before 1970-01-01; each (customer, day) key must decode back.
    rows = [("a", "1969-12-20", 1), ("a", "1969-12-20", 2), ("a", "1970-01-03", 3), ("b", "1969-12-30", 4)]
    s = summarise(orders_frame(rows), end_day=day_number(date(1970, 1, 10)), time_unit_days=1).frame
    assert s[["customer_id", "frequency", "recency", "T", "monetary_value"]].fillna(-1).values.tolist() == [
        ["a", 1, 14.0, 21.0, 3.0], ["b", 0, 0.0, 11.0, -1]]


def test_summary_without_amounts_has_no_monetary_value():
    frame = orders_frame([("a", "2024-01-01", 0), ("a", "2024-01-08", 0), ("b", "2024-01-03", 0)])
    summary = summarise(frame.drop(columns="amount"), end_day=day_number(date(2024, 1, 15)), time_unit_days=7)
    assert not summary.has_amounts and summary.frame["monetary_value"].isna().all()
    assert summary.frame["frequency"].tolist() == [1, 0]


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
    from retainkit.models.bgnbd import Factorised, log_likelihood

    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fast = Factorised(x, t_x, T, np.ones(len(x))).log_likelihood(0.3, 5.0, 0.8, 2.0)
    assert fast == pytest.approx(float(log_likelihood(BgNbdParams(0.3, 5.0, 0.8, 2.0), x, t_x, T).sum()), rel=1e-12)


def test_fit_on_the_published_summary():
    from retainkit.models.bgnbd import Factorised

    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fit = fit_bgnbd(x, t_x, T)
    assert sig3(fit.r, 0.2426) and sig3(fit.alpha, 4.4136) and sig3(fit.a, 0.7929) and sig3(fit.b, 2.4259)
    assert round(fit.log_likelihood, 2) == -9582.43
    # This summary's recency and T are rounded to 0.01 week, which moves the maximum to
    # α 4.41353, b 2.42575 (lifetimes reports the same): a true maximum — flat gradient, and a
    # likelihood at least that of the paper's figures, which were fit on exact days.
    terms = Factorised(x, t_x, T, np.ones(len(x)))
    ll, gradient = terms.log_likelihood_and_gradient(fit.r, fit.alpha, fit.a, fit.b)
    assert [round(v, 4) for v in (fit.r, fit.alpha, fit.a, fit.b)] == [0.2426, 4.4135, 0.7929, 2.4258]
    assert np.abs(gradient).max() / len(x) < 1e-7
    assert ll >= terms.log_likelihood(0.2426, 4.4136, 0.7929, 2.4259)


def test_analytic_gradients_equal_finite_differences():
    from scipy import optimize

    from retainkit.models.bgnbd import Factorised
    from retainkit.models.gammagamma import _SpendTerms

    rng = np.random.default_rng(7)
    x = rng.integers(0, 9, 400).astype(float)
    T = rng.uniform(10, 40, 400).round(2)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 400), 0).round(2)
    terms = Factorised(x, t_x, T, rng.integers(1, 4, 400).astype(float))
    for params in ([0.3, 5.0, 0.8, 2.0], [2.0, 80.0, 3.0, 15.0], [0.05, 0.5, 0.2, 40.0]):
        theta = np.log(params)
        numeric = optimize.approx_fprime(theta, lambda z: terms.log_likelihood(*np.exp(z)), 1e-7)
        assert np.allclose(terms.log_likelihood_and_gradient(*params)[1], numeric, rtol=1e-5, atol=1e-4)
    spend = _SpendTerms(x[x > 0], rng.gamma(2.0, 20.0, int((x > 0).sum())))
    for params in ([6.25, 3.74, 15.44], [1.0, 1.0, 30.0]):
        numeric = optimize.approx_fprime(np.log(params), lambda z: spend.log_likelihood_and_gradient(*np.exp(z))[0],
                                         1e-7)
        assert np.allclose(spend.log_likelihood_and_gradient(*params)[1], numeric, rtol=1e-5, atol=1e-4)


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


def _steady_buyers(rows: int = 300) -> str:
    """Everyone buys at one steady rate and nobody drops out; no amounts."""
    rng = np.random.default_rng(3)
    lines = ["customer_id,order_date"]
    for i in range(rows):
        first = int(rng.integers(0, 200))
        lines.append(f"c{i},{date.fromordinal(date(2023, 1, 1).toordinal() + first)}")
        for _ in range(int(rng.poisson(1.5))):
            later = first + int(rng.integers(1, 400 - first + 200))
            lines.append(f"c{i},{date.fromordinal(date(2023, 1, 1).toordinal() + later)}")
    return "\n".join(lines)


def _sane(document: dict) -> None:
    rows = _rows(document).values()
    assert rows and all(0 <= r["p_alive"] <= 1 for r in rows)
    assert all(np.isfinite(r["expected_purchases"]) and r["expected_purchases"] >= 0 for r in rows)
    assert all(r["clv"] is None or (np.isfinite(r["clv"]) and r["clv"] >= 0) for r in rows)
    assert np.isfinite(document["totals"]["expected_purchases"])


def test_a_purchase_model_without_a_maximum_is_fitted_at_its_limit(tmp_path):
    # Everyone buys at one steady rate and (almost) nobody drops out: the likelihood has no
    # interior maximum (r, α → ∞ at a fixed ratio: the Gamma of rates collapses to one). The
    # fit is held where it runs to — the limit model — and the output says which limit, in
    # JSON and under the table.
    path = write_csv(tmp_path / "x.csv", _steady_buyers())
    run = run_cli("predict", path, "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    _sane(document)
    bg = document["purchase_model"]["parameters"]
    assert bg["r"] == pytest.approx(1e4) and bg["a"] / (bg["a"] + bg["b"]) < 0.01
    assert 0.01 < bg["r"] / bg["alpha"] < 0.03  # the one rate: purchases per week, as in the data
    # (It may reach the limit of one dropout chance for all too: b held at 10⁶, said in the same note.)
    assert document["notes"][0].startswith("the purchase model (BG/NBD) is fitted at a limit: its likelihood has no "
                                           "maximum on this data but keeps rising toward one purchase rate for every "
                                           "customer")
    assert "r held at 10,000" in document["notes"][0]
    assert document["notes"][-1] == NO_AMOUNTS
    table = run_cli("predict", path)
    assert table.code == 0 and "note: the purchase model (BG/NBD) is fitted at a limit" in " ".join(table.stdout.split())


def test_a_fit_where_everyone_drops_out_alike_is_held_at_that_limit(tmp_path):
    # Ten customers whose dropout after a purchase looks the same for all: the likelihood
    # rises without end as a, b → ∞ at a fixed ratio — a hand-made export the model cannot
    # identify. It gets the limit (one dropout chance for all) and says so.
    run = run_cli("predict", write_csv(tmp_path / "x.csv", TEN_CUSTOMERS), "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    _sane(document)
    bg = document["purchase_model"]["parameters"]
    assert bg["b"] == pytest.approx(1e6) and 0.2 < bg["a"] / (bg["a"] + bg["b"]) < 0.22
    assert document["notes"][0] == ("the purchase model (BG/NBD) is fitted at a limit: its likelihood has no maximum "
                                    "on this data but keeps rising toward one dropout chance after a purchase, "
                                    "21.0%, for every customer (b held at 1,000,000)")
    assert "Gamma-Gamma" in document["notes"][1]  # ten customers cannot pin spend down either
    rows = _rows(document)
    assert rows["a"]["p_alive"] < 0.01 and rows["c"]["p_alive"] == 1.0 and rows["b"]["p_alive"] > 0.5
    table = run_cli("predict", write_csv(tmp_path / "x.csv", TEN_CUSTOMERS))
    assert table.code == 0 and table.stdout.count("note: ") == 2, table.stdout


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


# ---------------------------------------------------------------- without amounts



def _rows(document: dict) -> dict[str, dict]:
    columns = document["customers"]["columns"]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in document["customers"]["rows"]}


def test_predict_without_amounts_runs_the_purchase_model(tmp_path):
    # Issue 8 item 7: no amount column (nor quantity × price) → BG/NBD alone; spend and CLV
    # null with a note saying why, in JSON, table and csv. (--penalizer: an interior fit,
    # without the notes of a fit at a limit, see the tests above.)
    with_amounts, without = write_csv(tmp_path / "a.csv", TEN_CUSTOMERS), write_csv(tmp_path / "b.csv", TEN_CUSTOMERS_WITHOUT_AMOUNTS)
    options = ("--penalizer", "0.01", "--format", "json")
    run = run_cli("predict", without, *options)
    assert run.code == 0, run.stderr
    document, reference = run.json(), run_cli("predict", with_amounts, *options).json()
    assert document["notes"] == [NO_AMOUNTS] and reference["notes"] == []
    assert "--amount" in NO_AMOUNTS and "amount column" in NO_AMOUNTS
    assert document["gamma_gamma"] is None and document["purchase_model"] == reference["purchase_model"]
    assert document["totals"]["expected_revenue"] is None and document["totals"]["clv"] is None
    assert document["totals"]["expected_purchases"] == reference["totals"]["expected_purchases"]
    rows, expected = _rows(document), _rows(reference)
    assert len(rows) == 10 and rows.keys() == expected.keys()
    for customer, row in rows.items():
        assert row["monetary_value"] is None and row["expected_order_value"] is None and row["clv"] is None
        assert (row["p_alive"], row["expected_purchases"]) == (expected[customer]["p_alive"],
                                                                expected[customer]["expected_purchases"])
        assert expected[customer]["clv"] is not None
    # Hand-checkable shape: a (weekly for a month, gone for 11 months) is almost surely
    # lost; c (one order, never a repeat) is alive by the model's definition.
    assert rows["a"]["p_alive"] < 0.01 and rows["c"]["p_alive"] == 1.0 and rows["b"]["p_alive"] > 0.5

    table = run_cli("predict", without, "--penalizer", "0.01")
    assert table.code == 0 and "note: expected_order_value and clv are null" in " ".join(table.stdout.split())
    csv = run_cli("predict", without, "--penalizer", "0.01", "--format", "csv").stdout.splitlines()
    assert "monetary_value,p_alive,expected_purchases,expected_order_value,clv,value_if_alive" in csv[0]
    cells = [line.split(",") for line in csv[1:]]
    assert len(cells) == 10 and all(c[4] == c[7] == c[8] == "" and c[5] and c[6] for c in cells)
    holdout = run_cli("predict", without, "--penalizer", "0.01", "--holdout", "2024-07-01", "--format", "json")
    assert holdout.code == 0 and holdout.json()["notes"] == [NO_AMOUNTS] and holdout.json()["holdout"]
    # Without amounts the customers come by expected purchases (CLV is null for all), with the
    # export's data-quality record beside them.
    purchases = [row["expected_purchases"] for row in _rows(document).values()]
    assert purchases == sorted(purchases, reverse=True)
    assert document["data_quality"]["rows"] > 0 and document["data_quality"]["has_amount"] is False


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
    fit = Fit(MODELS["bgnbd"], np.array([PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b]), math.nan, 1)
    assert clv(fit, np.array([50.0]), x, t_x, T, one_month)[0] == pytest.approx(expected * 50 / 1.01)
    two = PredictOptions(horizon_days=2 * 30.4375, discount_rate=0.0, margin=0.5)
    total = float(expected_purchases(PUBLISHED, 2 * 30.4375 / 7, x, t_x, T)[0])
    assert clv(fit, np.array([50.0]), x, t_x, T, two)[0] == pytest.approx(total * 50 * 0.5)


# ---------------------------------------------------------------- CDNOW through the command line


@pytest.mark.slow
def test_cdnow_calibration_reproduces_the_published_fits():
    path = need(DATA / "cdnow" / "cdnow_sample.csv")
    run = run_cli("predict", path, "--amount", "dollar_value", "--holdout", "1997-10-01", "--format", "json",
                  "--top", "3")
    assert run.code == 0, run.stderr
    document = run.json()
    bg, gg = document["purchase_model"]["parameters"], document["gamma_gamma"]
    # Fader, Hardie & Lee (2005): r 0.2426, α 4.4136, a 0.7929, b 2.4259, LL −9582.43 — to 4 decimals.
    assert [round(bg[k], 4) for k in ("r", "alpha", "a", "b")] == [0.2426, 4.4136, 0.7929, 2.4259]
    model = document["purchase_model"]
    assert round(model["log_likelihood"], 2) == -9582.43 and model["customers"] == 2357
    assert document["notes"] == []
    assert gg["customers"] == 946 and sig3(gg["p"], 6.25) and sig3(gg["q"], 3.74) and sig3(gg["gamma"], 15.44)
    holdout = document["holdout"]
    assert holdout["holdout_days"] == 273 and holdout["actual_total"] > 0
    assert holdout["calibration_end"] == "1997-09-30"  # the day before --holdout, an ISO date (SPEC §7)
    assert [g["frequency"] for g in holdout["by_frequency"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g["customers"] for g in holdout["by_frequency"]) == 2357
    assert len(document["customers"]["rows"]) == 3
    table = run_cli("predict", path, "--amount", "dollar_value", "--holdout", "1997-10-01").stdout
    assert all(f"{value} ± " in table for value in ("0.2426", "4.4136", "0.7929", "2.4259")) and "Holdout" in table
    # The same purchases read without their amounts: the same purchase model, no spend.
    bare = run_cli("predict", path, "--holdout", "1997-10-01", "--format", "json", "--sort", "customer_id")
    assert bare.code == 0, bare.stderr
    assert [round(bare.json()["purchase_model"]["parameters"][k], 4) for k in ("r", "alpha", "a", "b")] == [0.2426, 4.4136, 0.7929, 2.4259]
    assert bare.json()["gamma_gamma"] is None and bare.json()["notes"] == [NO_AMOUNTS]


def test_predict_csv_export_and_bad_holdout(tmp_path):
    path = need(DATA / "cdnow" / "cdnow_sample.csv")
    run = run_cli("predict", path, "--amount", "dollar_value", "--format", "csv", "--top", "2")
    lines = run.stdout.splitlines()
    assert lines[0] == ("customer_id,frequency,purchase_span_days,age_days,monetary_value,p_alive,expected_purchases,"
                        "expected_order_value,clv,value_if_alive,expected_purchases_low,expected_purchases_high,"
                        "p_alive_low,p_alive_high,clv_low,clv_high")
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


# ---------------------------------------------------------------- the bundled shop and fits at a limit

EXAMPLE = ROOT / "examples" / "orders.csv"


def test_the_readme_predict_runs_on_the_bundled_shop():
    # Issue 11 item 7: a user's first try, `retainkit predict examples/orders.csv`, without
    # --penalizer. The shop's customers differ in how often they buy and when they leave, but
    # not in what an order is worth (make_orders.py draws every order from one product list):
    # Gamma-Gamma's likelihood rises without end as q, γ → ∞, so spend is fitted at that limit,
    # said in a note — and BG/NBD, which has a maximum, gets no note.
    run = run_cli("predict", EXAMPLE, "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    _sane(document)
    gg, bg = document["gamma_gamma"], document["purchase_model"]["parameters"]
    assert gg["q"] == pytest.approx(1e4) and 1.4 < gg["p"] < 1.6
    assert len(document["notes"]) == 1 and document["notes"][0].startswith(
        "the spend model (Gamma-Gamma) is fitted at a limit: its likelihood has no maximum on this data but keeps "
        "rising toward average order values that differ between customers only by chance (q held at 10,000), so "
        "every expected order value is close to the shop's mean, ")
    assert [round(bg[k], 2) for k in ("r", "alpha", "a", "b")] == [0.53, 3.70, 1.16, 9.12]
    values = [row["expected_order_value"] for row in _rows(document).values()]
    mean = gg["p"] * gg["gamma"] / (gg["q"] - 1)
    assert all(abs(v / mean - 1) < 0.05 for v in values)  # the shop's mean, give or take 5 %
    assert 1_500 < document["totals"]["expected_purchases"] < 2_200  # ≈ the last year's 1,900 repeat purchase days
    table = run_cli("predict", EXAMPLE)
    assert table.code == 0 and table.stderr == ""
    assert "note: the spend model (Gamma-Gamma) is fitted at a limit" in " ".join(table.stdout.split())


def test_the_spend_limit_is_the_maximum_of_the_limit_model():
    # At the limit q → ∞ (γ/q fixed) every customer's spend rate ν is one value: the mean of
    # x purchases is Gamma(px, νx). The maximum likelihood of that two-parameter model,
    # fitted directly on the bundled shop, is what the held fit reaches.
    from scipy import optimize

    from retainkit.models.gammagamma import fit_gamma_gamma

    data = read_orders(str(EXAMPLE))
    frame = summarise(data.orders, end_day=resolve_period(data.orders).end_day).frame
    x, mean = frame["frequency"].to_numpy(float), frame["monetary_value"].to_numpy(float)
    fit = fit_gamma_gamma(x, mean)
    assert fit.q == pytest.approx(1e4) and "(q held at 10,000)" in fit.note
    usable = (x > 0) & (mean > 0)
    x, mean = x[usable], mean[usable]

    def minus(theta):
        p, nu = np.exp(theta)
        return -float(np.sum(special.xlogy(p * x, nu * x) + special.xlogy(p * x - 1, mean) - nu * x * mean
                             - special.gammaln(p * x)))

    limit = optimize.minimize(minus, np.log([1.0, 0.01]), method="Nelder-Mead",
                              options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    p, nu = np.exp(limit.x)
    # q = 10,000 is the limit to 0.1 %: spend rates that differ by 1 % (CV = 1/√q)
    assert fit.p == pytest.approx(p, rel=2e-3) and fit.q / fit.gamma == pytest.approx(nu, rel=2e-3)
    assert fit.log_likelihood == pytest.approx(-limit.fun, abs=0.05)


def test_a_ridge_shows_in_the_hessian():
    # On CDNOW the flattest direction still costs the likelihood far more than chance would
    # allow for a tenfold change; on the example shop's spend, a point out along q, γ → ∞ has
    # a direction that costs nothing.
    from retainkit.models.bgnbd import Factorised
    from retainkit.models.fitting import ridge
    from retainkit.models.gammagamma import _SpendTerms

    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    terms = Factorised(x, t_x, T, np.ones(len(x)))

    def per_customer(theta):
        ll, gradient = terms.log_likelihood_and_gradient(*np.exp(theta))
        return -ll / len(x), -gradient / len(x)

    assert not ridge(per_customer, np.log([0.2426, 4.4135, 0.7929, 2.4258]), len(x))
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 6, 500).astype(float)
    spend = _SpendTerms(counts, rng.gamma(3.0 * counts, 1.0) / (counts * 0.03))

    def spend_per_customer(theta):
        ll, gradient = spend.log_likelihood_and_gradient(*np.exp(theta))
        return -ll / 500, -gradient / 500

    assert ridge(spend_per_customer, np.log([3.0, 1e3, 1e3 / 0.03]), 500)


@pytest.mark.parametrize("params", [
    BgNbdParams(1.0, 5.0, 100.0, 100.0),      # a plain mix over a century: SciPy's ₂F₁ is NaN
    BgNbdParams(0.21, 0.71, 2.66e5, 1e6),      # dropout held at one chance (the ten customers)
    BgNbdParams(1e4, 5.7e4, 1e-6, 1.1e5),      # one rate, nobody drops out
    BgNbdParams(0.6, 5.5, 1e-6, 1.4e-5),       # never or at once
    BgNbdParams(0.243, 4.414, 0.793, 2.426),   # CDNOW: the closed form, which the quadrature matches
])
def test_expected_purchases_are_finite_and_within_their_bounds(params):
    from retainkit.models import expectation

    x, t_x, T = np.array([0.0, 1, 10, 100]), np.array([0.0, 30, 50, 59]), np.array([60.0, 60, 60, 60])
    for t in (1.0, 52.0, 5218.0):  # a week, a year, a century
        value = expected_purchases(params, t, x, t_x, T)
        alive = probability_alive(params, x, t_x, T)
        low, high = expectation.bounds(np.asarray(params.a), params.b + x, params.r + x, t / (params.alpha + T))
        assert np.isfinite(value).all() and (value >= 0).all()
        assert (value <= high * alive * (1 + 1e-9)).all() and (value >= low * alive * (1 - 1e-9)).all()
        by_quadrature = expectation.mean_over_dropout(params.a, params.b + x, params.r + x,
                                                      t / (params.alpha + T)) * alive
        assert value == pytest.approx(by_quadrature, rel=1e-6)


# ---------------------------------------------------------------- horizon and the other model options


def test_the_horizon_is_bounded_on_the_command_line(tmp_path):
    from retainkit.cli_options import RANGES
    from retainkit.models.predict import MAX_HORIZON_DAYS

    assert RANGES["horizon"] == (1, MAX_HORIZON_DAYS) and MAX_HORIZON_DAYS == 36_525  # 100 years, 1,200 months
    path = write_csv(tmp_path / "x.csv", TEN_CUSTOMERS)
    for value, problem in [("1e9", "is out of range: from 1 to 36525"), ("36526", "is out of range: from 1 to 36525"),
                           ("0", "is out of range"), ("inf", "is not a finite number"),
                           ("nan", "is not a finite number")]:
        run = run_cli("predict", path, "--horizon", value)
        assert run.code == 2 and len(run.stderr.splitlines()) == 1, (value, run.stderr)
        assert run.stderr.startswith("retainkit: error: --horizon ") and problem in run.stderr, run.stderr
    century = run_cli("predict", path, "--horizon", "36525", "--format", "json")
    assert century.code == 0, century.stderr
    _sane(century.json())
    assert century.json()["totals"]["horizon_days"] == 36_525


@pytest.mark.parametrize("horizon", [math.inf, -math.inf, math.nan, 1e9, 36_525.5, 0.5, 0.0, -7.0])
def test_the_library_refuses_a_horizon_out_of_range(horizon):
    from retainkit.errors import RetainkitError
    from retainkit.models.predict import predict
    from retainkit.pipeline import prediction_report

    data = read_orders(str(EXAMPLE))
    with pytest.raises(RetainkitError, match="--horizon"):
        prediction_report(data, horizon_days=horizon)
    summary = summarise(data.orders, end_day=day_number(date(2024, 12, 31)))
    with pytest.raises(RetainkitError, match="--horizon"):
        predict(summary, PredictOptions(horizon_days=horizon))


@pytest.mark.parametrize(("option", "value"), [("time_unit_days", math.inf), ("time_unit_days", 0.0),
                                               ("discount_rate", math.nan), ("discount_rate", -0.1),
                                               ("margin", 1.5), ("penalizer", -1.0)])
def test_the_library_refuses_other_options_out_of_range(option, value):
    from retainkit.errors import RetainkitError
    from retainkit.pipeline import prediction_report

    with pytest.raises(RetainkitError):
        prediction_report(read_orders(str(EXAMPLE)), **{option: value})


@pytest.mark.parametrize("options", [("--time-unit", "0.001"), ("--time-unit", "1e9"), ("--time-unit", "1e300"),
                                     ("--discount-rate", "0.001"), ("--discount-rate", "1e9"),
                                     ("--discount-rate", "1e300")])
def test_extreme_model_options_give_predictions(tmp_path, options):
    # The fits are in the time unit's own scale (α is in time units), and the discounting
    # underflows to 0 instead of overflowing: no hang, no internal error.
    run = run_cli("predict", write_csv(tmp_path / "x.csv", TEN_CUSTOMERS), *options, "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    _sane(document)
    if options == ("--discount-rate", "1e300"):
        assert document["totals"]["clv"] < 1e-290  # each month divided by (1 + 1e300/12)^m


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_model_options_are_one_line(tmp_path, value):
    path = write_csv(tmp_path / "x.csv", TEN_CUSTOMERS)
    for flag in ("--time-unit", "--discount-rate"):
        run = run_cli("predict", path, flag, value)
        assert run.code == 2 and len(run.stderr.splitlines()) == 1 and flag in run.stderr, run.stderr


def test_the_holdout_dates_are_iso_dates(tmp_path):
    """SPEC §7: dates in JSON are ISO 8601 — the last day fitted on too, never a day number."""
    rows = ["a,2024-01-01,10", "a,2024-02-01,10", "a,2024-04-01,12", "b,2024-01-05,20", "b,2024-03-05,30",
            "b,2024-05-05,30", "c,2024-02-01,15", "c,2024-02-20,15", "d,2024-03-01,5", "e,2024-01-10,8",
            "e,2024-01-20,8", "e,2024-04-20,8", "f,2024-05-01,9"]
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_date,amount\n" + "\n".join(rows))
    run = run_cli("predict", path, "--holdout", "2024-03-15", "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["holdout"]["calibration_end"] == document["scoreboard"]["calibration_end"] == "2024-03-14"


def test_auto_says_why_it_fell_back_when_the_scoreboard_failed(tmp_path):
    """A holdout exists but no model could be fitted before it: the fallback's note says so,
    not that the period was too short for a holdout."""
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_date,amount\na,2024-01-01,10\na,2024-02-01,10\n"
                     "b,2024-01-05,20\nb,2024-03-05,30\nc,2024-02-01,15\nd,2024-03-01,5\n")
    run = run_cli("predict", path, "--model", "auto", "--format", "json")
    assert run.code == 0, run.stderr
    notes = run.json()["notes"]
    assert any(note.startswith("no scoreboard: ") for note in notes)
    assert notes[-1] == "--model auto chose BG/NBD: no scoreboard to compare the models on (above), so BG/NBD"


def test_day_counts_of_predict_are_whole_days():
    """purchase_span_days and age_days are days between dates: J of the golden example bought
    122 days apart (not 121.99999999999999, a float's round trip through time units)."""
    run = run_cli("predict", GOLDEN / "shop_small.csv", "--format", "json")
    assert run.code == 0, run.stderr
    table = run.json()["customers"]
    rows = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["rows"]}
    assert rows["J"]["purchase_span_days"] == 122 and rows["J"]["age_days"] == 213
    assert all(float(r["purchase_span_days"]).is_integer() and float(r["age_days"]).is_integer()
               for r in rows.values())
