"""Invariants over random exports (hypothesis), on in-memory data through the library.

The command line and the file readers are covered end to end elsewhere; here every example
is built in memory, so that hundreds of them run in seconds:

* properties of the KPIs alone (bounds, coverage) run on the canonical orders frame, built
  directly as :func:`tests.conftest.orders_frame` does, through
  :func:`retainkit.pipeline.kpi_report` — and the document must conform to the ``kpis``
  JSON Schema;
* properties of normalisation (row order, files split or overlapping, rows without a
  customer, every row in one bucket) run on a :class:`retainkit.load.RawExport` built from
  Arrow tables — one :class:`retainkit.load.Source` per "file", the columns typed as the CSV
  reader types them — through :func:`retainkit.normalise.normalise` and
  :func:`retainkit.metrics.compute_kpis`.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

import jsonschema
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retainkit.config import AnalysisOptions, ReadOptions
from retainkit.load import RawExport, Source
from retainkit.metrics import KPIS, METRICS, compute_kpis
from retainkit.normalise import DataQuality, Normalised, normalise
from retainkit.periods import orders_after, resolve_period
from retainkit.pipeline import kpi_report
from retainkit.schema import resolve_mapping
from retainkit.schemas import load_schema
from tests.conftest import orders_frame

#: SPEC §3: the customer-count rates lie in [0, 1] (the registry must say so too).
COUNT_RATES = ("repeat_customer_rate", "returning_customer_rate", "retention_rate", "churn_rate",
               "annual_churn_rate", "referral_rate")
HEADERS = ("order_id", "customer_id", "order_date", "amount", "referred_by")
MAPPING = resolve_mapping(HEADERS)
START = date(2022, 1, 1)
KPIS_SCHEMA = jsonschema.Draft202012Validator(load_schema("kpis"))

#: One export row as the CSV reader hands it on: order id, customer (None = empty cell),
#: date, amount as text, referrer (None = empty cell).
Row = tuple[str, str | None, date, str, str | None]


#: Days spanned by the exports that are normalised: under a year, so that no order date
#: stands alone more than 365 days from the others (an implausible date, SPEC §1).
READ_DAYS = 300


#: One order: customer, day (offset from START), referrer, the cents of its 1–3 lines, and a
#: refund of it one time in ten (0 = refunded; days after the order; cents refunded).
ORDERS = st.lists(
    st.tuples(st.sampled_from("ABCDEFG"), st.integers(0, 1000), st.sampled_from([None, None, "A", "B"]),
              st.lists(st.integers(0, 50_000), min_size=1, max_size=3),
              st.tuples(st.integers(0, 9), st.integers(0, 60), st.integers(1, 5000))),
    min_size=1, max_size=25)


@st.composite
def exports(draw, days: int = 1000) -> list[Row]:
    """Rows of an export: orders of 1–3 lines each dated in the ``days`` (+ 60 for refunds)
    after START, some refunds (C-prefixed ids), some referrals. (One list draw: about twice
    as fast to generate as a draw per value.)"""
    rows: list[Row] = []
    for number, (customer, offset, referrer, lines, refund) in enumerate(draw(ORDERS)):
        day = START + timedelta(days=offset % (days + 1))
        rows += [(str(1000 + number), customer, day, f"{cents / 100:.2f}", referrer) for cents in lines]
        if refund[0] == 0:
            rows.append((f"C{1000 + number}", customer, day + timedelta(days=refund[1]), f"-{refund[2] / 100:.2f}",
                         None))
    return rows


def raw_export(*files: list[Row]) -> RawExport:
    """A :class:`RawExport` of one Arrow table per "file", as :func:`retainkit.load.load_export`
    combines them: text columns as strings, ISO dates as ``date32``, one ``Source`` each."""
    tables, sources, offset = [], [], 0
    for number, rows in enumerate(files):
        columns = dict(zip(HEADERS, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(HEADERS, ())
        tables.append(pa.table({
            field: pa.array(columns[header], pa.date32() if field == "order_date" else pa.string())
            for field, header in MAPPING.fields.items()
        }))
        sources.append(Source(f"part{number}.csv", "csv", offset, len(rows)))
        offset += len(rows)
    return RawExport(pa.concat_tables(tables), tuple(sources), MAPPING)


def read(*files: list[Row]) -> Normalised:
    """``files`` normalised as exports are (SPEC §1), from memory."""
    return normalise(raw_export(*files), ReadOptions())


def kpis_of(*files: list[Row]) -> dict[str, Any]:
    """Period, data quality and every KPI of ``files`` (the ``kpis`` document without its
    "act on this" part, which these properties do not look at)."""
    data = read(*files)
    period = resolve_period(data.orders)
    metrics = {k: None if isinstance(v, float) and math.isnan(v) else v
               for k, v in compute_kpis(data.orders, period).items()}
    return {"period": period.as_dict() | {"orders_after_to_ignored": orders_after(data.orders, period)},
            "data_quality": data.quality.as_dict(), "metrics": metrics}


def events_of(rows: list[Row]) -> Normalised:
    """The canonical orders frame of ``rows`` built directly (SPEC §1: the lines of an order
    summed on its date; a C-prefixed row a refund), without normalisation."""
    orders: dict[str, list] = {}
    refunds = []
    for order_id, customer, day, amount, referrer in rows:
        if order_id.startswith("C"):
            refunds.append((customer, day.isoformat(), float(amount), True, None))
        elif order_id in orders:
            orders[order_id][2] += float(amount)
        else:
            orders[order_id] = [customer, day.isoformat(), float(amount), False, referrer]
    return Normalised(orders_frame([tuple(o) for o in orders.values()] + refunds, referrals=True), DataQuality())


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


def test_the_registry_bounds_are_the_spec_s():
    assert all((KPIS[key].low, KPIS[key].high) == (0, 1) for key in COUNT_RATES)
    assert KPIS["churn_rate_net"].high == 1 and KPIS["churn_rate_net"].low is None


@common
@given(exports(), st.integers(0, 1000), st.sampled_from([None, 30, 90, 365]))
def test_rates_stay_in_bounds(rows, offset, window):
    document = kpi_report(events_of(rows), start=START + timedelta(days=offset // 2),
                          end=START + timedelta(days=offset + 200), analysis=AnalysisOptions(churn_window_days=window))
    metrics = document["metrics"]
    assert list(metrics) == list(METRICS) == list(KPIS)
    for key, spec in KPIS.items():  # the registry's bounds, which hold the SPEC's (test above)
        value = metrics[key]
        assert value is None or spec.low is None or value >= spec.low, (key, value)
        assert value is None or spec.high is None or value <= spec.high, (key, value)
    assert metrics["repeat_customers"] <= metrics["returning_customers"] <= metrics["customers"]
    assert metrics["new_customers"] <= metrics["customers"]
    KPIS_SCHEMA.validate(document)  # types, nulls and the schema's bounds (SPEC §7)


@common
@given(exports(READ_DAYS), st.randoms(use_true_random=False))
def test_row_order_is_irrelevant(rows, rnd: random.Random):
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a, b = kpis_of(rows), kpis_of(shuffled)
    assert same(a["metrics"], b["metrics"])
    assert same(a["data_quality"], b["data_quality"])


@common
@given(exports(READ_DAYS), st.integers(0, 100))
def test_one_file_split_in_two_changes_nothing(rows, cut):
    rows = list(dict.fromkeys(rows))  # a row repeated in a later file is overlap, not a duplicate
    cut = cut * len(rows) // 100
    whole = kpis_of(rows)
    split = kpis_of(rows[:cut], rows[cut:]) if 0 < cut < len(rows) else whole
    assert same(whole["metrics"], split["metrics"])
    assert same(whole["data_quality"], split["data_quality"])


@common
@given(exports(READ_DAYS), st.integers(1, 9999), st.integers(0, READ_DAYS))
def test_a_row_without_customer_changes_only_data_quality(rows, cents, day):
    base = kpis_of(rows)
    extra = kpis_of([*rows, ("9999", None, START + timedelta(days=day), f"{cents / 100:.2f}", None)])
    assert same(base["metrics"], extra["metrics"])
    assert base["period"] == extra["period"]
    assert extra["data_quality"]["missing_customer_rows"] == base["data_quality"]["missing_customer_rows"] + 1
    assert math.isclose(extra["data_quality"]["missing_customer_amount"],
                        base["data_quality"]["missing_customer_amount"] + cents / 100, abs_tol=1e-9)


@common
@given(exports(READ_DAYS))
def test_every_row_lands_in_one_bucket(rows):
    q = read(rows).quality
    assert q.rows == len(rows)
    assert q.rows == q.order_lines + q.refund_rows + q.missing_customer_rows + q.missing_date_rows


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
@given(exports(READ_DAYS), st.integers(0, 100), st.integers(0, 100))
def test_overlapping_files_change_no_kpi(rows, first_end, second_start):
    """SPEC §1: exports that overlap (rows[:b] and rows[a:], a ≤ b) give the KPIs of the whole."""
    rows = list(dict.fromkeys(rows))  # rows repeated within one file are duplicates, not overlap
    b = max(first_end * len(rows) // 100, 1)
    a = min(second_start * b // 100, b)
    whole, parts = kpis_of(rows), kpis_of(rows[:b], rows[a:])
    assert same(whole["metrics"], parts["metrics"])
    quality = parts["data_quality"]
    assert quality["rows"] == len(rows) + (b - a) and quality["overlap_rows"] == b - a
    assert quality["duplicate_rows"] == 0


BASE_KEYS = ("customers_start", "customers_lost", "retention_rate", "churn_rate", "churn_rate_net",
             "annual_churn_rate", "churn_alert", "avg_lifespan_years", "customer_lifetime_value")


@common
@given(exports(), st.integers(0, 1000), st.sampled_from([None, 30, 90, 180, 365, 500]))
def test_a_kpi_is_null_or_from_a_window_the_data_covers(rows, offset, window):
    """SPEC §2: a KPI from a window starting before the data's first order is null, with a note."""
    first_order = min(day for order_id, _, day, _, _ in rows if not order_id.startswith("C"))
    document = kpi_report(events_of(rows), end=first_order + timedelta(days=offset),
                          analysis=AnalysisOptions(churn_window_days=window))
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
