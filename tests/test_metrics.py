"""Every KPI of SPEC §3 on a tiny frame whose answers are worked out here by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from retainkit.metrics import METRICS, KpiOptions, compute_kpis
from retainkit.periods import Period, resolve_period
from tests.conftest import orders_frame, run_cli

# Period 2024-01-01..2024-12-31, churn window L = 365:
#   current window (to − L, to] = 2024-01-02..2024-12-31, base window = 2023-01-02..2024-01-01.
ROWS = [
    ("a", "2023-06-01", 100),               # a: history, in the base window
    ("a", "2024-03-01", 50),
    ("a", "2024-03-11", 30),
    ("b", "2024-05-01", 200),
    ("b", "2024-05-10", -50, True),         # refund of b, in the period
    ("c", "2023-02-01", 40),                # c: base window only -> lost
    ("d", "2024-12-31", 10, False, "a"),    # d: new, referred by a
    ("e", "2022-12-01", 20),                # e: before both windows
    ("e", "2024-02-01", -5, True),          # e: only a refund in the period (e is not in C)
]
PERIOD = Period(date(2024, 1, 1), date(2024, 12, 31), 365)


@pytest.fixture(scope="module")
def k():
    return compute_kpis(orders_frame(ROWS, referrals=True), PERIOD)


def test_volume(k):
    assert k["customers"] == 3  # a, b, d ordered in 2024
    assert k["orders"] == 4  # a: 2, b: 1, d: 1 (refunds are not orders)
    assert k["revenue"] == 235.0  # 50 + 30 + 200 − 50 + 10 − 5 (e's refund counts too)
    assert k["average_order_value"] == 235 / 4
    assert k["purchase_frequency"] == 4 / 3
    assert k["new_customers"] == 2  # b and d; a's first order was in 2023


def test_repeat(k):
    assert k["repeat_customers"] == 1  # only a has 2 orders inside 2024
    assert k["repeat_customer_rate"] == 1 / 3
    assert k["returning_customers"] == 1  # a (3 orders to date); b has one order and a refund
    assert k["returning_customer_rate"] == 1 / 3
    assert k["returning_revenue_share"] == 80 / 235


def test_avg_days_between_orders(k):
    gaps = [(date(2024, 3, 1) - date(2023, 6, 1)).days, 10]  # a's gaps ending in 2024: 274 and 10
    assert k["avg_days_between_orders"] == sum(gaps) / len(gaps) == 142.0


def test_top_20pct_revenue_share(k):
    # ⌈0.2·3⌉ = 1 customer: b with 200 − 50 = 150.
    assert k["top_20pct_revenue_share"] == 150 / 235


def test_churn_and_retention(k):
    assert k["customers_start"] == 2  # a (2023-06-01) and c (2023-02-01)
    assert k["customers_end"] == 3  # a, b, d
    assert k["customers_lost"] == 1  # c
    assert k["retention_rate"] == 0.5
    assert k["churn_rate"] == 0.5
    assert k["churn_rate_net"] == (2 - 3) / 2
    assert k["annual_churn_rate"] == 0.5  # L = 365: 1 − (1 − 0.5)^1
    assert k["churn_alert"] is True


def test_value(k):
    # Revenue in 2024-01-02..2024-12-31 = 235, customers with an order in it = 3.
    assert k["annual_revenue_per_customer"] == 235 / 3
    assert k["avg_lifespan_years"] == 2.0
    assert k["customer_lifetime_value"] == pytest.approx(235 / 3 * 2, abs=1e-12)
    assert k["referral_rate"] == 0.5  # of b and d, d's first order names a referrer


def test_margin_scales_clv():
    k = compute_kpis(orders_frame(ROWS), PERIOD, KpiOptions(margin=0.3))
    assert k["customer_lifetime_value"] == pytest.approx(235 / 3 * 2 * 0.3, abs=1e-12)
    assert math.isnan(k["referral_rate"])  # no referral column


def test_annual_churn_from_a_90_day_window():
    # L = 90: base 2024-07-05..2024-10-02, current 2024-10-03..2024-12-31.
    rows = [("x", "2024-08-01", 1), ("y", "2024-09-01", 1), ("y", "2024-11-01", 1),
            ("z", "2024-09-15", 1), ("w", "2024-07-10", 1)]
    k = compute_kpis(orders_frame(rows), Period(date(2024, 1, 1), date(2024, 12, 31), 90))
    assert k["customers_start"] == 4 and k["customers_lost"] == 3
    assert k["churn_rate"] == 0.75
    assert k["annual_churn_rate"] == pytest.approx(1 - 0.25 ** (365 / 90), abs=1e-15)


def test_alert_threshold_is_strict():
    rows = [("x", "2023-06-01", 1), ("y", "2023-06-01", 1), ("y", "2024-06-01", 1)]
    k = compute_kpis(orders_frame(rows), PERIOD, KpiOptions(churn_alert=0.5))
    assert k["annual_churn_rate"] == 0.5 and k["churn_alert"] is False


def test_zero_churn_gives_undefined_lifespan():
    rows = [("x", "2023-06-01", 1), ("x", "2024-06-01", 1)]
    k = compute_kpis(orders_frame(rows), PERIOD)
    assert k["churn_rate"] == 0.0
    assert math.isnan(k["avg_lifespan_years"]) and math.isnan(k["customer_lifetime_value"])


@pytest.mark.parametrize(("n", "top"), [(1, 1), (5, 1), (6, 2), (10, 2), (11, 3)])
def test_top_share_uses_integer_ceiling(n, top):
    rows = [(f"c{i:02d}", "2024-06-01", 2 ** i) for i in range(n)]
    k = compute_kpis(orders_frame(rows), PERIOD)
    best = sum(2 ** i for i in range(n - top, n))
    assert k["top_20pct_revenue_share"] == best / (2 ** n - 1)


def test_empty_period_gives_nulls_not_zero_division():
    k = compute_kpis(orders_frame([("x", "2020-01-01", 5)]), PERIOD)
    assert k["customers"] == 0 and k["orders"] == 0
    for key in ("average_order_value", "purchase_frequency", "repeat_customer_rate", "top_20pct_revenue_share"):
        assert math.isnan(k[key]), key


def test_same_day_orders_are_one_purchase_day_for_rhythm():
    # SPEC §3: two invoices on one day are one purchase: no gap at all, not a gap of 0 days.
    k = compute_kpis(orders_frame([("x", "2024-02-01", 1), ("x", "2024-02-01", 1)]), PERIOD)
    assert k["avg_days_between_orders"] is None or math.isnan(k["avg_days_between_orders"])
    # x buys on 02-01 (twice), 02-11 and 03-12: purchase days 3, gaps 10 and 30 -> 20 (not (0+10+30)/3).
    # y buys on 01-05 and 01-05: no gap. Mean over the two gaps: 20.
    rows = [("x", "2024-02-01", 1), ("x", "2024-02-01", 1), ("x", "2024-02-11", 1), ("x", "2024-03-12", 1),
            ("y", "2024-01-05", 1), ("y", "2024-01-05", 1)]
    assert compute_kpis(orders_frame(rows), PERIOD)["avg_days_between_orders"] == 20.0
    # With history: the gap from the last purchase day before the period counts, same-day ones don't.
    history = [("z", "2023-12-20", 1), ("z", "2023-12-20", 1), ("z", "2024-01-09", 1), ("z", "2024-01-09", 1)]
    assert compute_kpis(orders_frame(history), PERIOD)["avg_days_between_orders"] == 20.0


def test_orders_after_to_are_ignored():
    rows = [("x", "2024-06-01", 10), ("x", "2025-01-05", 99), ("y", "2025-02-01", 7, True)]
    k = compute_kpis(orders_frame(rows), PERIOD)
    assert k["orders"] == 1 and k["revenue"] == 10 and k["returning_customers"] == 0


def test_without_amounts_revenue_kpis_are_null():
    frame = orders_frame([("x", "2024-06-01", 10)]).drop(columns="amount")
    k = compute_kpis(frame, PERIOD)
    assert k["orders"] == 1 and math.isnan(k["revenue"]) and math.isnan(k["annual_revenue_per_customer"])


def test_default_period_ignores_refunds_and_window_follows_from():
    frame = orders_frame([("x", "2024-02-01", 1), ("x", "2024-03-01", -1, True), ("x", "2024-01-15", 1)])
    period = resolve_period(frame)
    assert (period.start, period.end, period.churn_window_days) == (date(2024, 1, 15), date(2024, 2, 1), 365)
    assert resolve_period(frame, start=date(2024, 1, 20)).churn_window_days == 13


def test_metrics_do_not_mutate_their_input():
    frame = orders_frame(ROWS, referrals=True)
    before = frame.copy()
    compute_kpis(frame, PERIOD)
    pd.testing.assert_frame_equal(frame, before)


def test_registry_lists_every_spec_key_once():
    assert len(METRICS) == 25
    assert list(METRICS)[:3] == ["customers", "orders", "revenue"]


def test_amounts_that_cancel_are_a_zero_without_a_sign(tmp_path):
    """0.3 − 0.1 − 0.2 is −2.8e−17 in binary floats: rounded to the cent it must be 0.0, not
    −0.0 (printed ``-0.00``); and 0 of a negative R is a share of 0.0 (SPEC §3)."""
    def positive_zero(value: float) -> bool:
        return value == 0 and math.copysign(1.0, value) == 1.0

    rows = [("a", "2024-01-01", 0.3), ("a", "2024-01-02", -0.1, True), ("a", "2024-01-03", -0.2, True)]
    k = compute_kpis(orders_frame(rows), Period(date(2024, 1, 1), date(2024, 1, 31)))
    assert positive_zero(k["revenue"]) and math.isnan(k["returning_revenue_share"])  # a share of R = 0: none
    path = tmp_path / "cancel.csv"
    path.write_text("order_id,customer_id,order_date,amount\n1,a,2024-01-01,0.3\n2,a,2024-01-02,-0.1\n"
                    "3,a,2024-01-03,-0.2\n4,b,2024-02-05,5\n")
    for command in ("customers", "trend"):
        run = run_cli(command, path, "--to", "2024-02-29", "--format", "csv")
        assert run.code == 0, run.stderr
        assert "-0.0" not in run.stdout, run.stdout
    refund_only = tmp_path / "refund-only.csv"
    refund_only.write_text("customer_id,order_date,amount\na,2024-01-01,100\nb,2024-01-02,100\na,2024-02-05,-40\n")
    run = run_cli("kpis", refund_only, "--from", "2024-02-01", "--to", "2024-02-28", "--format", "json")
    assert positive_zero(run.json()["metrics"]["returning_revenue_share"])  # no returning customer of R = −40


def test_coverage_notes_say_what_to_do_and_only_what_can_be_done():
    """SPEC §2: a null from a window the data does not cover comes with a note saying which
    window, where the data starts, and what to do — a --churn-window the data covers (never
    "at most 0 days": the option takes 1 or more) or the first --to that covers the window."""
    one_day = resolve_period(orders_frame([("a", "2024-01-01", 10)]))
    base, current, year = one_day.notes[1:]
    # L = 365, data from 2024-01-01: the base window (to − 2L, to − L] is covered from
    # to = 2024-01-01 + 729 days = 2025-12-30; the current one from + 364 days; the year too.
    assert base.endswith("; give a --to on or after 2025-12-30") and "churn-window" not in base
    assert current.endswith("; give --churn-window 1 or less, or a --to on or after 2024-12-30")
    assert year.endswith("; give a --to on or after 2024-12-30")
    four_days = resolve_period(orders_frame([("a", "2024-01-01", 10), ("b", "2024-01-04", 5)]),
                               churn_window_days=30)
    assert four_days.notes[0].endswith("; give --churn-window 2 or less, or a --to on or after 2024-02-29")


def test_revenue_shares_are_cents_over_cents():
    """0.1 + 0.2 is 0.30000000000000004 in binary floats; R is 0.30 to the cent. A share of
    R is never above 1 for that last bit: both sides are cents (SPEC §3: rates are fractions)."""
    k = compute_kpis(orders_frame([("a", "2024-01-01", 0.1), ("a", "2024-01-02", 0.2)]),
                     Period(date(2024, 1, 1), date(2024, 1, 31)))
    assert k["revenue"] == 0.3
    assert k["returning_revenue_share"] == 1.0 and k["top_20pct_revenue_share"] == 1.0
