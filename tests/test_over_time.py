"""SPEC §4 on hand-made frames: trend periods, period-over-period churn, cohorts."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from retainkit.cohorts import cohort_table, cohort_wide, trend_table
from retainkit.periods import Period, resolve_period
from tests.conftest import DATA, GOLDEN, need, orders_frame, run_cli, write_csv


def test_iso_weeks_across_a_year_boundary():
    rows = [("a", "2024-12-29", 10), ("b", "2024-12-30", 20), ("a", "2025-01-05", 5), ("c", "2025-01-06", 1)]
    t = trend_table(orders_frame(rows), Period(date(2024, 12, 23), date(2025, 1, 12)), "week")
    # Sunday 2024-12-29 closes 2024-W52; Monday 2024-12-30 opens 2025-W01 (ISO), which ends Sunday 01-05.
    assert t["period"].tolist() == ["2024-W52", "2025-W01", "2025-W02"]
    assert t["start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-12-23", "2024-12-30", "2025-01-06"]
    assert t["customers"].tolist() == [1, 2, 1] and t["revenue"].tolist() == [10.0, 25.0, 1.0]
    assert t["retention_rate"].tolist()[1:] == [1.0, 0.0]  # a came back in W01; a and b did not in W02


def test_a_month_with_no_orders_is_a_row_of_zeros_and_nulls():
    rows = [("a", "2024-01-10", 10), ("a", "2024-03-05", 30)]
    t = trend_table(orders_frame(rows), Period(date(2024, 1, 1), date(2024, 3, 31)), "month").set_index("period")
    february = t.loc["2024-02"]
    assert (february["customers"], february["orders"], february["revenue"], february["new_customers"]) == (0, 0, 0, 0)
    assert math.isnan(february["average_order_value"]) and math.isnan(february["repeat_customer_rate"])
    assert february["churn_rate"] == 1.0  # a was active in January and not in February
    assert math.isnan(t.loc["2024-03", "retention_rate"])  # nobody was active in February
    assert t.loc["2024-02", "revenue_change"] == -1.0 and math.isnan(t.loc["2024-03", "revenue_change"])


def test_period_over_period_churn():
    # May: a, b, c active. June: a and d. S = 3 (a, b, c), lost = 2 (b, c), retention 1/3.
    rows = [("a", "2024-05-01", 1), ("b", "2024-05-02", 1), ("c", "2024-05-03", 1), ("c", "2024-05-20", 1),
            ("a", "2024-06-01", 1), ("d", "2024-06-02", 1), ("b", "2024-06-03", -1, True)]
    t = trend_table(orders_frame(rows), Period(date(2024, 5, 1), date(2024, 6, 30)), "month").set_index("period")
    june = t.loc["2024-06"]
    assert (june["customers_start"], june["customers_lost"]) == (3, 2)  # b's refund is not an order
    assert june["retention_rate"] == pytest.approx(1 / 3) and june["churn_rate"] == pytest.approx(2 / 3)
    assert t.loc["2024-05", "repeat_customers"] == 1 and t.loc["2024-05", "repeat_customer_rate"] == pytest.approx(1 / 3)
    assert june["repeat_customer_rate_change"] == pytest.approx(-1 / 3)  # a difference, for rates
    assert june["customers_change"] == pytest.approx(2 / 3 - 1)  # relative, for counts


def test_history_before_from_counts_for_the_first_period():
    rows = [("a", "2024-04-20", 1), ("a", "2024-05-10", 1)]
    t = trend_table(orders_frame(rows), Period(date(2024, 5, 1), date(2024, 5, 31)), "month")
    assert t.loc[0, "customers_start"] == 1 and t.loc[0, "retention_rate"] == 1.0
    assert t.loc[0, "new_customers"] == 0


def test_cohort_with_a_gap_month():
    rows = [("a", "2024-01-05", 1), ("b", "2024-01-20", 1), ("a", "2024-03-01", 1), ("c", "2024-02-01", 1)]
    long = cohort_table(orders_frame(rows), Period(date(2024, 1, 1), date(2024, 3, 31)), "month")
    wide = cohort_wide(long).set_index("cohort")
    assert wide.loc["2024-01", "cohort_size"] == 2
    assert wide.loc["2024-01", ["0", "1", "2"]].tolist() == [1.0, 0.0, 0.5]  # a skipped February
    assert wide.loc["2024-02", "0"] == 1.0 and wide.loc["2024-02", "1"] == 0.0
    assert math.isnan(wide.loc["2024-02", "2"]) and math.isnan(wide.loc["2024-03", "1"])  # after --to: empty


def test_revenue_retention_with_a_refund():
    rows = [("a", "2024-01-05", 100), ("a", "2024-02-05", 80), ("a", "2024-02-10", -30, True),
            ("b", "2024-01-09", 100), ("b", "2024-03-01", 50)]
    long = cohort_table(orders_frame(rows), Period(date(2024, 1, 1), date(2024, 3, 31)), "month", "revenue")
    row = cohort_wide(long).set_index("cohort").loc["2024-01"]
    assert row[["0", "1", "2"]].tolist() == [1.0, 0.25, 0.25]  # (80 − 30) / 200 and 50 / 200
    counts = long[long["cohort"] == "2024-01"]["count"].tolist()
    assert counts == [200.0, 50.0, 50.0]


def test_trend_and_cohorts_cli_formats():
    run = run_cli("trend", GOLDEN / "shop_small.csv", "--every", "quarter", "--format", "json")
    document = run.json()
    assert document["columns"][:4] == ["period", "start", "end", "complete"]
    assert [r[0] for r in document["rows"]][-1] == "2024-Q4"
    csv_text = run_cli("cohorts", GOLDEN / "shop_small.csv", "--every", "quarter", "--layout", "wide", "-f", "csv").stdout
    assert csv_text.splitlines()[0] == "cohort,cohort_size,0,1,2,3,4,5,6,7,partial,partial_k"
    # The data starts 2023-02-14, inside 2023-Q1: that cohort is partial; to = 2024-12-31 ends Q4.
    assert csv_text.splitlines()[1] == "2023-Q1,2,1.0,0.0,1.0,0.0,0.5,0.0,0.0,0.5,true,"
    table = run_cli("cohorts", GOLDEN / "shop_small.csv", "--every", "quarter").stdout
    assert "2023-Q1" in table and "100%" in table
    assert "2024-Q4" in run_cli("trend", GOLDEN / "shop_small.csv", "--every", "quarter").stdout
    md = run_cli("trend", GOLDEN / "shop_small.csv", "--every", "quarter", "--format", "md").stdout.splitlines()
    assert md[0].startswith("| period | start | end | complete | partial | customers |")
    assert md[1].startswith("|---|---|---|---|---|---:|")
    assert any(line.startswith("| 2024-Q4 | 2024-10-01 | 2024-12-31 | true | false | 4 | 4 | 195.0 |") for line in md)
    assert "\\* partial period: 2023-Q1 — the data starts 2023-02-14, inside it" in md
    bad = run_cli("trend", GOLDEN / "shop_small.csv", "--every", "fortnight")
    assert bad.code == 2


@pytest.mark.slow
def test_cdnow_monthly_cohorts_match_duckdb():
    path = need(DATA / "cdnow" / "cdnow_master.csv")
    import duckdb

    document = run_cli("cohorts", path, "--amount", "dollar_value", "--every", "month", "--format", "json").json()
    cells = {(r[0], r[2]): r for r in document["rows"]}  # (cohort, k) -> row
    reference = duckdb.sql(f"""
        WITH o AS (SELECT customer_id AS c, strptime(CAST(date AS VARCHAR), '%Y%m%d')::DATE AS d
                   FROM read_csv('{path}', types={{'customer_id': 'VARCHAR'}}) WHERE dollar_value >= 0),
        first AS (SELECT c, date_trunc('month', min(d)) AS cohort FROM o GROUP BY c),
        active AS (SELECT DISTINCT o.c, f.cohort,
                          datediff('month', f.cohort, date_trunc('month', o.d)) AS k FROM o JOIN first f USING (c)),
        sizes AS (SELECT cohort, count(*) AS size FROM first GROUP BY cohort)
        SELECT strftime(a.cohort, '%Y-%m') AS cohort, s.size, a.k, count(*) AS active
        FROM active a JOIN sizes s USING (cohort) GROUP BY ALL ORDER BY 1, 3
    """).fetchall()
    assert {c for c, _, _, _ in reference} == {"1997-01", "1997-02", "1997-03"}
    last_k = {"1997-01": 17, "1997-02": 16, "1997-03": 15}  # up to 1998-06
    assert len(document["rows"]) == 18 * 18
    for cohort, size, k, active in reference:
        row = cells[(cohort, k)]
        assert row[1] == size and row[4] == active and row[5] == pytest.approx(active / size, abs=1e-12)
    seen = {(c, k) for c, _, k, _ in reference}
    for (cohort, k), row in cells.items():
        if cohort in last_k and k <= last_k[cohort] and (cohort, k) not in seen:
            assert row[4] == 0  # a month in which nobody of the cohort bought: 0, not missing
    assert all(np.isnan(r[5]) if r[5] is not None else True for (c, k), r in cells.items() if c == "1997-03" and k > 15)


def test_trend_ratios_by_hand():
    # 2024-Q1 of the golden file: E on 02-01 (90) and 02-20 (10), A on 03-20 (80).
    t = trend_table(orders_frame([("E", "2024-02-01", 90), ("E", "2024-02-20", 10), ("A", "2024-03-20", 80)]),
                    Period(date(2024, 1, 1), date(2024, 3, 31)), "quarter")
    assert t.loc[0, ["customers", "orders", "revenue"]].tolist() == [2, 3, 180.0]
    assert t.loc[0, "average_order_value"] == 60.0 and t.loc[0, "purchase_frequency"] == 1.5
    assert t.loc[0, "repeat_customer_rate"] == 0.5 and bool(t.loc[0, "complete"])


# Partial periods and coverage (SPEC §2, §4): worked by hand on tiny frames.

PARTIAL_ROWS = [("a", "2024-01-10", 10), ("b", "2024-01-20", 20), ("a", "2024-02-05", 10), ("c", "2024-02-10", 30),
                ("a", "2024-03-03", 10), ("b", "2024-03-15", 40), ("c", "2024-04-05", 5)]


def test_trend_marks_partial_periods_and_compares_only_whole_ones():
    frame = orders_frame(PARTIAL_ROWS)
    t = trend_table(frame, resolve_period(frame), "month").set_index("period")
    # The data starts 2024-01-10 (inside January); it ends 2024-04-05 (inside April, 5 of 30 days).
    assert t["partial"].tolist() == [True, False, False, True]
    assert t["complete"].tolist() == [False, True, True, False]
    february, march = t.loc["2024-02"], t.loc["2024-03"]
    # February against a partial January: nothing compared, not even S.
    assert pd.isna(february["customers_start"]) and pd.isna(february["customers_lost"])
    assert all(math.isnan(february[c]) for c in ("retention_rate", "churn_rate", "customers_change", "revenue_change"))
    # March against February: S = {a, c}, March active {a, b}: c lost.
    assert (march["customers_start"], march["customers_lost"]) == (2, 1)
    assert (march["retention_rate"], march["churn_rate"]) == (0.5, 0.5)
    assert march["customers_change"] == 0.0 and march["revenue_change"] == pytest.approx(50 / 40 - 1)
    assert march["repeat_customer_rate_change"] == 0.0
    # April is partial: its 1 customer is not a −50 % change, nor is its churn 100 %.
    assert t.loc["2024-04", "customers"] == 1 and math.isnan(t.loc["2024-04", "customers_change"])
    assert math.isnan(t.loc["2024-04", "churn_rate"])
    notes = t.attrs["notes"]
    assert "* partial period: 2024-01 — the data starts 2024-01-10, inside it" in notes
    assert "* partial period: 2024-04 — the analysis ends 2024-04-05, inside it (5 of 30 days)" in notes
    assert "2024-02 (2024-01: the data starts 2024-01-10, inside it)" in notes[-1]


def test_trend_first_row_needs_the_data_to_cover_the_period_before():
    rows = [("a", "2024-02-20", 1), ("a", "2024-03-05", 1), ("b", "2024-04-02", 1), ("b", "2024-04-30", 1)]
    frame = orders_frame(rows)
    t = trend_table(frame, resolve_period(frame, start=date(2024, 3, 1)), "month").set_index("period")
    # March and April are whole, but February (the period before --from) starts before the
    # data (02-20): a's February order is history, not a whole month to measure retention against.
    assert t["partial"].tolist() == [False, False]
    assert pd.isna(t.loc["2024-03", "customers_start"]) and math.isnan(t.loc["2024-03", "retention_rate"])
    assert t.loc["2024-04", "customers_start"] == 1 and t.loc["2024-04", "churn_rate"] == 1.0  # a, not back
    assert "2024-03 (2024-02: the data starts 2024-02-20, inside it)" in t.attrs["notes"][-1]
    # A hand-built period (data_start None) covers everything: the history counts.
    whole = trend_table(frame, Period(date(2024, 3, 1), date(2024, 4, 30)), "month")
    assert whole.loc[0, "retention_rate"] == 1.0


def test_trend_first_row_changes_against_the_whole_covered_period_before_from():
    rows = [("a", "2024-01-01", 10), ("b", "2024-01-10", 20), ("a", "2024-02-05", 30), ("c", "2024-02-06", 40),
            ("a", "2024-03-01", 5)]
    frame = orders_frame(rows)
    t = trend_table(frame, resolve_period(frame, start=date(2024, 2, 1), end=date(2024, 3, 31)), "month")
    # January (history before --from) is whole and covered: customers a and b, 2 orders, 30 of
    # revenue, both new. February: a and c, 2 orders, 70, c new.
    assert t["period"].tolist() == ["2024-02", "2024-03"]  # January only serves as "previous"
    february = t.iloc[0]
    assert (february["customers"], february["orders"], february["revenue"]) == (2, 2, 70.0)
    assert february["customers_change"] == 0.0 and february["orders_change"] == 0.0
    assert february["revenue_change"] == pytest.approx(70 / 30 - 1)
    assert february["average_order_value_change"] == pytest.approx(35 / 15 - 1)
    assert february["new_customers_change"] == pytest.approx(1 / 2 - 1)  # c against a and b
    assert february["retention_rate"] == 0.5  # of {a, b}, a is back
    # January's own retention needs December, which the data does not reach: no difference.
    assert math.isnan(february["retention_rate_change"])
    assert math.isnan(february["repeat_customers_change"])  # 0 repeat customers in January
    assert t.iloc[1]["customers_change"] == pytest.approx(1 / 2 - 1)
    assert not any("2024-02" in note for note in t.attrs["notes"])
    # --from inside February: the row is partial, nothing is compared with January.
    cut = trend_table(frame, resolve_period(frame, start=date(2024, 2, 2), end=date(2024, 3, 31)), "month")
    assert cut["period"].tolist() == ["2024-02", "2024-03"] and bool(cut.loc[0, "partial"])
    assert math.isnan(cut.loc[0, "customers_change"]) and math.isnan(cut.loc[0, "revenue_change"])


def test_cohorts_mark_the_period_cut_by_to_and_the_cohort_the_data_starts_inside():
    rows = [("a", "2024-01-10", 1), ("b", "2024-01-25", 1), ("a", "2024-02-03", 1), ("c", "2024-02-14", 1),
            ("a", "2024-03-02", 1), ("c", "2024-03-05", 1), ("d", "2024-03-08", 1)]
    frame = orders_frame(rows)
    long = cohort_table(frame, resolve_period(frame, end=date(2024, 3, 9)), "month")
    cells = {(r.cohort, r.k): r for r in long.itertuples()}
    # 2024-01 (a, b): the data starts inside January, so the whole cohort is partial.
    assert [cells[("2024-01", k)].value for k in range(3)] == [1.0, 0.5, 0.5]
    assert all(cells[("2024-01", k)].partial for k in range(3))
    # 2024-02 (c): February is whole; March (to = 03-09, 9 of 31 days) is partial; April is empty.
    assert (cells[("2024-02", 0)].partial, cells[("2024-02", 1)].partial, cells[("2024-02", 1)].value) == (
        False, True, 1.0)
    assert math.isnan(cells[("2024-02", 2)].value) and not cells[("2024-02", 2)].partial
    assert cells[("2024-03", 0)].partial and cells[("2024-03", 0)].value == 1.0  # d
    assert long.attrs["partial_period"] == "2024-03"
    wide = cohort_wide(long)
    assert wide["partial"].tolist() == [True, False, True] and wide["partial_k"].tolist() == [2, 1, 0]
    assert wide.attrs["notes"][0].startswith("* partial period: 2024-03 — the analysis ends 2024-03-09, inside it")
    assert wide.attrs["notes"][1].startswith("* partial cohort: 2024-01 — the data starts 2024-01-10, inside it")


def test_trend_and_cohorts_json_through_the_cli(tmp_path):
    path = write_csv(tmp_path / "o.csv", "customer_id,order_date,amount\n" + "\n".join(
        f"{c},{d},{a}" for c, d, a in PARTIAL_ROWS))
    document = run_cli("trend", path, "--format", "json").json()
    rows = [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]
    assert [(r["period"], r["partial"]) for r in rows] == [
        ("2024-01", True), ("2024-02", False), ("2024-03", False), ("2024-04", True)]
    assert [r["retention_rate"] for r in rows] == [None, None, 0.5, None]
    assert [r["customers_start"] for r in rows] == [None, None, 2, None]
    assert [r["customers_change"] for r in rows] == [None, None, 0.0, None]
    assert any(n.startswith("* partial period: 2024-04") for n in document["notes"])
    cohorts = run_cli("cohorts", path, "--format", "json").json()
    cells = {(r[0], r[2]): dict(zip(cohorts["columns"], r, strict=True)) for r in cohorts["rows"]}
    assert cells[("2024-02", 0)]["partial"] is False and cells[("2024-02", 2)]["partial"] is True  # April
    assert cells[("2024-02", 2)]["value"] == 1.0 and cells[("2024-02", 3)]["value"] is None  # c, then after to
    assert cells[("2024-01", 0)]["partial"] is True
    wide = run_cli("cohorts", path, "--format", "json", "--layout", "wide").json()
    assert wide["columns"][-2:] == ["partial", "partial_k"]
    assert [(r[0], r[-2], r[-1]) for r in wide["rows"]] == [
        ("2024-01", True, 3), ("2024-02", False, 2), ("2024-03", False, 1), ("2024-04", True, 0)]
    md = run_cli("cohorts", path, "--format", "md", "--layout", "wide").stdout
    assert "| 2024-02 | 1 | 1.0 | 0.0 | 1.0* |" in md and "\\* partial period: 2024-04" in md
    table = run_cli("trend", path).stdout
    assert "2024-04 *" in table and "* partial period: 2024-04" in table
