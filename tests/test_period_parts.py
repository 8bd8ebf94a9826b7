"""The over-time reductions are additive over customer shards (SPEC §4, issue 13): any
split of the customers, parts added, gives the one-shard result — the local engine's."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retainkit.activity import (
    cohort_activity,
    cohort_parts,
    combine_cohorts,
    combine_periods,
    period_activity,
    period_parts,
)
from retainkit.exact import GroupSums
from retainkit.periods import Period
from tests.conftest import orders_frame

#: A: two orders in January, one in February. B: an order in December (history before
#: --from), one in February and a refund of it. C: two in March (0.1 + 0.2).
ROWS = [("A", "2024-01-05", 10.0), ("A", "2024-01-20", 5.0), ("A", "2024-02-10", 7.5),
        ("B", "2023-12-15", 3.0), ("B", "2024-02-02", 20.0), ("B", "2024-02-20", -4.0, True),
        ("C", "2024-03-03", 0.1), ("C", "2024-03-04", 0.2)]
PERIOD = Period(date(2024, 1, 1), date(2024, 3, 31))
SPLITS = ([["A", "B", "C"]], [["A"], ["B", "C"]], [["C"], ["A"], ["B"]], [["B"], [], ["A", "C"]])


def shard(orders: pd.DataFrame, customers: list[str]) -> pd.DataFrame:
    """The rows of ``customers``, their own categories (as a shard of Spark holds them)."""
    mine = orders[orders["customer_id"].isin(customers)]
    return mine.assign(customer_id=mine["customer_id"].cat.remove_unused_categories())


def split_trend(orders: pd.DataFrame, split: list[list[str]], every: str = "month"):
    return combine_periods([period_parts(shard(orders, s), PERIOD, every) for s in split], PERIOD, every,
                           has_amount=True)


def split_cohorts(orders: pd.DataFrame, split: list[list[str]], every: str = "month"):
    return combine_cohorts([cohort_parts(shard(orders, s), PERIOD, every) for s in split], PERIOD, every,
                           has_amount=True)


@pytest.mark.parametrize("split", SPLITS, ids=str)
def test_the_trend_of_a_hand_worked_example_from_any_split(split):
    """Jan: A (2 orders, new, repeat); B was active in Dec, not again. Feb: A and B, net
    7.5 + 20 − 4; of Jan's one customer (A), one retained; B is not new (first order in
    Dec). Mar: C, new and repeat, 0.1 + 0.2 rounded once; of Feb's two, none retained."""
    a = split_trend(orders_frame(ROWS), split)
    assert (a.first, a.last) == (648, 650)  # months since 1970-01
    assert a.customers.tolist() == [1, 2, 1]
    assert a.orders.tolist() == [2, 2, 2]
    assert a.revenue.tolist() == [15.0, 23.5, math.fsum([0.1, 0.2])]
    assert a.new_customers.tolist() == [1, 0, 1]
    assert a.repeat_customers.tolist() == [1, 0, 1]
    assert a.previous_customers.tolist() == [1, 1, 2]
    assert a.retained.tolist() == [0, 1, 0]


@pytest.mark.parametrize("split", SPLITS, ids=str)
def test_the_cohorts_of_a_hand_worked_example_from_any_split(split):
    """Cohorts: A in Jan, C in Mar; B's first order is before --from (no cohort). Feb has
    orders (B's), so it is a row, of size 0. Cells after --to are empty (NaN)."""
    c = split_cohorts(orders_frame(ROWS), split)
    nan = np.nan
    assert c.cohorts.tolist() == [648, 649, 650]
    assert c.size.tolist() == [1, 0, 1]
    np.testing.assert_array_equal(c.customers, [[1, 1, 0], [0, 0, nan], [1, nan, nan]])
    np.testing.assert_array_equal(c.orders, [[2, 1, 0], [0, 0, nan], [2, nan, nan]])
    np.testing.assert_array_equal(c.revenue, [[15.0, 7.5, 0], [0, 0, nan], [math.fsum([0.1, 0.2]), nan, nan]])


def test_revenue_is_the_exact_sum_rounded_once_whatever_the_split():
    """1e16 + 1 − 1e16 in one period: a float sum in row order loses the 1; the exact sum
    does not, from one shard or three."""
    rows = [("D", "2024-01-02", 1e16), ("E", "2024-01-03", 1.0), ("D", "2024-01-04", -1e16, True)]
    orders = orders_frame(rows)
    for split in ([["D", "E"]], [["D"], ["E"]], [["E"], [], ["D"]]):
        assert split_trend(orders, split).revenue.tolist() == [1.0, 0.0, 0.0]
        assert split_cohorts(orders, split).revenue[0, 0] == 1.0


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("ABCDEF"), st.integers(0, 120), st.integers(-500, 5000)),
                     min_size=1, max_size=30),
       shards=st.integers(1, 4), every=st.sampled_from(["week", "month", "quarter"]), seed=st.integers(0, 99))
def test_any_split_gives_the_one_shard_result(rows, shards, every, seed):
    """Random orders (negative amounts as refunds, some before --from) split at random."""
    start = date(2024, 1, 1)
    orders = orders_frame([(c, (pd.Timestamp(start) + pd.Timedelta(days=d)).date().isoformat(), cents / 100, cents < 0)
                           for c, d, cents in rows])
    period = Period(date(2024, 1, 20), date(2024, 4, 10), data_start=start)
    names = list(orders["customer_id"].cat.categories)
    home = np.random.default_rng(seed).integers(0, shards, len(names))
    split = [[n for n, h in zip(names, home, strict=True) if h == i] for i in range(shards)]
    whole_t, whole_c = period_activity(orders, period, every), cohort_activity(orders, period, every)
    parts_t = combine_periods([period_parts(shard(orders, s), period, every) for s in split], period, every,
                              has_amount=True)
    parts_c = combine_cohorts([cohort_parts(shard(orders, s), period, every) for s in split], period, every,
                              has_amount=True)
    for name in ("customers", "orders", "revenue", "new_customers", "repeat_customers", "previous_customers",
                 "retained"):
        np.testing.assert_array_equal(getattr(parts_t, name), getattr(whole_t, name))
    for name in ("cohorts", "size", "customers", "orders", "revenue"):
        np.testing.assert_array_equal(getattr(parts_c, name), getattr(whole_c, name))


FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.tuples(st.integers(0, 5), FLOATS), max_size=40), cut=st.integers(0, 40),
       spread=st.sampled_from([1, 10**9]))
def test_group_sums_are_the_correctly_rounded_sums_from_any_split(values, cut, spread):
    """Per group, math.fsum's float, from the whole or two parts added (groups a few apart:
    counted in bins; 10⁹ apart: sorted)."""
    groups = np.array([g * spread for g, _ in values], dtype=np.int64)
    numbers = np.array([v for _, v in values], dtype=np.float64)
    labels = np.arange(6, dtype=np.int64) * spread
    expected = [math.fsum(v for g, v in values if g == label) for label in range(6)]
    whole = GroupSums.of(numbers, groups)
    split = GroupSums.add([GroupSums.of(numbers[cut:], groups[cut:]), GroupSums.of(numbers[:cut], groups[:cut])])
    assert whole.at(labels).tolist() == split.at(labels).tolist() == expected
    assert GroupSums.from_lists(split.as_lists()).at(labels).tolist() == expected
