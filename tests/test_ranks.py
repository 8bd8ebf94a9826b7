"""Global ranks as cut values and sums that do not depend on their order (issue 13):
the same scores, VIPs and totals however the customers are split."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from retainkit.exact import exact_sum, to_float
from retainkit.ranks import order_statistics, rfm_positions, scores_from_cuts, vip_cut, vip_from_cut

values = st.lists(st.integers(-5, 40), min_size=1, max_size=60)
money = st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 2)), max_size=80)


def by_definition(column: np.ndarray, *, higher_is_better: bool) -> list[int]:
    """1 + ⌊5·p⌋ capped at 5, p = (customers with a strictly worse value) / n (SPEC §5)."""
    n = len(column)
    worse = [int((column < v).sum() if higher_is_better else (column > v).sum()) for v in column]
    return [min(5, 1 + 5 * w // n) for w in worse]


@given(values, st.booleans())
def test_scores_from_cut_values_are_the_rule_of_the_spec(raw, higher_is_better):
    column = np.array(raw)
    cuts = order_statistics(column, rfm_positions(len(column), higher_is_better=higher_is_better))
    got = scores_from_cuts(column, cuts, higher_is_better=higher_is_better).tolist()
    assert got == by_definition(column, higher_is_better=higher_is_better)


@given(st.lists(st.sampled_from([0.0, 5.0, 10.0, 10.0, 20.0, -3.0]), max_size=40),
       st.sampled_from([0.05, 0.1, 0.25, 0.5, 1.0]))
def test_the_vip_cut_takes_the_best_and_breaks_ties_by_the_lower_id(raw, top):
    revenue = np.array(raw)
    ids = np.array([f"c{i:03d}" for i in range(len(raw))], dtype=object)
    flags = vip_from_cut(revenue, ids, vip_cut(revenue, ids, top))
    positive = [i for i in range(len(raw)) if raw[i] > 0]
    count = math.ceil(Fraction(str(top)) * len(positive))
    expected = sorted(positive, key=lambda i: (-raw[i], ids[i]))[:count]
    assert sorted(np.flatnonzero(flags).tolist()) == sorted(expected)


@given(money, st.integers(1, 6))
def test_an_exact_sum_is_the_same_float_for_any_split(raw, parts):
    column = np.array(raw, dtype=np.float64)
    pieces = np.array_split(column[::-1], parts)
    split = sum((exact_sum(p) for p in pieces), Fraction(0))
    assert to_float(split) == to_float(exact_sum(column)) == math.fsum(raw) + 0.0
