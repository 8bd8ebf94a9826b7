""""Act on this" (SPEC §5, §7): the summary ``kpis`` counts from its four columns alone
(:func:`retainkit.actions.action_columns`) is the one counted from the customer table; the
report's lists ranked among all customers are the whole table's rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from retainkit.actions import act_on_this, action_columns
from retainkit.customers import LEVEL_NAMES, CustomerOptions, customer_table
from retainkit.periods import Period
from retainkit.ranks import vip_cut, vip_from_cut
from retainkit.reductions import customer_windows
from tests.conftest import GOLDEN, orders_frame, run_cli

TO = date(2024, 12, 31)


def test_ties_at_the_vip_cut_give_the_same_count_and_revenue_as_the_table():
    # Revenue over 365 days 100, 50, 50, 10: the top half of four is two customers, d and one of
    # the two tied at 50 (the table: b, the lower id). Either way 2 VIPs with 150 of 210.
    orders = orders_frame([("d", "2024-12-01", 100), ("c", "2024-12-02", 50), ("b", "2024-12-03", 50),
                           ("a", "2024-12-04", 10)])
    windows = customer_windows(orders, Period(date(2024, 1, 1), TO))
    options = CustomerOptions(vip_top=0.5)
    table = customer_table(windows, options)
    assert table.loc[table["is_vip"], "customer_id"].tolist() == ["b", "d"]
    lean = action_columns(windows, options)
    assert int(lean["is_vip"].sum()) == 2 and lean.loc[lean["is_vip"], "revenue_365"].sum() == 150
    summary = act_on_this(lean)
    assert summary == act_on_this(table)
    assert summary["vip_customers"] == 2 and summary["vip_revenue_share_365"] == 150 / 210


def test_the_vip_cut_by_position_takes_as_many_tied_as_the_cut_by_id():
    revenue = np.array([5.0, 20.0, 5.0, 5.0, 0.0, 5.0])  # 5 positive; top 0.6 → 3: 20 and two of the four 5s
    ids = np.array(["f", "e", "d", "c", "b", "a"], dtype=object)
    by_id = vip_from_cut(revenue, ids, vip_cut(revenue, ids, 0.6))
    by_position = vip_from_cut(revenue, None, vip_cut(revenue, None, 0.6))
    assert by_id.tolist() == [False, True, False, True, False, True]  # the lower ids: a, c
    assert by_position.tolist() == [True, True, True, False, False, False]  # the first rows


rows = st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 900),
                          st.sampled_from([0.0, 10.0, 10.0, 25.5, 99.99, -10.0]), st.booleans()),
                min_size=1, max_size=60)


def _case(raw, *, amounts, top, inactive):
    """The windows of orders from (customer, days after 2022-06-01, amount, refund) and the
    thresholds: a period of 18 months from 2023, lost 150 days after inactive."""
    orders = orders_frame([(c, str(pd.Timestamp("2022-06-01") + pd.Timedelta(days=d))[:10], a, r and a > 0)
                           for c, d, a, r in raw])
    if not amounts:
        orders = orders.drop(columns="amount")
    windows = customer_windows(orders, Period(date(2023, 1, 1), date(2024, 6, 30)))
    return windows, CustomerOptions(inactive_days=inactive, lost_days=inactive + 150, vip_top=top)


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from([0.05, 0.2, 0.5, 1.0]), st.integers(30, 200), st.booleans())
def test_the_summary_from_its_columns_is_the_summary_from_the_table(raw, top, inactive, amounts):
    windows, options = _case(raw, amounts=amounts, top=top, inactive=inactive)
    assert act_on_this(action_columns(windows, options)) == act_on_this(customer_table(windows, options))


def test_golden_act_on_this_through_kpis_is_counted_from_the_expected_customers():
    expected = pd.read_csv(GOLDEN / "expected_customers.csv")  # worked by hand (tests/golden/README.md)
    actions = run_cli("kpis", GOLDEN / "shop_small.csv", "-f", "json").json()["act_on_this"]
    assert actions["at_risk_customers"] == int(expected["at_risk"].sum())
    assert actions["vip_customers"] == int(expected["is_vip"].sum())
    levels = expected["level"].value_counts()
    assert actions["customers_per_level"] == {LEVEL_NAMES[i]: int(levels.get(i, 0)) for i in range(5, -2, -1)}


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from([0.05, 0.2, 0.5, 1.0]), st.integers(30, 200), st.booleans())
def test_the_report_lists_rank_their_customers_among_all(raw, top, inactive, amounts):
    # The report names only customers at risk or VIP: their rows, ranked among every customer,
    # are the whole table's rows of them.
    windows, options = _case(raw, amounts=amounts, top=top, inactive=inactive)
    whole = customer_table(windows, options)
    listed = whole[whole["at_risk"] | whole["is_vip"].fillna(False).astype(bool)].reset_index(drop=True)
    pd.testing.assert_frame_equal(customer_table(windows, options, listed_only=True), listed)
