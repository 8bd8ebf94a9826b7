"""Invariants over random exports (hypothesis), driven by the metric registry."""

from __future__ import annotations

import math
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import retainkit
from retainkit.metrics import METRICS

COUNT_RATES = ("repeat_customer_rate", "returning_customer_rate", "retention_rate", "churn_rate",
               "annual_churn_rate", "referral_rate")
HEADER = "order_id,customer_id,order_date,amount,referred_by"
START = date(2022, 1, 1)


@st.composite
def exports(draw):
    """CSV lines: orders of 1–3 lines each, some refunds (C-prefixed ids), some referrals."""
    n_orders = draw(st.integers(1, 25))
    lines = []
    for number in range(n_orders):
        customer = draw(st.sampled_from("ABCDEFG"))
        day = START + timedelta(days=draw(st.integers(0, 1000)))
        referrer = draw(st.sampled_from(["", "", "A", "B"]))
        for _ in range(draw(st.integers(1, 3))):
            cents = draw(st.integers(0, 50_000))
            lines.append(f"{1000 + number},{customer},{day},{cents / 100:.2f},{referrer}")
        if draw(st.integers(0, 9)) == 0:
            later = day + timedelta(days=draw(st.integers(0, 60)))
            lines.append(f"C{1000 + number},{customer},{later},-{draw(st.integers(1, 5000)) / 100:.2f},")
    return lines


def kpis_of(*files_lines: list[str], **kwargs):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, lines in enumerate(files_lines):
            path = Path(folder) / f"part{i}.csv"
            path.write_text("\n".join([HEADER, *lines]) + "\n")
            paths.append(str(path))
        return retainkit.kpi_report(retainkit.read_orders(paths), **kwargs)


def same(a: dict, b: dict) -> bool:
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(exports(), st.integers(0, 1000), st.sampled_from([None, 30, 90, 365]))
def test_rates_stay_in_bounds(lines, offset, window):
    document = kpis_of(lines, start=START + timedelta(days=offset // 2), end=START + timedelta(days=offset + 200),
                       analysis=retainkit.AnalysisOptions(churn_window_days=window))
    metrics = document["metrics"]
    assert set(metrics) == set(METRICS)
    for key in COUNT_RATES:
        assert metrics[key] is None or 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    assert metrics["churn_rate_net"] is None or metrics["churn_rate_net"] <= 1.0
    assert metrics["repeat_customers"] <= metrics["returning_customers"] <= metrics["customers"]
    assert metrics["new_customers"] <= metrics["customers"]


@common
@given(exports(), st.randoms(use_true_random=False))
def test_row_order_is_irrelevant(lines, rnd: random.Random):
    shuffled = lines[:]
    rnd.shuffle(shuffled)
    a, b = kpis_of(lines), kpis_of(shuffled)
    assert same(a["metrics"], b["metrics"])
    assert same(a["data_quality"], b["data_quality"])


@common
@given(exports(), st.integers(0, 100))
def test_one_file_split_in_two_changes_nothing(lines, cut):
    assume(len(set(lines)) == len(lines))  # a row repeated in a later file is overlap, not a duplicate
    cut = cut * len(lines) // 100
    whole = kpis_of(lines)
    split = kpis_of(lines[:cut], lines[cut:]) if 0 < cut < len(lines) else whole
    assert same(whole["metrics"], split["metrics"])
    assert same(whole["data_quality"], split["data_quality"])


@common
@given(exports(), st.integers(1, 9999), st.integers(0, 1000))
def test_a_row_without_customer_changes_only_data_quality(lines, cents, day):
    base = kpis_of(lines)
    extra = kpis_of([*lines, f"9999,,{START + timedelta(days=day)},{cents / 100:.2f},"])
    assert same(base["metrics"], extra["metrics"])
    assert base["period"] == extra["period"]
    assert extra["data_quality"]["missing_customer_rows"] == base["data_quality"]["missing_customer_rows"] + 1
    assert math.isclose(extra["data_quality"]["missing_customer_amount"],
                        base["data_quality"]["missing_customer_amount"] + cents / 100, abs_tol=1e-9)


@common
@given(exports())
def test_every_row_lands_in_one_bucket(lines):
    q = kpis_of(lines)["data_quality"]
    assert q["rows"] == len(lines)
    assert q["rows"] == q["order_lines"] + q["refund_rows"] + q["missing_customer_rows"] + q["missing_date_rows"]


@common
@given(st.one_of(st.lists(st.integers(-1000, 10**12), min_size=1, max_size=300),
                 st.lists(st.integers(0, 30), min_size=1, max_size=300),
                 st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300)))
def test_rfm_scores_follow_the_strict_percentile_rule(values):
    import numpy as np

    from retainkit.customers import rfm_scores

    array = np.array(values)
    n = len(array)
    best_high = [min(5, 1 + (5 * int((array < v).sum())) // n) for v in array]
    best_low = [min(5, 1 + (5 * int((array > v).sum())) // n) for v in array]
    assert rfm_scores(array, higher_is_better=True).tolist() == best_high
    assert rfm_scores(array, higher_is_better=False).tolist() == best_low


@common
@given(st.lists(st.tuples(st.integers(-3, 6), st.text("abc", min_size=1, max_size=3)), min_size=0, max_size=80,
                unique_by=lambda t: t[1]),
       st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0]))
def test_vip_flags_match_a_full_sort(rows, vip_top):
    from fractions import Fraction

    import numpy as np

    from retainkit.customers import vip_flags

    revenue = np.array([float(r) for r, _ in rows])
    ids = np.array([i for _, i in rows], dtype=object)
    positive = [k for k in range(len(rows)) if revenue[k] > 0]
    ranked = sorted(positive, key=lambda k: (-revenue[k], ids[k]))
    count = -(-Fraction(str(vip_top)) * len(positive) // 1)
    expected = np.zeros(len(rows), dtype=bool)
    expected[ranked[: int(count)]] = True
    assert vip_flags(revenue, ids, vip_top).tolist() == expected.tolist()


@common
@given(exports(), st.integers(0, 100), st.integers(0, 100))
def test_overlapping_files_change_no_kpi(lines, first_end, second_start):
    """SPEC §1: exports that overlap (lines[:b] and lines[a:], a ≤ b) give the KPIs of the whole."""
    assume(len(set(lines)) == len(lines))
    b = max(first_end * len(lines) // 100, 1)
    a = min(second_start * b // 100, b)
    whole, parts = kpis_of(lines), kpis_of(lines[:b], lines[a:])
    assert same(whole["metrics"], parts["metrics"])
    quality = parts["data_quality"]
    assert quality["rows"] == len(lines) + (b - a) and quality["overlap_rows"] == b - a
    assert quality["duplicate_rows"] == 0


BASE_KEYS = ("customers_start", "customers_lost", "retention_rate", "churn_rate", "churn_rate_net",
             "annual_churn_rate", "churn_alert", "avg_lifespan_years", "customer_lifetime_value")


@common
@given(exports(), st.integers(0, 1000), st.sampled_from([None, 30, 90, 180, 365, 500]))
def test_a_kpi_is_null_or_from_a_window_the_data_covers(lines, offset, window):
    """SPEC §2: a KPI from a window starting before the data's first order is null, with a note."""
    first_order = min(date.fromisoformat(line.split(",")[2]) for line in lines if not line.startswith("C"))
    document = kpis_of(lines, end=first_order + timedelta(days=offset),
                       analysis=retainkit.AnalysisOptions(churn_window_days=window))
    period, metrics = document["period"], document["metrics"]
    data_start = date.fromisoformat(period["data_start"])
    base_covered = data_start <= date.fromisoformat(period["base_window"]["from"])
    current_covered = data_start <= date.fromisoformat(period["current_window"]["from"])
    year_covered = data_start <= date.fromisoformat(period["to"]) - timedelta(days=364)
    if not base_covered:
        assert all(metrics[key] is None for key in BASE_KEYS) and period["notes"]
    else:
        assert metrics["customers_start"] is not None
    assert (metrics["customers_end"] is None) == (not current_covered)
    assert (metrics["annual_revenue_per_customer"] is None) == (not year_covered or metrics[
        "annual_revenue_per_customer"] is None)
    if not year_covered:
        assert metrics["annual_revenue_per_customer"] is None and metrics["customer_lifetime_value"] is None
    if window is None and base_covered:
        assert period["churn_window_days"] in (365, 180, 90, 30)


@st.composite
def amounts_in_cents(draw):
    return draw(st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=20))


def _grouped(units: int, separator: str) -> str:
    return f"{units:,}".replace(",", separator)


CONVENTIONS = {
    "us": lambda c: f"{'-' if c < 0 else ''}{_grouped(abs(c) // 100, ',')}.{abs(c) % 100:02d}",
    "european": lambda c: f"{'-' if c < 0 else ''}{_grouped(abs(c) // 100, '.')},{abs(c) % 100:02d}",
    "french": lambda c: f"{'-' if c < 0 else ''}{_grouped(abs(c) // 100, chr(0x202F))},{abs(c) % 100:02d} €",
    "swiss": lambda c: f"{'-' if c < 0 else ''}{_grouped(abs(c) // 100, chr(39))}.{abs(c) % 100:02d}",
    "accounting": lambda c: (f"(${_grouped(abs(c) // 100, ',')}.{abs(c) % 100:02d})" if c < 0
                             else f"${_grouped(c // 100, ',')}.{c % 100:02d}"),
    "plain": lambda c: f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}",
}


@common
@given(amounts_in_cents(), st.sampled_from(sorted(CONVENTIONS)))
def test_each_convention_reads_to_the_same_cents(cents, convention):
    """SPEC §1: with settling evidence (two decimals), every convention reads to the same cents."""
    import pyarrow as pa

    from retainkit.amounts import read_numbers

    texts = [CONVENTIONS[convention](c) for c in cents]
    values = read_numbers(pa.chunked_array([texts]), field="amount", decimal=None, locate=str).values
    assert [round(v * 100) for v in values] == cents


@common
@given(st.lists(st.integers(1, 10**7), min_size=1, max_size=20))
def test_dong_amounts_read_as_whole_dong(amounts):
    """SPEC §1: ₫ has no minor unit, so a lone mark groups thousands: 250.000 ₫ is 250000."""
    import pyarrow as pa

    from retainkit.amounts import read_numbers

    texts = [f"{_grouped(a * 1000, '.')} ₫" for a in amounts]
    values = read_numbers(pa.chunked_array([texts]), field="amount", decimal=None, locate=str).values
    assert values.tolist() == [a * 1000 for a in amounts]
